"""`edge-captioner run`: the daemon (service/daemon.py) until SIGTERM/SIGINT, at the configuration's
log level."""

from __future__ import annotations

import argparse
import logging

from ..service.daemon import Daemon, install_signal_handlers
from .support import check_journal_directory, chosen_config, set_log_level

log = logging.getLogger(__name__)


def cmd_run(args: argparse.Namespace) -> int:
    config = chosen_config(args)
    # the configuration's level, or more with -v / -vv on the command line
    verbose = {1: logging.INFO, 2: logging.DEBUG}.get(min(getattr(args, "verbose", 0), 2))
    level = logging.getLevelName(config.logging.level)
    set_log_level(min(level, verbose) if verbose else level)
    check_journal_directory(config, strict=False)
    daemon = Daemon(config)  # loads and validates the bundle before anything connects
    # Logged only once the bundle is valid: a bad one is exit 2 with ONE line on stderr (docs/contract.md).
    if config.source_path:
        log.info("configuration: %s", config.source_path)
    else:
        camera = config.cameras[0]
        log.info("the built-in demo (--demo): the bundled sample clip as camera %s, published to "
                 "%s:%d as device %s, Home Assistant discovery off", camera.name,
                 config.mqtt.host, config.mqtt.port, config.device_id)
    install_signal_handlers(daemon)
    return daemon.run()
