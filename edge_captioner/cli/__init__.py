"""The console: `edge-captioner` and its commands (docs/contract.md "Commands").

Only this module knows argparse; each command lives in a module of its own, imported when run:
run.py, caption.py, watch.py, check_config.py, bench.py, install_service.py, history.py; support.py holds the
logging set-up and the exit-code contract.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import __version__
from ..bundle.choices import DELEGATES, FALLBACKS, RUNTIME_CHOICES
from ..sources.image_header import DEFAULT_MAX_PIXELS
from .support import add_common_options, lazy_command, pixel_limit, positive_int, run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-captioner",
        description="On-device image captioning: camera frames -> int8 TFLite -> MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_common_options(parser)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    caption = sub.add_parser(
        "caption",
        help="caption images or videos",
        description="Caption images (or the first frame of a video, or every Nth frame with "
        "--every). Directories are walked. One line per file, or one JSON object per line with "
        "--json. Unreadable files are reported and skipped; the exit code is then 2.",
    )
    add_common_options(caption)
    caption.add_argument("paths", nargs="+", metavar="PATH")
    _model_options(caption)
    caption.add_argument("--every", type=positive_int, metavar="N",
                         help="videos: caption every Nth frame instead of the first only")
    caption.add_argument("--place", metavar="TEXT",
                         help="where the camera looks, as a camera's `place` in config.yaml "
                         "and checked as it is (one short line); grounded bundles: front_door, "
                         "living_room, kitchen, driveway, backyard go into the caption, other "
                         "text comes before it")
    caption.add_argument("--json", action="store_true", help="one JSON object per line")
    caption.add_argument("--max-pixels", type=pixel_limit, default=DEFAULT_MAX_PIXELS, metavar="N",
                         help="refuse images (by their header, before decoding) and videos whose "
                         f"frames have more pixels than this (default {DEFAULT_MAX_PIXELS}, "
                         "4096x4096, as a camera's max_frame_pixels)")
    caption.add_argument("--explain", action="store_true",
                         help="after each caption: what the real-world detector and classifier "
                         "found (bundles with them), and for attention bundles the strongest "
                         "attention cell and image region per word (an \"attention\" list with "
                         "--json)")
    caption.set_defaults(func=lazy_command("edge_captioner.cli.caption", "cmd_caption"))

    bench = sub.add_parser(
        "bench",
        help="latency of encoder, one decoder step and a whole caption (p50/p95)",
        description="Benchmark a bundle on frames of the bundled sample clip (or --images): "
        "encoder, one decoder step, a whole caption; p50/p95, captions per second, peak RSS. "
        "Give --bundle twice to compare (e.g. int8 and float32).",
    )
    add_common_options(bench)
    bench.add_argument("--bundle", action="append", metavar="DIR",
                       help="bundle directory or name (default: the shipped English bundle); "
                       "repeat to compare")
    bench.add_argument("--runs", type=positive_int, default=100)
    bench.add_argument("--warmup", type=positive_int, default=10)
    bench.add_argument("--images", metavar="DIR",
                       help="benchmark on the images of this folder instead (the first 200 by "
                            "name, decoded one at a time; --runs cycles through them)")
    bench.add_argument("--runtime", default="auto",
                       choices=RUNTIME_CHOICES)
    bench.add_argument("--threads", type=positive_int, default=1)
    bench.add_argument("--beam", type=positive_int, default=1)
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(func=lazy_command("edge_captioner.cli.bench", "cmd_bench"))

    run = sub.add_parser(
        "run",
        help="the daemon: cameras -> captions -> MQTT, until SIGTERM/SIGINT",
        description="Capture from the configured cameras, caption changed scenes and publish "
        "the captions over MQTT until SIGTERM or SIGINT. Without --config: $EDGE_CAPTIONER_CONFIG, "
        "else /etc/edge-captioner/config.yaml; with none of them it refuses (exit 2). --demo runs "
        "the built-in demo instead.",
    )
    add_common_options(run)
    _config_options(run)
    run.set_defaults(func=lazy_command("edge_captioner.cli.run", "cmd_run"))

    check = sub.add_parser(
        "check-config",
        help="validate and print the resolved configuration (secrets masked)",
        description="Validate a configuration file and print the configuration the daemon would "
        "run with, as YAML, secrets masked. Without --config: $EDGE_CAPTIONER_CONFIG, else "
        "/etc/edge-captioner/config.yaml; with none of them, exit 2 as `run` would. --demo: the "
        "built-in demo's configuration. Exit 2 with one line naming the key on any error.",
    )
    add_common_options(check)
    _config_options(check)
    check.set_defaults(func=lazy_command("edge_captioner.cli.check_config", "cmd_check_config"))

    service = sub.add_parser(
        "install-service",
        help="install the systemd service (unit, example config, system user): run as root",
        description="Write /etc/systemd/system/edge-captioner.service running THIS environment's "
        "edge-captioner, /etc/edge-captioner/config.yaml (the commented example, unless one "
        "exists), and create the edge-captioner system user; then say what to edit and how to "
        "start it. --root DIR writes the files under DIR instead and creates no user.",
    )
    add_common_options(service)
    service.add_argument("--root", metavar="DIR", help="install under DIR (a scratch root)")
    service.set_defaults(func=lazy_command("edge_captioner.cli.install_service",
                                           "cmd_install_service"))

    watch = sub.add_parser(
        "watch",
        help="print captions and camera states from the broker as they arrive",
        description="Subscribe to the configured broker (same host, credentials and TLS as the "
        "daemon) and print one line per caption, camera state and device status, as they arrive; "
        "retained (last known) values first. Until Ctrl-C / SIGTERM (exit 0). An unreachable "
        "broker is retried; a refused login is an error (exit 2).",
    )
    add_common_options(watch)
    _config_options(watch)
    watch.add_argument("--json", action="store_true",
                       help="one JSON object per line (a caption's own JSON, plus its topic)")
    watch.set_defaults(func=lazy_command("edge_captioner.cli.watch", "cmd_watch"))

    history = sub.add_parser(
        "history",
        help="search the board's caption and event history",
        description="Answer from the history the daemon keeps (docs/history.md): captions by "
        "kind and text, events by type, kind and text, newest first, then one sentence that "
        "answers. 'When did the dog last go out?': history --kind dog --event left --last. "
        "TEXT matches the caption or event sentence (English or Chinese). Times are local. "
        "Reads the store of --config's state directory (or --db); run it as the service's user.",
    )
    add_common_options(history)
    history.add_argument("text", nargs="*", metavar="TEXT",
                         help="words that must all appear in the caption (or event sentence)")
    history.add_argument("--kind", action="append", metavar="KIND",
                         help="a kind the caption states or the event involves (dog, person, "
                         "box, car, ...; 狗 too); repeat for several")
    history.add_argument("--event", metavar="TYPE",
                         help="search events of this type: arrived, left, passed_by, box_left, "
                         "box_taken, possible_fall, lingering, or any")
    history.add_argument("--camera", metavar="NAME")
    history.add_argument("--since", metavar="WHEN",
                         help="24h, 30m, 7d, 2w, today, yesterday, or a date/time "
                         "(2026-12-05T08:00, local)")
    history.add_argument("--until", metavar="WHEN", help="as --since")
    history.add_argument("--last", action="store_true", help="the newest match only")
    history.add_argument("--limit", type=positive_int, default=20, metavar="N",
                         help="at most N rows (default 20)")
    history.add_argument("--json", action="store_true",
                         help="one JSON object: the question, the rows, the total and the sentence")
    history.add_argument("--db", metavar="FILE",
                         help="the store itself, instead of the configuration's")
    _config_options(history)
    history.set_defaults(func=lazy_command("edge_captioner.cli.history", "cmd_history"))
    return parser


def _config_options(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--config", metavar="FILE",
                       help="configuration file (YAML); without it: $EDGE_CAPTIONER_CONFIG, else "
                       "/etc/edge-captioner/config.yaml")
    which.add_argument("--demo", action="store_true",
                       help="the built-in demo: the shipped model on the bundled sample clip, "
                       "published to the broker on this machine (127.0.0.1:1883) as device "
                       "edge-captioner-demo, without Home Assistant discovery")


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", default="default",
                        help="bundle directory, or default / default-en / default-zh (shipped)")
    parser.add_argument("--beam", type=positive_int, default=1, help="beam width (1 = greedy)")
    parser.add_argument("--runtime", default="auto",
                        choices=RUNTIME_CHOICES)
    parser.add_argument("--threads", type=positive_int, default=1)
    parser.add_argument("--delegate", choices=DELEGATES, default="none",
                        help="edgetpu: run the encoder on a Coral Edge TPU")
    parser.add_argument("--fallback", choices=FALLBACKS, default="none",
                        help="cpu: if the Edge TPU cannot be used, run on the CPU (with a warning)")


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("edge-captioner", build_parser(), argv)

