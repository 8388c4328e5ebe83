"""Writing captions into Frigate: each caption of a Frigate event becomes the event's description
(`frigate.api_url`), through Frigate's HTTP API (`POST /api/events/<id>/description`; Frigate has no
MQTT topic for it: frigate.py).

`FrigateDescriptions` is a caption sink in front of the MQTT one: it passes every caption on
unchanged, and queues the Frigate ones for a thread of its own, so that a slow or absent Frigate
never holds up a camera's worker. The queue is short and drops the oldest: a description that
cannot be written within a few captions is not worth writing late. A failure is logged once
(WARNING) until a request succeeds again; the caption on MQTT is not affected.
"""

from __future__ import annotations

import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from ..service.worker import CaptionSink
from .events import description_request

if TYPE_CHECKING:
    from ..mqtt.topics import CameraState
    from ..service.caption_event import CaptionEvent
    from ..service.events import Event

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0
QUEUE_LIMIT = 32


def _why(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        hint = (": the API on port 8971 needs a token, port 5000 (internal) does not"
                if exc.code in (401, 403) else "")
        return f"HTTP {exc.code} {exc.reason}{hint}"
    return str(getattr(exc, "reason", None) or exc)


class FrigateDescriptions:
    def __init__(self, sink: CaptionSink, api_url: str, timeout_s: float = REQUEST_TIMEOUT_S,
                 queue_limit: int = QUEUE_LIMIT):
        self.sink = sink
        self.api_url = api_url
        self.timeout_s = timeout_s
        self.sent = 0
        self.failed = 0
        self._requests: queue.Queue[tuple[str, bytes] | None] = queue.Queue(queue_limit)
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="frigate-api", daemon=True)
        self._thread.start()

    # -- the CaptionSink side (a camera's worker) ---------------------------------------------------
    def publish_caption(self, event: CaptionEvent, snapshot: bytes | None = None) -> None:
        self.sink.publish_caption(event, snapshot)
        if event.frigate is not None:
            self._put(description_request(self.api_url, event.frigate.id, event.caption))

    def publish_withheld(self, event: CaptionEvent) -> None:
        self.sink.publish_withheld(event)

    def publish_state(self, camera: str, state: CameraState) -> None:
        self.sink.publish_state(camera, state)

    def publish_event(self, event: Event, snapshot: bytes | None = None) -> None:
        self.sink.publish_event(event, snapshot)

    def publish_occupancy(self, camera: str, occupancy: dict) -> None:
        self.sink.publish_occupancy(camera, occupancy)

    def publish_interval(self, camera: str, seconds: float) -> None:
        self.sink.publish_interval(camera, seconds)

    def stop(self, timeout: float = REQUEST_TIMEOUT_S) -> None:
        """Send what is queued (within `timeout`), then end the thread."""
        self._put(None)
        self._thread.join(timeout)

    def _put(self, item: tuple[str, bytes] | None) -> None:
        while True:
            try:
                self._requests.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._requests.get_nowait()  # the oldest description goes
                except queue.Empty:
                    pass

    # -- the thread ------------------------------------------------------------------------------------
    def _run(self) -> None:
        while (item := self._requests.get()) is not None:
            url, body = item
            request = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
            except (urllib.error.URLError, OSError, ValueError) as exc:
                self.failed += 1
                if not self._failing:
                    self._failing = True
                    log.warning("Frigate: cannot set the event description at %s: %s (captions "
                                "still go to MQTT; said once until it works again)", url, _why(exc))
                continue
            self.sent += 1
            if self._failing:
                self._failing = False
                log.info("Frigate: event descriptions are being written again")
