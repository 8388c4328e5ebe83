"""Commands in: `<base>/<camera>/set` payloads parsed into a Command, strictly (docs/contract.md "MQTT").

The payload is untrusted (anyone with write access to the topic): parse_command accepts exactly
the documented forms and refuses everything else with a one-line ValueError.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

ACTIONS = ("caption_now", "pause", "resume", "set_interval")
MAX_COMMAND_BYTES = 4096  # a command is a tiny JSON object; anything bigger is not parsed at all
# The range of an interval command, which Home Assistant's interval number declares (discovery.py)
# and the command parser enforces: here and nowhere else. 0.1 s is the number's step.
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 86400.0


@dataclass
class Command:
    camera: str
    action: str  # "caption_now" | "pause" | "resume" | "set_interval"
    interval_s: float | None = None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """json's object_pairs_hook: an object that names a key twice is refused (which value would
    win is the parser's choice, not the sender's)."""
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def parse_command(payload: bytes, camera: str = "") -> Command:
    """Parse the payload of `<base>/<camera>/set`; raise ValueError (one line) if it is not one of
    {"action": "caption_now"|"pause"|"resume"}, {"interval_s": N} or
    {"action": "set_interval", "interval_s": N}, with MIN_INTERVAL_S <= N <= MAX_INTERVAL_S (0.1
    and 86400). Nothing else is accepted: no other keys, no key twice, no NaN or infinity, no
    booleans as numbers."""
    if not isinstance(payload, bytes | bytearray):
        raise ValueError(f"expected bytes, got {type(payload).__name__}")
    if len(payload) > MAX_COMMAND_BYTES:
        raise ValueError(f"payload too large ({len(payload)} bytes, at most {MAX_COMMAND_BYTES})")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("payload is not UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ValueError("payload is nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError and our NaN/Infinity refusal
        raise ValueError(f"payload is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"action", "interval_s"})
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))}")
    action = data.get("action", "set_interval" if "interval_s" in data else None)
    if action is None:
        raise ValueError('expected "action" or "interval_s"')
    if not isinstance(action, str) or action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
    if action != "set_interval":
        if "interval_s" in data:
            raise ValueError(f'"interval_s" does not go with action {action!r}')
        return Command(camera, action)
    if "interval_s" not in data:
        raise ValueError('action "set_interval" needs "interval_s"')
    interval = data["interval_s"]
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise ValueError(f"interval_s: expected a number, got {interval!r}")
    if not math.isfinite(interval) or not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
        raise ValueError(f"interval_s: expected a number {MIN_INTERVAL_S:g}..{MAX_INTERVAL_S:g}, "
                         f"got {interval!r}")
    return Command(camera, "set_interval", float(interval))


def preview(payload: bytes, limit: int = 100) -> str:
    """A log-safe, one-line view of untrusted bytes."""
    shown = repr(bytes(payload[:limit]))
    return shown + (f"... ({len(payload)} bytes)" if len(payload) > limit else "")
