"""Shared plumbing for the console scripts: logging set-up and the exit-code contract.

docs/contract.md: 0 success; 2 bad input with ONE clear line on stderr and no traceback; 1 an unexpected
runtime failure. Every command of both console scripts runs through `run_command`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from ..errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, BadInput
from ..sources.image_header import MAX_PIXELS_CEILING, MAX_SIDE

log = logging.getLogger(__name__)


def setup_logging(verbosity: int = 0) -> None:
    """Log to stderr without timestamps: journald adds its own when run under systemd.

    Warnings and errors by default, info with -v, debug with -vv (the daemon then takes its
    configuration's logging.level). OpenCV's and FFmpeg's own logs (a few lines on every failed
    reconnect, ours says it once) are silenced unless -vv; set before cv2 is imported, which the
    commands do lazily, and never over what the environment already says."""
    logging.basicConfig(
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
        force=True,
    )
    set_log_level(max(logging.WARNING - 10 * verbosity, logging.DEBUG))
    if verbosity < 2:
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    guard_opencv()


def guard_opencv() -> None:
    """OpenCV's own limit on the size of an image it decodes, checked after its header read and
    before it allocates (default 2^30 pixels: 3 GB as BGR): at most the largest pixel limit a
    camera or `caption --max-pixels` may set. Defence in depth behind sources/image_header.py,
    and the only check before decoding for formats that module does not read (BMP, WebP, TIFF).
    OpenCV reads it once, when cv2 is imported: before that, which the commands do lazily."""
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS_CEILING))


def set_log_level(level: int) -> None:
    """What reaches stderr. The level is set on the stderr handler as well as on the root logger,
    so that a module that logs more to a file of its own (`train`'s train.log) does not print it."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        handler.setLevel(level)


def one_line(message: object) -> str:
    """Collapse a message to a single line (the contract for exit-2 errors)."""
    return " ".join(str(message).split())


def run_command(
    prog: str,
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
) -> int:
    """Parse argv, run the selected sub-command's `func(args)`, map errors to exit codes."""
    args = parser.parse_args(argv)
    args.verbose = getattr(args, "verbose", 0)  # absent: no -v anywhere (see add_common_options)
    setup_logging(args.verbose)
    func: Callable[[argparse.Namespace], int | None] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(func(args) or EXIT_OK)
    except BadInput as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `edge-captioner caption ... | head`: the reader went away; not an error of ours.
        return EXIT_OK
    except ModuleNotFoundError as exc:
        extra = OPTIONAL_MODULES.get((exc.name or "").split(".")[0])
        if extra is None:
            return _unexpected(prog, args, exc)
        print(f"{prog}: error: this command needs the {extra} (missing Python module "
              f"{exc.name}): install edge-captioner[{extra.split()[0]}]", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - the last line of defence for exit code 1
        return _unexpected(prog, args, exc)


# Modules of the optional extras, and which extra brings them: a command that needs one on a
# machine without it is told what to install (exit 2), not given a ModuleNotFoundError (exit 1).
OPTIONAL_MODULES = {
    "tensorflow": "convert extra (the workstation toolkit)",
    "keras": "convert extra (the workstation toolkit)",
    "pycocoevalcap": "convert extra (the workstation toolkit)",
    "skimage": "convert extra (the workstation toolkit)",
    "sklearn": "convert extra (the workstation toolkit)",
    "matplotlib": "convert extra (the workstation toolkit)",
}


def _unexpected(prog: str, args: argparse.Namespace, exc: BaseException) -> int:
    log.debug("unexpected failure", exc_info=exc)
    print(
        f"{prog}: unexpected failure: {type(exc).__name__}: {one_line(exc)} "
        "(run with -v for the traceback)",
        file=sys.stderr,
    )
    if getattr(args, "verbose", 0):
        import traceback

        traceback.print_exception(exc)
    return EXIT_FAILURE


def add_common_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a sub-command's parser must not reset a -v given before the sub-command
    # (`edge-captioner -v run`); run_command reads a missing one as 0
    parser.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS,
        help="more logging: info (-vv for debug, and tracebacks of unexpected failures)"
    )


def pixel_limit(text: str) -> int:
    """argparse type: a pixel limit, 1 up to MAX_PIXELS_CEILING."""
    value = positive_int(text)
    if value > MAX_PIXELS_CEILING:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_PIXELS_CEILING} "
                                         f"({MAX_SIDE}x{MAX_SIDE}), got {value}")
    return value


def chosen_config(args: argparse.Namespace):
    """The configuration a command was given: `--demo`'s, or the file (load_config's rules)."""
    from ..config import demo_config, load_config

    if getattr(args, "demo", False):
        return demo_config()
    return load_config(getattr(args, "config", None))


def positive_int(text: str) -> int:
    """argparse type: a whole number above zero."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def lazy_command(module: str, func: str) -> Callable[[argparse.Namespace], int]:
    """A sub-command run by `module.func(args)`, imported only when chosen: `--help` and light
    commands do not pay for heavy imports (TensorFlow, the interpreter)."""

    def call(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), func)(args)

    return call


def check_journal_directory(config, *, strict: bool) -> None:
    """The caption journal's directory (`mqtt.spool_dir`, else $STATE_DIRECTORY) must be writable:
    BadInput (exit 2, one line) when it is not; a full or read-only disk is only a warning unless
    `strict` (check-config), as the daemon then runs with its captions in memory."""
    from ..mqtt import journal

    path = journal.journal_path(config.mqtt.spool_dir, config.device_id)
    if path is None:
        return
    error = journal.check_writable(path.parent)
    if error is None:
        return
    why = f"{path.parent}: {error.strerror or error}"
    source = "mqtt.spool_dir" if config.mqtt.spool_dir else "$STATE_DIRECTORY"
    if strict or error.errno not in journal.DISK_TROUBLE:
        raise BadInput(f"{source}: cannot keep the caption journal in {why}")
    log.warning("%s: cannot keep the caption journal in %s; captions are kept in memory only",
                source, why)
