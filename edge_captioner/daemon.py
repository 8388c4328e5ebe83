"""`edge-captioner run`: cameras -> scene-change gate -> captioner -> MQTT, until SIGTERM/SIGINT.

Data flows one way. Each camera has a `Camera` (camera/: a grab thread keeping the latest frame)
and a `CameraWorker` thread here: latest frame -> `SceneChangeGate` (gate.py) -> the shared
`Captioner` (captioner.py; one interpreter pair, so one caption at a time behind a lock) ->
`Publisher` (mqtt/session.py). Commands from MQTT come back through `on_command`.

Publishing rule (SPEC.md): a caption is published when its text changes, and the last one is
re-published at least every heartbeat_s; an unchanged scene is not re-captioned at all, so a static
scene costs a thumbnail difference per frame and nothing else.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

import cv2

from . import __version__
from .camera import Camera, Frame
from .captioner import Captioner, CaptionResult
from .cli_support import set_log_level
from .config import CameraConfig, Config, load_config
from .gate import SceneChangeGate
from .mqtt import Command, Publisher
from .notify import Watchdog, ready, status, stopping

log = logging.getLogger(__name__)

SNAPSHOT_JPEG_QUALITY = 80
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


class CaptionService:
    """The one Captioner, shared by all cameras: TFLite interpreters are not thread-safe."""

    def __init__(self, captioner: Captioner):
        self.captioner = captioner
        self._lock = threading.Lock()

    def caption(self, image, place: str | None = None) -> CaptionResult:
        with self._lock:
            return self.captioner.caption(image, place=place)


@dataclass
class WorkerStats:
    captions: int = 0  # model runs
    published: int = 0
    skipped_unchanged: int = 0
    withheld: int = 0  # under the camera's min_confidence


@dataclass
class CameraWorker:
    config: CameraConfig
    camera: Camera
    service: CaptionService
    publisher: Publisher
    stats: WorkerStats = field(default_factory=WorkerStats)

    def __post_init__(self) -> None:
        self.gate = SceneChangeGate(self.config.scene_change_threshold,
                                    max_interval_s=self.config.heartbeat_s,
                                    min_interval_s=self.config.interval_s)
        self.interval_s = self.config.interval_s
        self.paused = False
        self.last_progress = time.monotonic()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"worker-{self.config.name}",
                                        daemon=True)
        self._last: dict | None = None  # last published payload
        self._published_at = 0.0
        self._seq = 0

    # -- control (from the MQTT thread) --------------------------------------------------------
    def command(self, command: Command) -> None:
        if command.action == "caption_now":
            self.gate.force()
        elif command.action == "pause":
            self.paused = True
            self.publisher.publish_state(self.config.name, "paused")
        elif command.action == "resume":
            self.paused = False
            self.publisher.publish_state(self.config.name, self.camera_state())
        elif command.action == "set_interval" and command.interval_s:
            self.interval_s = command.interval_s
            self.gate.min_interval_s = command.interval_s
        log.info("%s: command %s%s", self.config.name, command.action,
                 f" {command.interval_s:g} s" if command.interval_s else "")
        self._wake.set()

    def camera_state(self) -> str:
        return "streaming" if self.camera.state in ("streaming", "starting") else "lost"

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the caption in flight, then return."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    # -- the loop --------------------------------------------------------------------------------
    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            self.last_progress = time.monotonic()
            frame = self.camera.latest(newer_than=seq, timeout=0.5)
            if frame is None:
                continue  # no heartbeat either: a lost camera must not look like a quiet scene
            seq = frame.seq
            if self.paused and not self.gate.forced:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                self._handle(frame)
            except Exception:  # noqa: BLE001 - one bad frame must not end the camera
                log.exception("%s: captioning failed for frame %d", self.config.name, frame.seq)

    def _handle(self, frame: Frame) -> None:
        now = time.monotonic()
        decision = self.gate.check(frame.image, now)
        if decision.reason == "heartbeat" and self._last is not None:
            # the scene has not changed: say the same again, without running the model
            self._republish(frame)
            self.gate.accept(frame.image, now)
            return
        if not decision.run:
            self.stats.skipped_unchanged += decision.reason == "unchanged"
            return
        result = self.service.caption(frame.image, self.config.place)
        self.stats.captions += 1
        self.gate.accept(frame.image, now)
        if result.confidence < self.config.min_confidence:
            self._withhold(frame, result)
            return
        changed = self._last is None or result.text != self._last["caption"]
        # A scene that keeps moving without changing its caption resets the gate's heartbeat
        # clock at every run: the heartbeat then comes from here.
        due = now - self._published_at >= self.config.heartbeat_s
        if changed or due or decision.reason == "forced":
            self._publish(frame, result)
        else:
            self.stats.skipped_unchanged += 1

    def _payload(self, frame: Frame, result: CaptionResult, count: bool = True) -> dict:
        """count: the caption takes the next seq (a withheld one keeps the last published one's:
        seq numbers the camera's captions)."""
        if count:
            self._seq += 1
        bundle = self.service.captioner.bundle
        payload = {
            "camera": self.config.name,
            "caption": result.text,
            "confidence": round(float(result.confidence), 4),
            "language": bundle.language,
            "timestamp": _iso(frame),
            "model": bundle.name,
            "latency_ms": round(result.latency_ms, 1),
            "seq": self._seq,
        }
        if result.findings is not None:
            # what the real-world detector and classifier found (bundles with them), as in
            # `caption --json`; Home Assistant shows it among the caption sensor's attributes
            payload["found"] = result.findings.to_json()
        if result.truncated:
            payload["truncated"] = True  # cut at the length limit: it may end mid-phrase
        return payload

    def _publish(self, frame: Frame, result: CaptionResult) -> None:
        payload = self._payload(frame, result)
        snapshot = None
        if self.config.snapshot:
            ok, jpeg = cv2.imencode(".jpg", frame.image,
                                    [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_JPEG_QUALITY])
            snapshot = jpeg.tobytes() if ok else None
        self.publisher.publish_caption(self.config.name, payload, snapshot)
        self._last = payload
        self._published_at = time.monotonic()
        self.stats.published += 1
        log.info("%s: %s (%.2f, %.0f ms)", self.config.name, payload["caption"],
                 payload["confidence"], payload["latency_ms"])

    def _withhold(self, frame: Frame, result: CaptionResult) -> None:
        """A caption under the camera's min_confidence: not the camera's caption (the state and
        Home Assistant keep the last sure one); the newest such one goes, not retained, to
        `<base>/<camera>/withheld` with the reason, for whoever wants to see it."""
        payload = self._payload(frame, result, count=False)
        payload["withheld"] = (f"confidence {payload['confidence']:.2f} is below min_confidence "
                               f"{self.config.min_confidence:.2f}")
        self.publisher.publish_withheld(self.config.name, payload)
        self.stats.withheld += 1
        log.info("%s: withheld %r (%s)", self.config.name, payload["caption"], payload["withheld"])

    def _republish(self, frame: Frame) -> None:
        assert self._last is not None
        self._seq += 1
        payload = dict(self._last, seq=self._seq, timestamp=_iso(frame))
        self._published_at = time.monotonic()
        self.publisher.publish_caption(self.config.name, payload, None)
        self._last = payload
        self.stats.published += 1
        log.debug("%s: heartbeat: %s", self.config.name, payload["caption"])

    def caption_now(self) -> None:  # TEMP until worker split merges
        self.command(Command(self.config.name, "caption_now"))

    def pause(self) -> None:  # TEMP until worker split merges
        self.command(Command(self.config.name, "pause"))

    def resume(self) -> None:  # TEMP until worker split merges
        self.command(Command(self.config.name, "resume"))

    def set_interval(self, seconds: float) -> None:  # TEMP until worker split merges
        self.command(Command(self.config.name, "set_interval", seconds))


def _iso(frame: Frame) -> str:
    return frame.wall.astimezone(UTC).isoformat(timespec="milliseconds")


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
        self.publisher = Publisher(
            config.mqtt, config.device_id, [(c.name, c.snapshot) for c in config.cameras],
            model_name=self.captioner.bundle.name, on_command=self._on_command,
            sw_version=__version__)
        self.workers: dict[str, CameraWorker] = {}
        for cam in config.cameras:
            camera = Camera(cam, on_state=self._on_camera_state)
            self.workers[cam.name] = CameraWorker(cam, camera, self.service, self.publisher)
        self.stop_event = threading.Event()
        self.watchdog = Watchdog(self.healthy)

    def _on_camera_state(self, name: str, state: str) -> None:
        worker = self.workers.get(name)
        if worker is not None and worker.paused:
            return  # a paused camera stays "paused" on MQTT
        if state in ("streaming", "lost"):
            self.publisher.publish_state(name, state)

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
            if worker.camera.state != "ended" and now - worker.camera.last_progress > STUCK_AFTER_S:
                log.error("%s: capture loop stuck for %.0f s", name,
                          now - worker.camera.last_progress)
                return False
        return True

    def status_line(self) -> str:
        stats = self.publisher.stats
        captions = sum(w.stats.captions for w in self.workers.values())
        return (f"{len(self.workers)} camera(s), {captions} captions, "
                f"broker {'connected' if stats.get('connected') else 'not connected'}, "
                f"{stats.get('queued', 0)} queued, {stats.get('dropped', 0)} dropped")

    def run(self) -> int:
        self.publisher.start()
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
            worker.camera.stop()
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


def cmd_run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    # the configuration's level, or more with -v / -vv on the command line
    verbose = {1: logging.INFO, 2: logging.DEBUG}.get(min(getattr(args, "verbose", 0), 2))
    level = logging.getLevelName(config.logging.level)
    set_log_level(min(level, verbose) if verbose else level)
    daemon = Daemon(config)  # loads and validates the bundle before anything connects
    # Logged only once the bundle is valid: a bad one is exit 2 with ONE line on stderr (SPEC.md).
    log.info("configuration: %s", config.source_path or "built-in default")
    install_signal_handlers(daemon)
    return daemon.run()
