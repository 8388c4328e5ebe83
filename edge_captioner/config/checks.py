"""The checks of single values in config.yaml, and how errors name a key and show a value.

A check takes (value, key path) and returns the clean value or raises BadInput naming the key,
e.g. `cameras[1].interval_s: expected a number > 0, got 0`. Each check also carries `wanted`, the
text after "expected" in its error, which the configuration reference (reference.py) shows as the
key's value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import BadInput
from ..sources.spec import NETWORK_SCHEMES, parse_pushed

Validator = Callable[[Any, str], Any]

# the camera URLs OpenCV opens through FFmpeg (camera.sources.classify_source)
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
PLACE_MAX_CHARS = 40
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def describe_value(value: Any, secret: bool = False) -> str:
    """A value as an error message shows it: YAML spelling, short, and never a secret."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if secret:
        return f"a {type(value).__name__}"
    if isinstance(value, str | int | float):
        shown = repr(value)
        return shown if len(shown) <= 42 else shown[:40] + "..."
    return f"a {type(value).__name__}"


def join_key(path: str, key: object) -> str:
    # a key is the file's own text: one that is not a plain printable name is shown quoted, so
    # the error stays one line
    name = str(key) if isinstance(key, str) and key.isprintable() else repr(key)
    return f"{path}.{name}" if path else name


def bad_value(path: str, message: str) -> BadInput:
    return BadInput(f"{path}: {message}")


def _accepts(wanted: str) -> Callable[[Validator], Validator]:
    """Mark a check with what it accepts (see the module doc)."""
    def mark(check: Validator) -> Validator:
        check.wanted = wanted  # type: ignore[attr-defined]
        return check

    return mark


def wanted(check: Validator) -> str:
    return check.wanted  # type: ignore[attr-defined]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # YAML true is not 1 here


def _finite(value: Any) -> float | None:
    """`value` as a float if it is a finite YAML number (not a bool, not .nan/.inf, not 10**400)."""
    if not (_is_int(value) or isinstance(value, float)):
        return None
    try:
        as_float = float(value)
    except OverflowError:
        return None
    return as_float if math.isfinite(as_float) else None


def valid_optional(check: Validator) -> Validator:
    """`check`, or null."""
    @_accepts(f"{wanted(check)} or null")
    def optional(value: Any, path: str) -> Any:
        return None if value is None else check(value, path)

    return optional


def valid_integer(lo: int, hi: int | None = None) -> Validator:
    @_accepts(f"an integer {lo}..{hi}" if hi is not None else f"an integer >= {lo}")
    def check(value: Any, path: str) -> int:
        if not _is_int(value) or value < lo or (hi is not None and value > hi):
            raise bad_value(path, f"expected {wanted(check)}, got {describe_value(value)}")
        return value

    return check


def valid_number(lo: float, hi: float | None = None, *, lo_inclusive: bool = True) -> Validator:
    if hi is not None:
        wanted_text = f"a number {lo:g}..{hi:g}"
    else:
        wanted_text = f"a number {'>=' if lo_inclusive else '>'} {lo:g}"

    @_accepts(wanted_text)
    def check(value: Any, path: str) -> float:
        as_float = _finite(value)
        ok = as_float is not None and (as_float >= lo if lo_inclusive else as_float > lo)
        if not ok or (hi is not None and as_float > hi):
            raise bad_value(path, f"expected {wanted_text}, got {describe_value(value)}"
                                  f"{_float_text_hint(value)}")
        return as_float

    return check


def _float_text_hint(value: Any) -> str:
    """PyYAML follows YAML 1.1, where 1e-3 (no dot) is a string, not a number: say so."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (a string: write numbers like 1e-3 as 1.0e-3 or 0.001)"
    return ""


@_accepts("true or false")
def valid_boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise bad_value(path, f"expected {wanted(valid_boolean)}, got {describe_value(value)}")
    return value


def valid_text(*, optional: bool = False, secret: bool = False) -> Validator:
    @_accepts("a non-empty string" + (" or null" if optional else ""))
    def check(value: Any, path: str) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value:
            raise bad_value(path, f"expected {wanted(check)}, got {describe_value(value, secret)}")
        return value

    return check


def valid_choice(*choices: str, aliases: Mapping[Any, str] | None = None) -> Validator:
    @_accepts(f"one of {', '.join(choices)}")
    def check(value: Any, path: str) -> str:
        if aliases and isinstance(value, str | int | float) and not isinstance(value, bool) \
                and value in aliases:
            return aliases[value]
        if isinstance(value, str) and value in choices:
            return value
        raise bad_value(path, f"expected {wanted(check)}, got {describe_value(value)}")

    return check


@_accepts("a name of lower-case letters, digits, '_' and '-' (starting with a letter or digit, at most 63)")
def valid_name(value: Any, path: str) -> str:
    """device_id and camera names: they become MQTT topic levels and Home Assistant ids, so a `/`,
    `+` or `#` (topic syntax) or upper case / spaces (entity ids) would break things downstream."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise bad_value(path, f"expected {wanted(valid_name)}, got {describe_value(value)}")
    return value


@_accepts("a non-empty MQTT topic")
def valid_topic(value: Any, path: str) -> str:
    """A topic prefix we publish under: no wildcards, no empty levels, not the broker's `$`."""
    if not isinstance(value, str) or not value:
        raise bad_value(path, f"expected {wanted(valid_topic)}, got {describe_value(value)}")
    if "+" in value or "#" in value or "\0" in value:
        raise bad_value(path, f"{value!r} contains a wildcard (+ or #): not allowed in a topic we publish to")
    if value.startswith("/") or value.endswith("/") or "//" in value:
        raise bad_value(path, f"{value!r}: no leading, trailing or doubled '/'")
    if value.startswith("$"):
        # MQTT 4.7.2: the broker's own ($SYS), or a subscription's syntax ($share); a client's
        # publish there is refused or lost
        raise bad_value(path, f"{value!r}: a topic starting with '$' is reserved for the broker")
    return value


@_accepts("a host name or IP address")
def valid_host(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise bad_value(path, f"expected {wanted(valid_host)}, got {describe_value(value)}")
    return value


@_accepts("a device index >= 0, /dev/videoN, a file, an rtsp:// or http:// URL, a GStreamer pipeline, "
          "mqtt:<topic> or frigate:<camera>[/<label>,...]")
def valid_source(value: Any, path: str) -> str | int:
    if _is_int(value) and value >= 0:
        return value
    if isinstance(value, str) and value.strip():
        value = value.strip()
        try:
            if parse_pushed(value) is not None:
                return value
        except ValueError as exc:
            raise bad_value(path, str(exc)) from None
        scheme = value.split("://", 1)[0].lower() + "://"
        # a URL the camera module would not open as one (it would try it as a file name, and
        # fail at run time only): a typo such as htp:// is caught here
        if "://" in value and " ! " not in value and scheme not in NETWORK_SCHEMES:
            raise bad_value(path, f"{value!r}: not a URL a camera can be opened from (the schemes "
                       f"are {', '.join(s[:-3] for s in NETWORK_SCHEMES)})")
        return value
    raise bad_value(path, f"expected {wanted(valid_source)}, got {describe_value(value)}")


GROUP_RE = re.compile(r"[A-Za-z0-9_-]{1,63}")
MEMBER_RE = re.compile(r"[A-Za-z0-9_.-]{1,63}")


@_accepts("letters, digits, '_' and '-' (at most 63)")
def valid_group(value: Any, path: str) -> str:
    """A shared subscription's group name: one topic level, no wildcards."""
    if not isinstance(value, str) or not GROUP_RE.fullmatch(value):
        raise bad_value(path, f"expected {wanted(valid_group)}, got {describe_value(value)}")
    return value


@_accepts("letters, digits, '_', '.' and '-' (at most 63) or null")
def valid_member(value: Any, path: str) -> str | None:
    """A pool member's id: part of its MQTT client ids and of its captions."""
    if value is None:
        return None
    if not isinstance(value, str) or not MEMBER_RE.fullmatch(value):
        raise bad_value(path, f"expected {wanted(valid_member)}, got {describe_value(value)}")
    return value


@_accepts("an http:// or https:// URL or null")
def valid_http_url(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")) \
            or any(c.isspace() for c in value):
        raise bad_value(path, f"expected {wanted(valid_http_url)}, got {describe_value(value)}")
    return value.rstrip("/")


@_accepts("[width, height] (two positive integers) or null")
def valid_resolution(value: Any, path: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if (isinstance(value, list) and len(value) == 2
            and all(_is_int(v) and v > 0 for v in value)):
        return value[0], value[1]
    raise bad_value(path, f"expected {wanted(valid_resolution)}, got {describe_value(value)}")


CLOCK_RE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


@_accepts('a local time of day "HH:MM" (24-hour) or null')
def valid_clock(value: Any, path: str) -> str | None:
    # YAML 1.1 reads an unquoted 21:00 as the sexagesimal integer 1260: say how to write it
    if value is None:
        return None
    if _is_int(value):
        raise bad_value(path, f"expected {wanted(valid_clock)}, got {value} (quote it: \"21:00\")")
    if not isinstance(value, str) or not CLOCK_RE.fullmatch(value.strip()):
        raise bad_value(path, f"expected {wanted(valid_clock)}, got {describe_value(value)}")
    hours, minutes = value.strip().split(":")
    return f"{int(hours):02d}:{minutes}"


@_accepts(f"one of {', '.join(LOG_LEVELS)}")
def valid_log_level(value: Any, path: str) -> str:
    if isinstance(value, str) and value.upper() in LOG_LEVELS:
        return value.upper()
    raise bad_value(path, f"expected {wanted(valid_log_level)}, got {describe_value(value)}")


@_accepts(f"a place: one line of 1..{PLACE_MAX_CHARS} printable characters")
def valid_place(value: Any, path: str) -> str:
    """A short one-line text: it goes into captions and MQTT payloads."""
    if not isinstance(value, str) or not value.strip() or len(value) > PLACE_MAX_CHARS \
            or not value.isprintable():
        raise bad_value(path, f"expected {wanted(valid_place)}, got {describe_value(value)}")
    return value.strip()


MAX_ZONES, MAX_ZONE_POINTS = 16, 64


@_accepts("a mapping of zone names (as camera names) to polygons: at least 3 [x, y] points, "
          "fractions of the frame 0..1")
def valid_zones(value: Any, path: str) -> dict[str, tuple[tuple[float, float], ...]] | None:
    """A camera's named zones (service/zones.py); None when none. Each polygon is checked point by
    point, so the error names the point: `cameras[0].zones.door[2]: expected [x, y] ...`."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise bad_value(path, f"expected {wanted(valid_zones)}, got {describe_value(value)}")
    if len(value) > MAX_ZONES:
        raise bad_value(path, f"at most {MAX_ZONES} zones, got {len(value)}")
    zones = {}
    for name, points in value.items():
        where = join_key(path, name)
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise bad_value(where, f"a zone name must be {wanted(valid_name)}")
        if not isinstance(points, list) or not 3 <= len(points) <= MAX_ZONE_POINTS:
            raise bad_value(where, f"expected a list of 3..{MAX_ZONE_POINTS} [x, y] points, got "
                                   f"{describe_value(points)}"
                                   + (f" of {len(points)}" if isinstance(points, list) else ""))
        polygon = []
        for i, point in enumerate(points):
            xy = [_finite(v) for v in point] if isinstance(point, list) and len(point) == 2 else None
            if xy is None or any(v is None or not 0.0 <= v <= 1.0 for v in xy):
                raise bad_value(f"{where}[{i}]", f"expected [x, y], two numbers 0..1 (fractions of "
                                                 f"the frame), got {describe_value(point)}")
            polygon.append((xy[0], xy[1]))
        xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
        area = 0.5 * abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(polygon))))
        if area <= 0.0:
            raise bad_value(where, "the polygon has no area (its points are on one line)")
        zones[name] = tuple(polygon)
    return zones


def as_is(value: Any, path: str) -> Any:
    """A section's value, checked later by the section's own builder (parse.py)."""
    return value
