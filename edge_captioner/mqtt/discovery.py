"""Home Assistant MQTT discovery: pure functions from the device's cameras to (topic, payload)
messages, each to be published retained, QoS 1 (the session keeps them in latest-value slots and
sends them again when Home Assistant announces itself on `<prefix>/status`)."""

from __future__ import annotations

from collections.abc import Collection

from . import topics
from .commands import MAX_INTERVAL_S, MIN_INTERVAL_S

# The event entity's types (service/events.py EVENT_TYPES, kept here so that discovery stays free
# of the service package): a start message's `type`; the end messages of events with a start
# are named by END_NAMES ("arrived" ends as "left"); an end because the camera was lost (its
# `camera_lost`) is `camera_lost`, whatever its type: nobody is known to have left or got up
EVENT_TYPES = ("arrived", "left", "passed_by", "box_left", "box_taken", "possible_fall", "got_up",
               "lingering", "lingering_ended", "camera_lost")
END_NAMES = {"arrived": "left", "possible_fall": "got_up", "lingering": "lingering_ended"}
# the occupancy binary sensors: (key, name, device class, the occupancy payload's key)
PRESENCE = (("person", "person", "occupancy"), ("vehicle", "vehicle", "occupancy"),
            ("animal", "animal", "occupancy"), ("box", "box", "occupancy"))


def _title(camera: str) -> str:
    words = camera.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else camera


def discovery_messages(
    device_id: str,
    base: str,
    cameras: list[tuple[str, bool]],
    model_name: str,
    sw_version: str,
    prefix: str = "homeassistant",
    enabled: bool = True,
    events: Collection[str] = (),
) -> list[tuple[str, bytes]]:
    """(topic, payload) for Home Assistant MQTT discovery, all to be published retained, QoS 1.

    base is `<base_topic>/<device_id>`. Per camera (discovery_entities): the caption as a sensor
    (cut to Home Assistant's 255-character limit; the whole caption JSON as attributes), its
    confidence and latency as sensors, an event entity that fires on every caption (a repeated
    one included), the camera's connectivity (streaming or paused: connected; lost: not), a
    caption-now button, a pause switch, an interval number (the `/set` commands; its state is the
    retained `<base>/<camera>/interval`, its range the one the commands accept), and when the
    camera publishes snapshots an image entity. The caption, confidence and latency are
    unavailable while the camera is lost (rather than showing a stale caption), as everything is
    while the daemon is offline. An EMPTY payload deletes an entity: that is what goes out for
    every entity when `enabled` is false, and for the image entity of a camera whose snapshots
    are off (it may exist from an earlier configuration).

    For the cameras in `events` (tracking on: service/events.py), also an `events` event entity
    (EVENT_TYPES, the message's keys as attributes), a binary sensor each for person, vehicle,
    animal and box present and for a possible fall (from `<base>/<camera>/occupancy`), and the
    image of the newest event's snapshot; deleted for the other cameras."""
    device, origin = device_and_origin(device_id, model_name, sw_version)
    messages: list[tuple[str, bytes]] = []
    for camera, snapshot in cameras:
        entities = discovery_entities(base, camera, snapshot) + event_entities(
            base, camera, camera in events)
        for component, key, config in entities:
            topic = topics.discovery_topic(prefix, component, device_id, f"{camera}_{key}")
            if not enabled or config is None:
                messages.append((topic, b""))
                continue
            unique_id = f"{device_id}_{camera}_{key}"
            messages.append((topic, topics.json_bytes({
                "unique_id": unique_id,
                # default_entity_id replaces object_id (deprecated in HA 2025.10, gone in 2026.4):
                # the same entity ids as before, now with their domain
                "default_entity_id": f"{component}.{unique_id}",
                **config,
                "device": device,
                "origin": origin,
            })))
    return messages


def device_and_origin(device_id: str, model_name: str, sw_version: str) -> tuple[dict, dict]:
    """The `device` and `origin` blocks every entity of the board shares."""
    device = {
        "identifiers": [f"edge_captioner_{device_id}"],
        "name": f"edge-captioner {device_id}",
        "manufacturer": "edge-captioner",
        "model": model_name,
        "sw_version": sw_version,
    }
    # (no support_url: the project has no public address to give yet)
    return device, {"name": "edge-captioner", "sw_version": sw_version}


def summary_discovery(device_id: str, base: str, model_name: str, sw_version: str,
                      prefix: str = "homeassistant", enabled: bool = True) -> tuple[str, bytes]:
    """(topic, payload) of the board's daily-summary sensor (history/service.py publishes it,
    retained, QoS 1): its state the summary sentence (cut to Home Assistant's 255 characters),
    the summary JSON (date, counts) its attributes. Empty payload: deleted (discovery or the
    summary off)."""
    topic = topics.discovery_topic(prefix, "sensor", device_id, "summary")
    if not enabled:
        return topic, b""
    device, origin = device_and_origin(device_id, model_name, sw_version)
    summary = topics.summary_topic(base)
    unique_id = f"{device_id}_summary"
    return topic, topics.json_bytes({
        "unique_id": unique_id, "default_entity_id": f"sensor.{unique_id}",
        "name": "Daily summary", "state_topic": summary,
        "value_template": "{{ value_json.summary[:255] }}", "json_attributes_topic": summary,
        "icon": "mdi:calendar-text",
        "availability": [{"topic": topics.status_topic(base), "payload_available": topics.ONLINE,
                          "payload_not_available": topics.OFFLINE}],
        "device": device, "origin": origin,
    })


def discovery_entities(base: str, camera: str, snapshot: bool
                       ) -> list[tuple[str, str, dict | None]]:
    """(component, key, config without ids and device) of each entity of one camera; None for
    an entity to delete. Pure: Home Assistant's MQTT integration documents each key."""
    caption = topics.camera_topic(base, camera, topics.CAPTION)
    state = topics.camera_topic(base, camera, topics.STATE)
    title = _title(camera)
    daemon_online = {"topic": topics.status_topic(base), "payload_available": topics.ONLINE,
                     "payload_not_available": topics.OFFLINE}
    camera_seeing = {"topic": state, "payload_available": "online",
                     "payload_not_available": "offline",
                     "value_template": "{{ 'offline' if value == 'lost' else 'online' }}"}
    while_seeing = {"availability": [daemon_online, camera_seeing], "availability_mode": "all"}
    while_online = {"availability": [daemon_online]}
    command = topics.camera_topic(base, camera, topics.SET)
    image = topics.camera_topic(base, camera, topics.SNAPSHOT)
    interval = topics.camera_topic(base, camera, topics.INTERVAL)
    return [
        ("sensor", "caption", {
            "name": f"{title} caption", "state_topic": caption,
            "value_template": "{{ value_json.caption[:255] }}",
            "json_attributes_topic": caption, "icon": "mdi:image-text",
            **while_seeing}),
        ("sensor", "confidence", {
            "name": f"{title} caption confidence", "state_topic": caption,
            "value_template": "{{ (value_json.confidence * 100) | round(1) }}",
            "unit_of_measurement": "%", "state_class": "measurement", "icon": "mdi:percent",
            "entity_category": "diagnostic", **while_seeing}),
        ("sensor", "latency", {
            "name": f"{title} caption latency", "state_topic": caption,
            "value_template": "{{ value_json.latency_ms }}", "unit_of_measurement": "ms",
            "device_class": "duration", "state_class": "measurement",
            "entity_category": "diagnostic", **while_seeing}),
        ("event", "captioned", {
            "name": f"{title} captioned", "state_topic": caption,
            "event_types": ["caption"],
            # the event's attributes; `found` is null for a bundle without the real-world encoder
            "value_template": ('{{ {"event_type": "caption", "caption": value_json.caption, '
                               '"confidence": value_json.confidence, "seq": value_json.seq, '
                               '"found": value_json.found | default(none)} | tojson }}'),
            **while_online}),
        ("binary_sensor", "camera", {
            "name": f"{title} camera", "state_topic": state,
            "device_class": "connectivity",
            "value_template": "{{ 'OFF' if value == 'lost' else 'ON' }}",
            "payload_on": "ON", "payload_off": "OFF", **while_online}),
        ("button", "caption_now", {
            "name": f"{title} caption now", "command_topic": command,
            "payload_press": '{"action": "caption_now"}', "icon": "mdi:camera-iris",
            **while_online}),
        ("switch", "paused", {
            "name": f"{title} paused", "command_topic": command, "state_topic": state,
            "payload_on": '{"action": "pause"}', "payload_off": '{"action": "resume"}',
            "value_template": "{{ 'ON' if value == 'paused' else 'OFF' }}",
            "state_on": "ON", "state_off": "OFF", "icon": "mdi:pause", **while_online}),
        ("number", "interval", {
            "name": f"{title} caption interval", "command_topic": command,
            "command_template": '{"interval_s": {{ value }}}', "state_topic": interval,
            "min": MIN_INTERVAL_S, "max": MAX_INTERVAL_S, "step": 0.1, "unit_of_measurement": "s",
            "mode": "box", "entity_category": "config", "icon": "mdi:timer-outline",
            **while_online}),
        ("image", "snapshot", {
            "name": f"{title} snapshot", "image_topic": image,
            "content_type": "image/jpeg", **while_seeing} if snapshot else None),
    ]



def _end_name_template() -> str:
    names = ", ".join(f"'{k}': '{v}'" for k, v in END_NAMES.items())
    return (f"{{% set ends = {{{names}}} %}}"
            "{% set t = value_json.type %}"
            "{% set name = ends[t] if value_json.phase == 'end' and t in ends else t %}"
            "{% set name = 'camera_lost' if value_json.camera_lost | default(false) else name %}")


def event_entities(base: str, camera: str, on: bool) -> list[tuple[str, str, dict | None]]:
    """(component, key, config) of the entities of one camera's events; configs None (deleted)
    when the camera does not track."""
    title = _title(camera)
    event = topics.camera_topic(base, camera, topics.EVENT)
    occupancy = topics.camera_topic(base, camera, topics.OCCUPANCY)
    snapshot = topics.camera_topic(base, camera, topics.EVENT_SNAPSHOT)
    daemon_online = {"topic": topics.status_topic(base), "payload_available": topics.ONLINE,
                     "payload_not_available": topics.OFFLINE}
    while_online = {"availability": [daemon_online]}
    # what is present is unknown while the camera is lost: unavailable, neither on nor off
    camera_seeing = {"topic": topics.camera_topic(base, camera, topics.STATE),
                     "payload_available": "online", "payload_not_available": "offline",
                     "value_template": "{{ 'offline' if value == 'lost' else 'online' }}"}
    while_seeing = {"availability": [daemon_online, camera_seeing], "availability_mode": "all"}
    entities: list[tuple[str, str, dict | None]] = [
        ("event", "events", {
            "name": f"{title} events", "state_topic": event, "event_types": list(EVENT_TYPES),
            # the attributes: the event message's keys (docs/contract.md "Events"), but `type`
            "value_template": _end_name_template() + (
                '{{ {"event_type": name, "id": value_json.id, "type": t, '
                '"phase": value_json.phase, "camera": value_json.camera, "zone": value_json.zone, '
                '"start": value_json.start, "end": value_json.end, '
                '"duration_s": value_json.duration_s, "objects": value_json.objects, '
                '"snapshot": value_json.snapshot, "camera_lost": value_json.camera_lost | default(false), '
                '"sentence": value_json.sentence} | tojson }}'),
            "icon": "mdi:motion-sensor", **while_online}),
    ]
    for key, noun, device_class in PRESENCE:
        entities.append(("binary_sensor", key, {
            "name": f"{title} {noun}", "state_topic": occupancy, "device_class": device_class,
            "value_template": f"{{{{ 'ON' if value_json.{key} > 0 else 'OFF' }}}}",
            "payload_on": "ON", "payload_off": "OFF", **while_seeing}))
    entities += [
        ("binary_sensor", "possible_fall", {
            "name": f"{title} possible fall", "state_topic": occupancy, "device_class": "safety",
            "value_template": "{{ 'ON' if value_json.possible_fall else 'OFF' }}",
            "payload_on": "ON", "payload_off": "OFF", **while_seeing}),
        ("image", "event_snapshot", {
            "name": f"{title} event snapshot", "image_topic": snapshot,
            "content_type": "image/jpeg", **while_online}),
    ]
    return [(c, k, config if on else None) for c, k, config in entities]
