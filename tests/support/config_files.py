"""config.yaml documents for tests: a valid BASE, changed by dotted paths, written to a folder."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

SECRET = "s3cret-Pa55word-do-not-print"

BASE = {
    "device_id": "test-house",
    "mqtt": {"host": "127.0.0.1", "port": 1883, "username": "cam", "discovery": {"enabled": True}},
    "model": {"bundle": "default", "threads": 1},
    "cameras": [{"name": "porch", "source": "sample", "interval_s": 1.0}],
    "logging": {"level": "INFO"},
}


def write(folder: Path, document, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False))
    return path


def patched(**changes) -> dict:
    """BASE with dotted-path changes: patched(**{"mqtt.port": 0, "cameras.0.name": "x"}); a value of
    DELETE removes the key."""
    document = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        key = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        elif isinstance(node, list) and key == len(node):
            node.append(value)
        else:
            node[key] = value
    return document


DELETE = object()
