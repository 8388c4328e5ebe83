"""The caption loop behind its seams: the publishing rule as a table, the MQTT payload of a
`CaptionEvent`, and whole `CameraWorker`s driven frame by frame with a scripted camera, a table of
captions for the engine, a recording sink and a fake clock (the scene-change gate is the real one)."""

import dataclasses
import json
import logging
import math
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from edge_captioner.config import CameraConfig
from edge_captioner.mqtt.commands import Command
from edge_captioner.service.caption_event import (
    CameraSoFar,
    CaptionEvent,
    Outcome,
    frame_action,
    publish_rule,
    withheld_reason,
)
from edge_captioner.service.daemon import COMMAND_HANDLERS
from edge_captioner.service.gate import GateReason
from edge_captioner.service.worker import CameraWorker
from edge_captioner.sources.frames import Frame

# -- the publishing rule ---------------------------------------------------------------------------
MIN_CONFIDENCE, HEARTBEAT_S = 0.5, 60.0
NEVER = math.inf  # nothing published yet

# (gate reason, last published caption, seconds since the last publish, in a pool) -> what to do
FRAME_TABLE = [
    # the gate says no: the model does not run
    ("unchanged", "a cat", 5.0, False, Outcome.UNCHANGED),
    ("unchanged", None, NEVER, False, Outcome.UNCHANGED),
    ("too_soon", "a cat", 0.2, False, Outcome.TOO_SOON),
    # the gate says yes: the model runs, except for a heartbeat with a caption to repeat
    ("first", None, NEVER, False, Outcome.RUN_MODEL),
    ("changed", "a cat", 5.0, False, Outcome.RUN_MODEL),
    ("forced", "a cat", 5.0, False, Outcome.RUN_MODEL),
    ("heartbeat", "a cat", 60.0, False, Outcome.REPEAT_LAST),
    ("heartbeat", None, NEVER, False, Outcome.RUN_MODEL),  # all withheld so far: nothing to repeat
    # in a pool the last caption may be another member's, of a newer frame: caption this one
    ("heartbeat", "a cat", 60.0, True, Outcome.RUN_MODEL),
    ("unchanged", "a cat", 5.0, True, Outcome.UNCHANGED),
]


@pytest.mark.parametrize("reason, last, since, pooled, expected", FRAME_TABLE)
def test_frame_action(reason, last, since, pooled, expected):
    assert frame_action(GateReason(reason), CameraSoFar(last, since, pooled)) is expected


# (gate reason, last published caption, the model's caption, its confidence, seconds since the
#  last publish, a pool member published a newer frame's caption) -> outcome
RULE_TABLE = [
    ("first", None, "a cat", 0.9, NEVER, False, Outcome.CHANGED),
    ("heartbeat", None, "a cat", 0.9, NEVER, False, Outcome.CHANGED),
    ("changed", "a cat", "a dog", 0.9, 5.0, False, Outcome.CHANGED),
    ("changed", "a cat", "a dog", 0.5, 5.0, False, Outcome.CHANGED),  # min_confidence itself is enough
    ("changed", "a cat", "a cat", 0.9, 5.0, False, Outcome.UNCHANGED),
    ("changed", "a cat", "a cat", 0.9, 59.9, False, Outcome.UNCHANGED),
    ("changed", "a cat", "a cat", 0.9, 60.0, False, Outcome.HEARTBEAT),  # a moving scene, the same words
    ("changed", "a cat", "a Cat", 0.9, 5.0, False, Outcome.CHANGED),  # any change of text
    ("forced", "a cat", "a cat", 0.9, 5.0, False, Outcome.FORCED),
    ("forced", "a cat", "a dog", 0.9, 5.0, False, Outcome.CHANGED),
    # under min_confidence nothing is the camera's caption, however it came
    ("changed", "a cat", "a dog", 0.4999, 5.0, False, Outcome.WITHHELD),
    ("first", None, "a cat", 0.1, NEVER, False, Outcome.WITHHELD),
    ("forced", "a cat", "a cat", 0.2, 5.0, False, Outcome.WITHHELD),
    ("changed", "a cat", "a cat", 0.2, 600.0, False, Outcome.WITHHELD),
    # the pool's fence: a newer frame's caption is out, whatever this one says
    ("changed", "a cat", "a dog", 0.9, 5.0, True, Outcome.SUPERSEDED),
    ("forced", "a cat", "a cat", 0.9, 5.0, True, Outcome.SUPERSEDED),
    ("changed", "a cat", "a dog", 0.1, 5.0, True, Outcome.SUPERSEDED),
]


@pytest.mark.parametrize("reason, last, caption, confidence, since, newer, expected", RULE_TABLE)
def test_publish_rule(reason, last, caption, confidence, since, newer, expected):
    so_far = CameraSoFar(last, since, pooled=newer, newer_published=newer)
    assert publish_rule(GateReason(reason), so_far, caption, confidence, MIN_CONFIDENCE,
                        HEARTBEAT_S) is expected


# -- the payload -----------------------------------------------------------------------------------------
WALL0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def stamp(t: float) -> str:
    """The payload's timestamp of a frame taken t seconds after WALL0."""
    return (WALL0 + timedelta(seconds=t)).isoformat(timespec="milliseconds")


@dataclasses.dataclass
class FakeFindings:
    found: dict

    def to_json(self) -> dict:
        return self.found


def test_caption_event_payload_is_the_wire_format():
    event = CaptionEvent(camera="porch", caption="a person at the door", confidence=0.876549,
                         language="en", timestamp=WALL0 + timedelta(seconds=1.23456),
                         model="default-en", latency_ms=123.456, seq=7)
    assert json.dumps(event.payload()) == (
        '{"camera": "porch", "caption": "a person at the door", "confidence": 0.8765, '
        '"language": "en", "timestamp": "2024-05-01T12:00:01.234+00:00", "model": "default-en", '
        '"latency_ms": 123.5, "seq": 7}')


def test_caption_event_payload_optional_keys_come_last_in_this_order():
    found = {"kinds": {"person": 1}, "objects": [], "classes": []}
    event = CaptionEvent(camera="porch", caption="a person", confidence=np.float32(0.25),
                         language="zh", timestamp=datetime(2024, 5, 1, 14, 0, 0, 999999,
                                                          tzinfo=timezone(timedelta(hours=2))),
                         model="m", latency_ms=7.04, seq=0, findings=FakeFindings(found),
                         truncated=True, withheld=withheld_reason(0.25, 0.95))
    payload = event.payload()
    assert list(payload) == ["camera", "caption", "confidence", "language", "timestamp", "model",
                             "latency_ms", "seq", "found", "truncated", "withheld"]
    assert payload["timestamp"] == "2024-05-01T12:00:00.999+00:00"  # to UTC, milliseconds cut
    assert type(payload["confidence"]) is float and payload["confidence"] == 0.25
    assert payload["latency_ms"] == 7.0
    assert payload["found"] == found and payload["truncated"] is True
    assert payload["withheld"] == "confidence 0.25 is below min_confidence 0.95"


def test_withheld_reason_agrees_with_the_rounded_confidence():
    assert withheld_reason(0.123456, 0.5) == "confidence 0.12 is below min_confidence 0.50"
    # 0.99996 is 1.0 in the payload, and so in the reason
    assert withheld_reason(0.99996, 1.0) == "confidence 1.00 is below min_confidence 1.00"


# -- whole workers, with fakes ---------------------------------------------------------------------------
def scene(x: int, y: int) -> np.ndarray:
    """A dark 128x96 frame with a bright block at (x, y): a different x or y is a scene change."""
    image = np.full((96, 128, 3), 30, np.uint8)
    image[y:y + 40, x:x + 30] = 220
    return image


SCENES = {"door": scene(10, 10), "door_moved": scene(20, 40), "street": scene(90, 50)}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedCamera:
    """Hands out the frames pushed to it, one per latest(); the clock reads each frame's time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.state = "streaming"
        self.last_progress = 0.0
        self.frames: deque[Frame] = deque()
        self.seq = 0

    def push(self, t: float, name: str) -> None:
        self.seq += 1
        self.frames.append(Frame(SCENES[name], self.seq, t, WALL0 + timedelta(seconds=t)))

    def latest(self, newer_than: int = 0, timeout: float | None = None) -> Frame | None:
        if not self.frames:
            time.sleep(min(timeout or 0.0, 0.01))
            return None
        frame = self.frames.popleft()
        assert frame.seq > newer_than
        self.clock.now = frame.monotonic
        return frame


@dataclasses.dataclass(frozen=True)
class FakeCaption:
    text: str
    confidence: float
    latency_ms: float = 40.0
    findings: FakeFindings | None = None
    truncated: bool = False


class TableEngine:
    """The captions of each scene, in turn (the last one again once the others are used)."""

    language = "en"
    model_name = "table-en"

    def __init__(self, table: dict[str, list[tuple[str, float]]]) -> None:
        self.table = {name: deque(captions) for name, captions in table.items()}
        self.calls: list[tuple[str, str | None]] = []

    def caption(self, image: np.ndarray, place: str | None = None, *,
                steady=None, regions=()) -> FakeCaption:
        # `steady` (events): these captions have no findings, so nothing is tracked
        name = next(n for n, s in SCENES.items() if s is image)
        self.calls.append((name, place))
        captions = self.table[name]
        text, confidence = captions.popleft() if len(captions) > 1 else captions[0]
        if text == "boom":
            raise RuntimeError("the interpreter failed")
        return FakeCaption(text, confidence)


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple] = []  # (method, camera, payload or state, snapshot)
        self.intervals: list[tuple[str, float, str]] = []  # (camera, seconds, thread)
        self.threads: list[str] = []

    def publish_caption(self, event: CaptionEvent, snapshot: bytes | None = None) -> None:
        self._record("caption", event.camera, event.payload(), snapshot)

    def publish_withheld(self, event: CaptionEvent) -> None:
        self._record("withheld", event.camera, event.payload(), None)

    def publish_state(self, camera: str, state: str) -> None:
        self._record("state", camera, state, None)

    def publish_interval(self, camera: str, seconds: float) -> None:
        # kept apart from calls and threads: a started worker says its interval first
        self.intervals.append((camera, seconds, threading.current_thread().name))

    def _record(self, *call) -> None:
        self.calls.append(call)
        self.threads.append(threading.current_thread().name)

    def events(self) -> list[tuple]:
        """("caption", seq, text, timestamp) | ("withheld", seq, text, timestamp) | ("state", state)"""
        return [(method, what) if method == "state" else
                (method, what["seq"], what["caption"], what["timestamp"])
                for method, _camera, what, _snapshot in self.calls]


def make_worker(table, **config):
    clock = FakeClock()
    camera = ScriptedCamera(clock)
    engine = TableEngine(table)
    sink = RecordingSink()
    settings = {"interval_s": 1.0, "heartbeat_s": 10.0, **config}
    worker = CameraWorker(CameraConfig(name="porch", source="fake", **settings), camera, engine, sink,
                          clock=clock)
    return worker, camera, engine, sink


def play(worker: CameraWorker, camera: ScriptedCamera, script) -> None:
    """(time, scene) frames, each handled by one pass of the loop on this thread."""
    for t, name in script:
        camera.push(t, name)
        worker.step()


TABLE = {"door": [("a person at the door", 0.9)], "door_moved": [("a person at the door", 0.8)],
         "street": [("an empty street", 0.7)]}


def test_a_static_scene_is_captioned_once_then_repeated_at_each_heartbeat():
    worker, camera, engine, sink = make_worker(TABLE)
    play(worker, camera, [(0, "door"), (1, "door"), (5, "door"), (10, "door"), (12, "street"),
                          (12.5, "door"), (13.5, "door"), (21, "door"), (23.5, "door")])
    assert sink.events() == [
        ("caption", 1, "a person at the door", stamp(0)),
        ("caption", 2, "a person at the door", stamp(10)),  # the gate's heartbeat: no model run
        ("caption", 3, "an empty street", stamp(12)),
        # 12.5: a change, too soon after 12 (interval_s 1): nothing, and not counted as unchanged
        ("caption", 4, "a person at the door", stamp(13.5)),
        ("caption", 5, "a person at the door", stamp(23.5)),  # 10 s after the caption at 13.5
    ]
    assert [name for name, _place in engine.calls] == ["door", "street", "door"]
    assert dataclasses.asdict(worker.stats) == {"captions": 3, "published": 5,
                                                "skipped_unchanged": 3, "withheld": 0, "superseded": 0,
                                                "fallbacks": 0, "events": 0}
    repeated = sink.calls[1][2]
    first = sink.calls[0][2]
    # a heartbeat is the last caption again: its confidence and latency, a new seq and timestamp
    assert repeated == dict(first, seq=2, timestamp=stamp(10))
    assert list(repeated) == list(first)


def test_a_moving_scene_with_the_same_caption_is_published_again_after_heartbeat_s():
    worker, camera, engine, sink = make_worker(TABLE)
    play(worker, camera, [(0, "door"), (3, "door_moved"), (6, "door"), (10, "door_moved"),
                          (12, "door")])
    # every frame is a change and is captioned, always with the same words: the heartbeat comes
    # from the rule, heartbeat_s after the last publish, with the new run's confidence
    assert sink.events() == [("caption", 1, "a person at the door", stamp(0)),
                             ("caption", 2, "a person at the door", stamp(10))]
    assert [p["confidence"] for _m, _c, p, _s in sink.calls] == [0.9, 0.8]
    assert len(engine.calls) == 5
    assert worker.stats.skipped_unchanged == 3


def test_captions_under_min_confidence_are_withheld_and_keep_the_last_seq():
    table = {"door": [("a blur", 0.3), ("a blur", 0.3), ("a person at the door", 0.95)],
             "street": [("an empty street", 0.7)]}
    worker, camera, engine, sink = make_worker(table, min_confidence=0.5)
    play(worker, camera, [(0, "door"), (10, "door"), (12, "street"), (14, "door"), (16, "street")])
    assert sink.events() == [
        ("withheld", 0, "a blur", stamp(0)),
        ("withheld", 0, "a blur", stamp(10)),  # a heartbeat with nothing to repeat runs the model
        ("caption", 1, "an empty street", stamp(12)),
        ("caption", 2, "a person at the door", stamp(14)),
        ("caption", 3, "an empty street", stamp(16)),
    ]
    assert sink.calls[0][2]["withheld"] == "confidence 0.30 is below min_confidence 0.50"
    assert "withheld" not in sink.calls[2][2]
    assert worker.stats.withheld == 2 and worker.stats.published == 3


def test_the_engine_gets_the_cameras_place_and_the_payload_its_names():
    worker, camera, engine, sink = make_worker(TABLE, place="front door")
    play(worker, camera, [(0, "door")])
    assert engine.calls == [("door", "front door")]
    payload = sink.calls[0][2]
    assert (payload["camera"], payload["language"], payload["model"], payload["latency_ms"]) == \
        ("porch", "en", "table-en", 40.0)


def test_a_snapshot_goes_with_a_captioned_frame_not_with_a_repeated_one():
    worker, camera, _engine, sink = make_worker(TABLE, snapshot=True)
    play(worker, camera, [(0, "door"), (10, "door")])
    snapshots = [snapshot for _m, _c, _p, snapshot in sink.calls]
    assert snapshots[0][:2] == b"\xff\xd8" and snapshots[1] is None


def test_a_failing_caption_is_logged_and_the_next_frame_is_captioned(caplog):
    table = {"door": [("boom", 0.9), ("a person at the door", 0.9)], "street": [("a street", 0.9)]}
    worker, camera, _engine, sink = make_worker(table)
    with caplog.at_level(logging.ERROR, logger="edge_captioner.service.worker"):
        play(worker, camera, [(0, "door"), (2, "street"), (4, "door")])
    assert "porch: captioning failed for frame 1" in caplog.text
    assert sink.events() == [("caption", 1, "a street", stamp(2)),
                             ("caption", 2, "a person at the door", stamp(4))]


def test_commands_are_recorded_by_the_caller_and_carried_out_by_the_loop():
    worker, camera, engine, sink = make_worker(TABLE)
    play(worker, camera, [(0, "door")])

    worker.pause()
    assert sink.events() == [("caption", 1, "a person at the door", stamp(0))]  # not yet
    play(worker, camera, [(2, "street"), (4, "door")])
    assert sink.events()[1:] == [("state", "paused")]  # and no caption while paused
    assert worker.paused and len(engine.calls) == 1

    worker.caption_now()  # while paused: one caption of the scene as it is
    play(worker, camera, [(5, "door"), (7, "street")])
    assert sink.events()[2:] == [("caption", 2, "a person at the door", stamp(5))]

    camera.state = "starting"  # the camera is being opened: "streaming" as far as MQTT is concerned
    worker.resume()
    worker.set_interval(5.0)
    assert len(sink.calls) == 3 and worker.paused and worker.gate.min_interval_s == 1.0
    play(worker, camera, [(11, "street"), (13, "door"), (16, "door")])
    assert sink.events()[3:] == [("state", "streaming"), ("caption", 3, "an empty street", stamp(11)),
                                 # 13: a change, 2 s after the last caption: too soon now
                                 ("caption", 4, "a person at the door", stamp(16))]
    assert worker.interval_s == 5.0 and worker.gate.min_interval_s == 5.0

    camera.state = "lost"
    worker.pause()
    worker.resume()  # the newest request wins: resumed, and the camera's state said again
    play(worker, camera, [(30, "street")])
    assert sink.events()[6:] == [("state", "lost"), ("caption", 5, "an empty street", stamp(30))]


def test_the_interval_is_published_when_the_worker_starts_and_after_each_set_interval():
    """Home Assistant's interval number reads it back: after a restart it shows the configured
    interval, not the last one it sent."""
    worker, _camera, _engine, sink = make_worker(TABLE, interval_s=0.5)
    worker.start()

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 5
        while len(sink.intervals) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    try:
        wait_for(1)
        worker.set_interval(2.5)
        wait_for(2)
        worker.set_interval(2.5)  # said again: the number may have been set on a stale value
        wait_for(3)
    finally:
        worker.stop(timeout=5)
    assert sink.intervals == [("porch", seconds, "worker-porch") for seconds in (0.5, 2.5, 2.5)]
    assert sink.calls == []


def test_caption_now_on_an_unchanged_scene_publishes_the_same_caption_again():
    worker, camera, engine, sink = make_worker(TABLE)
    play(worker, camera, [(0, "door"), (0.5, "door")])
    worker.caption_now()
    play(worker, camera, [(0.6, "door"), (0.7, "door")])  # forced even within interval_s
    assert sink.events() == [("caption", 1, "a person at the door", stamp(0)),
                             ("caption", 2, "a person at the door", stamp(0.6))]
    assert len(engine.calls) == 2


def test_a_lost_camera_gives_no_heartbeat_but_commands_still_apply():
    worker, camera, _engine, sink = make_worker(TABLE)
    play(worker, camera, [(0, "door")])
    camera.clock.now = 100.0  # long past heartbeat_s, and no frame
    worker.pause()
    worker.step()
    assert sink.events() == [("caption", 1, "a person at the door", stamp(0)), ("state", "paused")]


@pytest.mark.parametrize("command, state", [
    (Command("porch", "pause"), ("paused", 1.0)),
    (Command("porch", "set_interval", 2.5), ("streaming", 2.5)),
])
def test_the_daemons_command_table_dispatches_to_the_methods(command, state):
    worker, _camera, _engine, sink = make_worker(TABLE)
    COMMAND_HANDLERS[command.action](worker, command)
    worker.step()
    assert ("paused" if worker.paused else "streaming", worker.interval_s) == state


def test_the_running_loop_publishes_what_a_command_causes_on_its_own_thread():
    worker, camera, _engine, sink = make_worker(TABLE)
    worker.start()
    try:
        worker.pause()  # on this thread, as the MQTT thread would
        deadline = time.monotonic() + 5
        while not sink.calls and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        worker.stop(timeout=5)
    assert not worker._thread.is_alive()
    assert sink.events() == [("state", "paused")]
    assert sink.threads == ["worker-porch"]
