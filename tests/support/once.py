"""Build a session fixture's files once per test run, however many xdist workers ask for them.

Each xdist worker is its own process with its own session, so a session fixture that trains a
model would train it once per worker. The workers share the parent of their base temp folders;
the first to ask builds there under a file lock (`filelock`, as pytest-xdist's documentation
does it), the others wait for it and read the same files. What a builder makes must therefore be
read-only to the tests, as the toolkit's trained models and converted bundles are.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

DONE = ".built"


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every worker of this run sees: the parent of the worker's base temp under
    xdist, the base temp itself without it."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str,
                 build: Callable[[Path], object]) -> Path:
    """`build(folder)` run by the first worker to ask; every worker gets `folder`. A build that
    failed (or a worker killed while building) leaves no DONE mark, so the next asker starts
    it again from an empty folder."""
    folder = shared_root(tmp_path_factory) / f"once-{name}"
    with FileLock(str(folder) + ".lock"):
        if not (folder / DONE).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / DONE).touch()
    return folder
