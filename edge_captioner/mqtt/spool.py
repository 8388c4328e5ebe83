"""Captions still queued when the daemon stops (the broker away) are kept on disk and delivered,
in order, by the next run: nothing captured is lost across a restart.

The spool is one JSON-lines file per device under the service's state directory: `mqtt.spool_dir`
if configured, else `$STATE_DIRECTORY` (systemd sets it for `StateDirectory=`; the first one if
several), else none (no spooling: the captions are counted and logged as before). It holds at most
`queue_limit` captions, each as it was queued (topic, payload, QoS, retain): the payload keeps its
`timestamp` and `seq`. The next run reads it at start, queues its captions ahead of any new one,
and removes it; captions for another base topic (the configuration changed) are left out.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

Spooled = tuple[str, bytes, int, bool]  # topic, payload, qos, retain


def spool_path(spool_dir: str | None, device_id: str) -> Path | None:
    directory = spool_dir or (os.environ.get("STATE_DIRECTORY") or "").split(":")[0]
    return Path(directory) / f"captions-{device_id}.jsonl" if directory else None


def save(path: Path, captions: list[Spooled], limit: int) -> int:
    """Write the newest `limit` captions (atomically); returns how many were written."""
    kept = captions[-limit:] if limit > 0 else []
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            for topic, payload, qos, retain in kept:
                out.write(json.dumps({"topic": topic, "payload": base64.b64encode(payload).decode(),
                                      "qos": qos, "retain": retain}) + "\n")
        tmp.replace(path)
    except OSError as exc:
        log.error("MQTT: cannot spool %d caption(s) to %s: %s", len(kept), path,
                  exc.strerror or exc)
        return 0
    return len(kept)


def load(path: Path, base: str) -> list[Spooled]:
    """The spooled captions for `base`, in order; the file is removed once read."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        log.error("MQTT: cannot read the caption spool %s: %s", path, exc)
        return []
    captions: list[Spooled] = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            caption = (entry["topic"], base64.b64decode(entry["payload"], validate=True),
                       int(entry["qos"]), bool(entry["retain"]))
        except (ValueError, KeyError, TypeError):
            log.warning("MQTT: %s:%d: not a spooled caption, skipped", path, number)
            continue
        if caption[0].startswith(base + "/") and caption[2] in (0, 1, 2):
            captions.append(caption)
    try:
        path.unlink()
    except OSError as exc:
        log.warning("MQTT: cannot remove the caption spool %s: %s", path, exc)
    return captions
