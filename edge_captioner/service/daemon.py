"""The daemon: cameras -> scene-change gate -> captioner -> MQTT, until told to stop (cli/run.py).

Data flows one way. Each camera has a frame source (sources/factory.py: a `Camera` grabbing from a
device, file or URL, or a source fed over MQTT, JPEG frames or Frigate's snapshots) and a
`CameraWorker` thread (worker.py: latest frame -> `SceneChangeGate` -> the shared `Captioner`
behind a lock, one interpreter pair, so one caption at a time -> `Publisher`, mqtt/session.py).
Commands from MQTT come back through `on_command`, on the MQTT session's dispatcher thread, and
are routed by `COMMAND_HANDLERS`.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from .. import __version__
from ..config import Config
from ..config.parse import events_owner
from ..frigate.descriptions import FrigateDescriptions
from ..history.recording import RecordingSink
from ..history.service import HistoryService
from ..model.captioner import Captioner
from ..mqtt.commands import Command
from ..mqtt.session import Publisher
from ..mqtt.topics import CameraState
from ..sources.factory import open_source
from ..sources.frames import SourceState
from .notify import Watchdog, ready, status, stopping
from .pool import CaptionFence, seen_caption
from .worker import CameraWorker, CaptionService, CaptionSink

log = logging.getLogger(__name__)

STATUS_EVERY_S = 10.0
# A worker or grab loop that has not moved for this long (or the watchdog's own interval, if
# longer) is stuck: the watchdog stops pinging and systemd restarts the service.
STUCK_AFTER_S = 20.0
# Camera readers are daemon threads that spend their life inside OpenCV with the GIL released. One
# still in there when the interpreter finalizes is ended with pthread_exit as it takes the GIL back,
# and that forced unwind through OpenCV's C++ frames aborts the process ("terminate called without
# an active exception", SIGABRT: exit 134 instead of 0 after a clean SIGTERM). A cancelled reader
# of a file or a live stream returns within a frame; one hung in a network read is waited for up
# to this long, then left.
READERS_EXIT_S = 5.0


# What each command (mqtt.ACTIONS) does to its camera's worker. Run on the MQTT session's command
# dispatcher thread, never inside paho's callback: a handler may publish.
COMMAND_HANDLERS: dict[str, Callable[[CameraWorker, Command], None]] = {
    "caption_now": lambda worker, command: worker.caption_now(),
    "pause": lambda worker, command: worker.pause(),
    "resume": lambda worker, command: worker.resume(),
    "set_interval": lambda worker, command: worker.set_interval(command.interval_s),
}


class Daemon:
    def __init__(self, config: Config):
        self.config = config
        self.captioner = Captioner.from_config(config.model)
        self.service = CaptionService(self.captioner)
        pool = config.workers
        # in a pool, each camera's captions as all members publish them (pool.py)
        self.fences = {c.name: CaptionFence() for c in config.cameras} if pool is not None else {}
        for cam in config.cameras:
            why = events_owner(cam, pool is not None)
            if not cam.events.enabled and why is not None:
                log.info("%s: no tracking or events: %s", cam.name, why)
        self.publisher = Publisher(
            config.mqtt, config.device_id, [(c.name, c.snapshot) for c in config.cameras],
            model_name=self.captioner.bundle.name, on_command=self._on_command,
            sw_version=__version__, on_caption=self._on_caption if pool is not None else None,
            events=tuple(c.name for c in config.cameras if c.events.enabled))
        sink: CaptionSink = self.publisher
        self.descriptions: FrigateDescriptions | None = None
        if config.frigate.api_url is not None:
            sink = self.descriptions = FrigateDescriptions(self.publisher, config.frigate.api_url)
        # the history records each caption and event before it goes to MQTT (history/recording.py)
        self.history = HistoryService.for_daemon(config, self.captioner.bundle.language,
                                                 self.captioner.bundle.name, __version__)
        if self.history is not None:
            sink = RecordingSink(sink, self.history.store)
        self.workers: dict[str, CameraWorker] = {}
        for cam in config.cameras:
            source = open_source(cam, config, on_state=self._on_camera_state)
            self.workers[cam.name] = CameraWorker(
                cam, source, self.service, sink, fence=self.fences.get(cam.name),
                member_id=pool.member_id if pool is not None else None)
        self.stop_event = threading.Event()
        self.watchdog = Watchdog(self.healthy)

    def _on_camera_state(self, name: str, state: str) -> None:
        worker = self.workers.get(name)
        if worker is not None and worker.paused:
            return  # a paused camera stays "paused" on MQTT
        if state in (SourceState.STREAMING, SourceState.LOST):
            self.publisher.publish_state(name, CameraState(state))

    def _on_caption(self, camera: str, payload: dict) -> None:
        seen = seen_caption(payload)
        if seen is not None and camera in self.fences:
            self.fences[camera].observe(seen)
        if self.history is not None and camera in self.fences:
            # in a pool the history holds every member's captions of the pool's cameras (its own
            # come back here too: recorded once, by camera, timestamp and seq)
            self.history.store.record_caption(payload)

    def _on_command(self, command: Command) -> None:
        worker = self.workers.get(command.camera)
        if worker is None:
            log.warning("command for unknown camera %r ignored", command.camera)
            return
        COMMAND_HANDLERS[command.action](worker, command)

    def healthy(self) -> bool:
        """Every worker loop and every grab loop moved recently (for the systemd watchdog)."""
        now = time.monotonic()
        for name, worker in self.workers.items():
            if now - worker.last_progress > STUCK_AFTER_S:
                log.error("%s: caption loop stuck for %.0f s", name, now - worker.last_progress)
                return False
            if worker.camera.state != SourceState.ENDED and now - worker.camera.last_progress > STUCK_AFTER_S:
                log.error("%s: capture loop stuck for %.0f s", name,
                          now - worker.camera.last_progress)
                return False
        return True

    def status_line(self) -> str:
        stats = self.publisher.stats
        totals = {key: sum(getattr(w.stats, key) for w in self.workers.values())
                  for key in ("captions", "published", "withheld", "skipped_unchanged", "superseded",
                              "fallbacks", "events")}
        pool = f"{totals['superseded']} superseded by other members, " if self.fences else ""
        return (f"{len(self.workers)} camera(s), {totals['captions']} frames captioned, "
                f"{totals['published']} captions published (heartbeats too), {totals['withheld']} "
                f"withheld, {totals['skipped_unchanged']} unchanged, {totals['fallbacks']} "
                f"canonical fallbacks, {totals['events']} event messages, {pool}"
                f"broker {'connected' if stats.get('connected') else 'not connected'}, "
                f"{stats.get('queued', 0)} queued, {stats.get('dropped', 0)} dropped")

    def run(self) -> int:
        self.publisher.start()
        if self.history is not None:
            self.history.start()
        for worker in self.workers.values():
            worker.camera.start()  # its first state (streaming or lost) arrives via on_state
            worker.start()
        self.watchdog.start()
        ready(f"captioning {len(self.workers)} camera(s) with {self.captioner.bundle.name}")
        log.info("running: %s, bundle %s, broker %s:%d", ", ".join(self.workers),
                 self.captioner.bundle.name, self.config.mqtt.host, self.config.mqtt.port)
        while not self.stop_event.wait(STATUS_EVERY_S):
            status(self.status_line())
        return self.shutdown()

    def shutdown(self) -> int:
        stopping()
        log.info("stopping: finishing captions in flight")
        for worker in self.workers.values():
            worker.stop()
        for worker in self.workers.values():
            worker.camera.stop()  # acknowledges the frames the workers finished
        if self.descriptions is not None:
            self.descriptions.stop()
        if self.history is not None:
            self.history.stop()
        self.watchdog.stop()
        self.publisher.stop()
        self._wait_for_readers()
        log.info("stopped: %s", self.status_line())
        return 0

    def _wait_for_readers(self, timeout: float = READERS_EXIT_S) -> None:
        deadline = time.monotonic() + timeout
        for name, worker in self.workers.items():
            if not worker.camera.wait_for_readers(max(deadline - time.monotonic(), 0.0)):
                log.warning("%s: camera still inside a read after %.0f s; exiting anyway", name,
                            timeout)


def install_signal_handlers(daemon: Daemon) -> None:
    def stop(signum, _frame):
        log.info("%s received", signal.Signals(signum).name)
        daemon.stop_event.set()

    def hup(_signum, _frame):
        log.warning("SIGHUP: reloading the configuration is not supported; restart the service "
                    "(systemctl restart edge-captioner) to apply changes")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, hup)
