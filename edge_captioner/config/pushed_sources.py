"""Camera sources whose frames are PUSHED to the daemon over MQTT, as config.yaml spells them:

    mqtt:<topic>                          JPEG payloads on <topic> (ESP32-CAM style); wildcards allowed
    frigate:<camera>[/<label>[,<label>...]]  the snapshots of Frigate's events on that Frigate camera

Parsed here, once, for the configuration's checks, for telling them from files, and for the
daemon's source factory (frame_sources.py). Not `mqtt://`: that reads as a broker URL, and the
broker is `mqtt.host`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MQTT_PREFIX = "mqtt:"
FRIGATE_PREFIX = "frigate:"
# a 4K JPEG at high quality is ~2 MB; more is not a camera frame (cameras[].max_frame_bytes)
MAX_JPEG_BYTES = 4 * 1024 * 1024
FRIGATE_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")  # Frigate's own rule for camera names and labels


@dataclass(frozen=True)
class TopicFrames:
    topic: str  # a subscription filter


@dataclass(frozen=True)
class FrigateFrames:
    camera: str  # the camera's name in Frigate
    labels: tuple[str, ...]  # () for every label


def is_pushed(source: object) -> bool:
    return isinstance(source, str) and source.startswith((MQTT_PREFIX, FRIGATE_PREFIX))


def parse_pushed(source: object) -> TopicFrames | FrigateFrames | None:
    """What a pushed source names; None for any other source; ValueError (one line) for a bad one."""
    if not is_pushed(source):
        return None
    assert isinstance(source, str)
    if source.startswith(MQTT_PREFIX):
        return TopicFrames(_topic_filter(source[len(MQTT_PREFIX):]))
    camera, _, labels = source[len(FRIGATE_PREFIX):].partition("/")
    if not FRIGATE_NAME_RE.fullmatch(camera):
        raise ValueError(f"{source!r}: expected frigate:<camera>[/<label>,...] with a Frigate camera "
                         "name of letters, digits, '_' and '-'")
    names = tuple(label.strip() for label in labels.split(",")) if labels else ()
    if any(not FRIGATE_NAME_RE.fullmatch(label) for label in names):
        raise ValueError(f"{source!r}: labels are Frigate's object names (person, car...), "
                         "separated by commas")
    return FrigateFrames(camera, names)


def _topic_filter(topic: str) -> str:
    if not topic or "\0" in topic:
        raise ValueError(f"{MQTT_PREFIX + topic!r}: expected mqtt:<topic>, e.g. mqtt:esp32cam/porch/jpeg")
    if topic.startswith("//"):
        raise ValueError(f"{MQTT_PREFIX}{topic}: write mqtt:<topic>, not mqtt://...: the broker is "
                         "mqtt.host")
    if topic.startswith("$"):
        raise ValueError(f"{MQTT_PREFIX}{topic}: $-topics are the broker's; a pool's shared "
                         "subscription comes from `workers.group`")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or ("+" in level and level != "+"):
            raise ValueError(f"{MQTT_PREFIX}{topic}: a wildcard must be a whole level, and # the last")
    return topic
