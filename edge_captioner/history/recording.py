"""`RecordingSink`: the worker's caption sink with the history in front of MQTT.

Each caption and event is recorded first, then handed on: whatever MQTT acknowledges is already
in the store (a kill between the two leaves a recorded caption that the broker never saw, never
the other way round). Withheld captions are not the camera's captions and are not recorded;
states and intervals pass straight through. A caption the store cannot take still goes out
(store.py logs why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..mqtt.topics import CameraState
    from ..service.caption_event import CaptionEvent
    from .store import HistoryStore


class RecordingSink:
    def __init__(self, inner: Any, store: HistoryStore) -> None:
        self.inner = inner
        self.store = store

    def publish_caption(self, event: CaptionEvent, snapshot: bytes | None = None) -> None:
        self.store.record_caption(event.payload())
        self.inner.publish_caption(event, snapshot)

    def publish_event(self, event: Any, snapshot: bytes | None = None) -> None:
        """An event of issue 30's tracker (its `payload()` as on `<base>/<camera>/event`)."""
        self.store.record_event(event.payload(), snapshot)
        publish = getattr(self.inner, "publish_event", None)
        if publish is not None:
            publish(event, snapshot)

    def publish_withheld(self, event: CaptionEvent) -> None:
        self.inner.publish_withheld(event)

    def publish_state(self, camera: str, state: CameraState) -> None:
        self.inner.publish_state(camera, state)

    def publish_interval(self, camera: str, seconds: float) -> None:
        self.inner.publish_interval(camera, seconds)

    def __getattr__(self, name: str) -> Any:
        # anything else the worker may ask of its sink (FrigateDescriptions adds a few)
        return getattr(self.inner, name)
