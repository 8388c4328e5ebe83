"""Where the history store and its snapshots live: `history.path`, else `history.sqlite3` in the
state directory as the caption journal finds it (`mqtt.spool_dir`, else `$STATE_DIRECTORY`)."""

from __future__ import annotations

import os
from pathlib import Path

FILE_NAME = "history.sqlite3"
SNAPSHOTS = "snapshots"
# the console is not run by systemd: it looks where the unit's StateDirectory= keeps the store
SERVICE_STATE_DIR = "/var/lib/edge-captioner"


def state_directory(spool_dir: str | None) -> str | None:
    return spool_dir or (os.environ.get("STATE_DIRECTORY") or "").split(":")[0] or None


def history_path(path: str | None, spool_dir: str | None, *, console: bool = False) -> Path | None:
    """The store's file; None when there is nowhere to keep it (history is then off). With
    `console`, the service's state directory is the last place looked."""
    if path:
        return Path(path)
    directory = state_directory(spool_dir) or (SERVICE_STATE_DIR if console else None)
    return Path(directory) / FILE_NAME if directory else None


def snapshot_directory(store: Path) -> Path:
    return store.parent / SNAPSHOTS
