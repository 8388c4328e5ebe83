"""The MQTT topic layout (docs/contract.md "MQTT"), built and parsed here and nowhere else.

    <base_topic>/<device_id>/status                  online / offline (retained; the last will)
    <base_topic>/<device_id>/<camera>/caption        caption JSON
    <base_topic>/<device_id>/<camera>/state          streaming / lost / paused (retained)
    <base_topic>/<device_id>/<camera>/snapshot       JPEG of the captioned frame (retained)
    <base_topic>/<device_id>/<camera>/withheld       a caption under min_confidence
    <base_topic>/<device_id>/<camera>/set            commands in
    <base_topic>/<device_id>/<camera>/interval       the interval_s in use, in seconds (retained)
    <base_topic>/<device_id>/<camera>/event          event JSON (service/events.py), start and end
    <base_topic>/<device_id>/<camera>/event/snapshot JPEG of the newest event's best frame (retained)
    <base_topic>/<device_id>/<camera>/occupancy      what is present now, JSON (retained)
    <base_topic>/<device_id>/history/query           questions to the history in (JSON)
    <base_topic>/<device_id>/history/answer          their answers, when the question names no
                                                     response topic (MQTT 5) nor `reply_to`
    <base_topic>/<device_id>/summary                 the daily summary (JSON, retained)
    <prefix>/status                                  Home Assistant's birth message
    <prefix>/<component>/<device_id>/<object_id>/config   Home Assistant discovery

`base` below is always the device's base, `<base_topic>/<device_id>` (device_base). Every JSON
payload we publish is encoded by json_bytes.
"""

from __future__ import annotations

import enum
import json

STATUS = "status"
CAPTION, STATE, SNAPSHOT, WITHHELD, SET = "caption", "state", "snapshot", "withheld", "set"
INTERVAL = "interval"
EVENT, EVENT_SNAPSHOT, OCCUPANCY = "event", "event/snapshot", "occupancy"
CAMERA_LEAVES = (CAPTION, STATE, SNAPSHOT, WITHHELD, SET, INTERVAL, EVENT, OCCUPANCY)
# the occupancy payload while nothing is present (service/events.py `occupancy` makes the others)
EMPTY_OCCUPANCY = {"person": 0, "vehicle": 0, "animal": 0, "box": 0, "possible_fall": False}
ONLINE, OFFLINE = "online", "offline"  # the payloads of the status topic
ANY = "+"  # MQTT's single-level wildcard


def device_base(base_topic: str, device_id: str) -> str:
    return f"{base_topic.rstrip('/')}/{device_id}"


def status_topic(base: str) -> str:
    return f"{base}/{STATUS}"


def camera_topic(base: str, camera: str, leaf: str) -> str:
    """`<base>/<camera>/<leaf>`; camera may be ANY in a subscription filter."""
    return f"{base}/{camera}/{leaf}"


HISTORY, QUERY, ANSWER, SUMMARY = "history", "query", "answer", "summary"


def history_query_topic(base: str) -> str:
    return f"{base}/{HISTORY}/{QUERY}"


def history_answer_topic(base: str) -> str:
    return f"{base}/{HISTORY}/{ANSWER}"


def summary_topic(base: str) -> str:
    return f"{base}/{SUMMARY}"


def valid_reply_topic(topic: object) -> bool:
    """A topic an answer may be published to: a name, not a filter, not the broker's own."""
    return (isinstance(topic, str) and 0 < len(topic.encode("utf-8")) <= 1024
            and not any(c in topic for c in "+#\0") and not topic.startswith("$"))


def command_filter(base: str) -> str:
    """The subscription that receives every camera's commands."""
    return camera_topic(base, ANY, SET)


def command_camera(base: str, topic: str) -> str | None:
    """The camera a `<base>/<camera>/set` topic is for; None for any other topic."""
    return leaf_camera(base, topic, SET)


def leaf_camera(base: str, topic: str, leaf: str) -> str | None:
    """The camera of a `<base>/<camera>/<leaf>` topic; None for any other topic."""
    prefix, suffix = f"{base}/", f"/{leaf}"
    if not (topic.startswith(prefix) and topic.endswith(suffix)) or len(topic) < len(prefix + suffix):
        return None
    return topic[len(prefix):-len(suffix)]


def all_devices_filters(base_topic: str, leaves: tuple[str, ...]) -> list[str]:
    """Subscription filters for these leaves (camera leaves and/or STATUS) of every device."""
    any_device = device_base(base_topic, ANY)
    return [status_topic(any_device) if leaf == STATUS else camera_topic(any_device, ANY, leaf)
            for leaf in leaves]


def split(topic: str, base_topic: str) -> tuple[str, str | None, str] | None:
    """`<base_topic>/<device>/<camera>/<leaf>` -> (device, camera, leaf); `<base_topic>/<device>/
    status` -> (device, None, STATUS); anything else -> None. base_topic may contain slashes."""
    prefix = base_topic.rstrip("/") + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix):].split("/")
    if len(parts) == 2 and parts[1] == STATUS:
        return parts[0], None, STATUS
    if len(parts) == 3 and parts[2] in CAMERA_LEAVES:
        return parts[0], parts[1], parts[2]
    return None


def ha_status_topic(prefix: str) -> str:
    return f"{prefix}/{STATUS}"


def discovery_topic(prefix: str, component: str, device_id: str, object_id: str) -> str:
    return f"{prefix}/{component}/{device_id}/{object_id}/config"


def interval_bytes(seconds: float) -> bytes:
    """The payload of `<base>/<camera>/interval`: the number alone (`2.5`), as Home Assistant's
    number entity reads its state."""
    return json_bytes(float(seconds))


def json_bytes(obj: object) -> bytes:
    """Compact UTF-8 JSON (a Chinese caption stays readable, not \\u-escaped)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class CameraState(enum.StrEnum):
    """The payloads of `<base>/<camera>/state` (retained)."""

    STREAMING = "streaming"
    LOST = "lost"
    PAUSED = "paused"
