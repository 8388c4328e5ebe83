"""A YAML document -> the typed `Config`: every key checked against the schema, no file system
access, no environment (files.py does those afterwards)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..sources.spec import FrigateFrames, is_pushed, parse_pushed
from .checks import Validator, as_is, bad_value, describe_value, join_key
from .schema import (
    MQTT_TLS_PORT,
    CameraConfig,
    Config,
    DiscoveryConfig,
    EventsConfig,
    FrigateConfig,
    HistoryConfig,
    LoggingConfig,
    ModelConfig,
    MQTTConfig,
    TLSConfig,
    WorkersConfig,
    keys,
)

PUSHED_ONLY = ("max_frame_bytes",)  # camera keys that mean something only for mqtt:/frigate: sources


def _mapping(value: Any, path: str, *, null_ok: bool = False) -> Mapping:
    if value is None and null_ok:
        return {}  # `mqtt:` with everything under it commented out: the defaults
    if not isinstance(value, Mapping):
        raise bad_value(path or "top level", f"expected a mapping, got {describe_value(value)}")
    return value


def _checks(kind: type, **sections: Validator) -> dict[str, Validator]:
    """Each key of a section with its check: a setting's own, a subsection's builder from `sections`."""
    return {f.name: f.metadata["check"] if "check" in f.metadata else sections[f.name] for f in keys(kind)}


def _required(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in keys(kind) if f.metadata.get("required"))


def _section(raw: Any, path: str, kind: type, fields: Mapping[str, Validator], *,
             null_ok: bool = True) -> dict[str, Any]:
    """Check a mapping's keys against `fields` (unknown keys are errors) and validate each value."""
    mapping = _mapping(raw, path, null_ok=null_ok)
    for key in mapping:
        if key not in fields:
            raise bad_value(join_key(path, key), f"unknown key (known: {', '.join(fields)})")
    for key in _required(kind):
        if key not in mapping:
            raise bad_value(join_key(path, key), "required")
    return {key: fields[key](value, join_key(path, key)) for key, value in mapping.items()}


def _tls(value: Any, path: str) -> TLSConfig | None:
    if value is None:
        return None
    tls = TLSConfig(**_section(value, path, TLSConfig, TLS_FIELDS))
    if tls.keyfile and not tls.certfile:
        raise bad_value(join_key(path, "keyfile"),
                        f"needs {join_key(path, 'certfile')} (the client certificate)")
    return tls


def _discovery(value: Any, path: str) -> DiscoveryConfig:
    return DiscoveryConfig(**_section(value, path, DiscoveryConfig, DISCOVERY_FIELDS))


TLS_FIELDS = _checks(TLSConfig)
DISCOVERY_FIELDS = _checks(DiscoveryConfig)
MQTT_FIELDS = _checks(MQTTConfig, tls=_tls, discovery=_discovery)
MODEL_FIELDS = _checks(ModelConfig)
EVENTS_FIELDS = _checks(EventsConfig)


def _events(value: Any, path: str) -> EventsConfig:
    events = EventsConfig(**_section(value, path, EventsConfig, EVENTS_FIELDS))
    if events.present_after_frames > events.present_window_frames:
        raise bad_value(join_key(path, "present_after_frames"),
                        f"expected at most present_window_frames ({events.present_window_frames}), "
                        f"got {events.present_after_frames}")
    return events


CAMERA_FIELDS = _checks(CameraConfig, events=_events)
LOGGING_FIELDS = _checks(LoggingConfig)
WORKERS_FIELDS = _checks(WorkersConfig)
FRIGATE_FIELDS = _checks(FrigateConfig)
HISTORY_FIELDS = _checks(HistoryConfig)
# the sections are built by their own builders below, in this order, once the top level is checked
TOP_FIELDS = _checks(Config, mqtt=as_is, model=as_is, cameras=as_is, logging=as_is,
                     workers=as_is, frigate=as_is, history=as_is)


def _mqtt(raw: Any) -> MQTTConfig:
    values = _section(raw, "mqtt", MQTTConfig, MQTT_FIELDS)
    if values.get("tls") is not None and "port" not in values:
        values["port"] = MQTT_TLS_PORT
    return MQTTConfig(**values)


def _camera(raw: Any, path: str) -> CameraConfig:
    camera = CameraConfig(**_section(raw, path, CameraConfig, CAMERA_FIELDS, null_ok=False))
    if not is_pushed(camera.source):
        for key in PUSHED_ONLY:
            if key in raw:
                raise bad_value(join_key(path, key), "only for mqtt: and frigate: sources")
    if camera.heartbeat_s < camera.interval_s:
        raise bad_value(join_key(path, "heartbeat_s"),
                   f"expected a number >= interval_s ({camera.interval_s:g}), got {camera.heartbeat_s:g}")
    return camera


def _cameras(raw: Any) -> list[CameraConfig]:
    if not isinstance(raw, list):
        raise bad_value("cameras", f"expected a list of cameras, got {describe_value(raw)}")
    if not raw:
        raise bad_value("cameras", "at least one camera is required")
    cameras = [_camera(item, f"cameras[{i}]") for i, item in enumerate(raw)]
    seen: set[str] = set()
    for i, camera in enumerate(cameras):
        if camera.name in seen:
            raise bad_value(f"cameras[{i}].name", f"duplicate camera name {camera.name!r}")
        seen.add(camera.name)
    return cameras


def events_owner(camera: CameraConfig, pooled: bool) -> str | None:
    """Why this camera may not track (events need one owner per camera), or None when it may."""
    if isinstance(parse_pushed(camera.source), FrigateFrames):
        return "Frigate tracks this camera's objects (its events are Frigate's)"
    if pooled and is_pushed(camera.source):
        return ("a pool (`workers`) shares this camera's frames among its members, and tracking "
                "needs every frame of a camera on one board")
    return None


def _owned_events(cameras: list[CameraConfig], pooled: bool) -> None:
    """Resolve each camera's `events.enabled` (null: on where it may be); true where it may not
    is an error."""
    for i, camera in enumerate(cameras):
        why = events_owner(camera, pooled)
        if camera.events.enabled and why is not None:
            raise bad_value(f"cameras[{i}].events.enabled", f"true is not possible here: {why}")
        if camera.events.enabled is None:
            camera.events.enabled = why is None


def _workers(raw: Any, mqtt: MQTTConfig) -> WorkersConfig | None:
    if raw is None:
        return None
    workers = WorkersConfig(**_section(raw, "workers", WorkersConfig, WORKERS_FIELDS, null_ok=False))
    if mqtt.protocol != "5":
        # Mosquitto shares subscriptions with 3.1.1 clients too, but only an MQTT 5 session
        # outlives a killed member, keeping the frames it had not acknowledged
        raise bad_value("workers", 'needs mqtt.protocol "5" (sessions that outlive a crash)')
    return workers


def blanks(document: Any) -> list[str]:
    """The keys the schema marks `blank` that `document` gives as null (the installed example's
    blanks, not filled in yet), as errors name them: `device_id`, `cameras[0].source`."""
    found: list[str] = []

    def scan(mapping: Any, kind: type, path: str) -> None:
        if not isinstance(mapping, Mapping):
            return
        for key in keys(kind):
            if key.name not in mapping:
                continue
            value, name = mapping[key.name], join_key(path, key.name)
            if value is None and key.metadata.get("blank"):
                found.append(name)
            elif key.metadata.get("many") and isinstance(value, list):
                for i, item in enumerate(value):
                    scan(item, key.metadata["section"], f"{name}[{i}]")
            elif "section" in key.metadata:
                scan(value, key.metadata["section"], name)

    scan(document, Config, "")
    return found


def parse_document(document: Any) -> Config:
    """The typed configuration of a YAML document; no file system access, no environment."""
    unset = blanks(document)
    if unset:  # the installed example as written: one line naming all there is to fill in
        raise bad_value(", ".join(unset), f"not set: fill {'it' if len(unset) == 1 else 'them'} in "
                        "(nothing is published until then), or try the built-in demo with --demo")
    top = _section(document, "", Config, TOP_FIELDS, null_ok=False)
    mqtt = _mqtt(top.get("mqtt"))
    model = ModelConfig(**_section(top.get("model"), "model", ModelConfig, MODEL_FIELDS))
    cameras = _cameras(top["cameras"])
    logging = LoggingConfig(**_section(top.get("logging"), "logging", LoggingConfig, LOGGING_FIELDS))
    workers = _workers(top.get("workers"), mqtt)
    _owned_events(cameras, pooled=workers is not None)
    return Config(
        device_id=top["device_id"],
        mqtt=mqtt,
        model=model,
        cameras=cameras,
        logging=logging,
        workers=workers,
        frigate=FrigateConfig(**_section(top.get("frigate"), "frigate", FrigateConfig, FRIGATE_FIELDS)),
        history=HistoryConfig(**_section(top.get("history"), "history", HistoryConfig, HISTORY_FIELDS)),
    )
