"""`edge-captioner check-config [--config FILE]`: validate and print the resolved configuration.

The output is the configuration the daemon would run with, as YAML (defaults filled in, paths made
absolute, client_id resolved, the password masked), preceded by a comment saying where it came
from. It loads back as the same configuration, so it doubles as a starting point for a new file.
"""

from __future__ import annotations

import argparse
import os
import sys

import yaml

from ..config import PASSWORD_ENV, Config, to_dict
from .support import check_journal_directory, chosen_config


def origin_comment(config: Config) -> str:
    if config.source_path:
        return f"# edge-captioner configuration from {config.source_path}"
    return ("# edge-captioner built-in demo configuration (--demo): the bundled sample clip, the "
            "broker on this machine, no Home Assistant discovery")


def render(config: Config) -> str:
    lines = [origin_comment(config)]
    if config.mqtt.password is not None and os.environ.get(PASSWORD_ENV):
        lines.append(f"# mqtt.password: from ${PASSWORD_ENV}")
    body = yaml.safe_dump(to_dict(config, masked=True), sort_keys=False, allow_unicode=True)
    return "\n".join(lines) + "\n" + body


def cmd_check_config(args: argparse.Namespace) -> int:
    """Check it as the service will read it: the configuration, then the bundle loaded as `run`
    loads it (manifest, hashes, every graph tried once, the perception graphs), so that what
    would stop the daemon stops here, with the same one line and exit 2."""
    from ..model.captioner import Captioner

    config = chosen_config(args)
    check_journal_directory(config, strict=True)
    Captioner.from_config(config.model)
    sys.stdout.write(render(config))
    return 0
