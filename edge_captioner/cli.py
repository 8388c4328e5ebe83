"""`edge-captioner`: the device-side console script.

Sub-commands are registered here as the runtime grows (caption, run, check-config, bench, watch:
see SPEC.md); each lives in its own module and only this file knows about argparse.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import __version__
from .cli_support import add_common_options, run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-captioner",
        description="On-device image captioning: camera frames -> int8 TFLite -> MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_common_options(parser)
    parser.add_subparsers(title="commands", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("edge-captioner", build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
