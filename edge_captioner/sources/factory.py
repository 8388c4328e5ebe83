"""The one place that turns a configured camera into its frame source (frames.FrameSource):

* `mqtt:<topic>`: an MQTTFrameSource (mqtt_jpeg.py), JPEG payloads on the topic;
* `frigate:<camera>[/<labels>]`: a FrigateSource (frigate/source.py), Frigate's event snapshots;
* anything else: a Camera (camera.py), which opens the device, file, URL or pipeline itself.

Sources fed over MQTT get a client of their own per camera, `<mqtt client id>-cam-<camera>` (the
daemon's client id already carries the pool member's id), so that each keeps its own session. In a
pool (`workers`) they subscribe through the group's shared subscription, and their sessions
outlive a crash for `workers.session_expiry_s`: the broker keeps what a killed member had not
acknowledged and gives it back when the member returns (docs/topology.md).
"""

from __future__ import annotations

from typing import Protocol

from ..config import CameraConfig, Config
from ..frigate.source import FrigateCamera, FrigateSource
from .camera import Camera, StateCallback
from .frames import FrameSource
from .mqtt_jpeg import FrameTopic, MQTTFrameSource
from .spec import FrigateFrames, TopicFrames, parse_pushed


class CameraSource(FrameSource, Protocol):
    """What the daemon uses of a frame source besides what its worker does."""

    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...
    def wait_for_readers(self, timeout: float) -> bool: ...


def frame_client_id(config: Config, camera: str) -> str:
    return f"{config.mqtt.client_id}-cam-{camera}"


def open_source(camera: CameraConfig, config: Config,
                on_state: StateCallback | None = None) -> CameraSource:
    """The frame source of `camera` (not started)."""
    pushed = parse_pushed(camera.source)
    if pushed is None:
        return Camera(camera, on_state=on_state)
    workers = config.workers
    group = workers.group if workers is not None else None
    session = {"session_expiry_s": workers.session_expiry_s if workers is not None else 0}
    client_id = frame_client_id(config, camera.name)
    if isinstance(pushed, TopicFrames):
        frames = FrameTopic(pushed.topic, group, qos=1, stall_timeout_s=camera.stall_timeout_s,
                            max_bytes=camera.max_frame_bytes, max_pixels=camera.max_frame_pixels,
                            resolution=camera.resolution)
        return MQTTFrameSource(camera.name, frames, config.mqtt, client_id, on_state, **session)
    assert isinstance(pushed, FrigateFrames)
    frigate = FrigateCamera(pushed.camera, pushed.labels, config.frigate.topic_prefix, group,
                            config.frigate.pair_window_s, max_bytes=camera.max_frame_bytes,
                            max_pixels=camera.max_frame_pixels, resolution=camera.resolution)
    return FrigateSource(camera.name, frigate, config.mqtt, client_id, on_state, **session)
