"""Camera against real OpenCV: the bundled clip, video files written here, and a real MJPEG-over-HTTP
server (tests/support/mjpeg_server.py) that is stopped, restarted and stalled under the camera's feet."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_captioner.config import CameraConfig
from edge_captioner.sources.camera import Camera
from edge_captioner.sources.frames import as_bgr, fit_within
from edge_captioner.sources.spec import SAMPLE_CLIP, resolve_source
from support.mjpeg_server import MJPEGServer

FAST_BACKOFF = {"backoff_initial_s": 0.1, "backoff_max_s": 0.3}


def wait_for(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def write_clip(path: Path, frames: int, fps: float = 10.0, size: tuple[int, int] = (96, 64)) -> Path:
    """An MJPG .avi whose frame i is uniformly gray at level 20 * i (so frames 0..11 tell their index)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (20 * i) % 240, np.uint8))
    writer.release()
    return path


def frame_index(image: np.ndarray) -> int:
    return round(float(image.mean()) / 20)


@pytest.fixture
def make_camera():
    """Camera factory; every camera is stopped at the end, and its state changes are recorded."""
    cameras: list[Camera] = []

    def make(source, *, states: list | None = None, **kwargs) -> Camera:
        config_keys = {"loop", "stall_timeout_s", "resolution", "max_frame_pixels"}
        config = CameraConfig(f"cam{len(cameras)}", source,
                              **{k: kwargs.pop(k) for k in list(kwargs) if k in config_keys})
        on_state = (lambda name, state: states.append(state)) if states is not None else None
        camera = Camera(config, on_state, **kwargs)
        cameras.append(camera)
        camera.start()
        return camera

    yield make
    for camera in cameras:
        camera.stop(timeout=2)


# -- resolve_source --------------------------------------------------------------------------------------
LINUX = sys.platform.startswith("linux")


@pytest.mark.parametrize("source, expected", [
    (0, (0, cv2.CAP_V4L2 if LINUX else cv2.CAP_ANY)),
    ("2", (2, cv2.CAP_V4L2 if LINUX else cv2.CAP_ANY)),
    ("/dev/video1", ("/dev/video1", cv2.CAP_V4L2)),
    ("rtsp://cam.local:554/stream1", ("rtsp://cam.local:554/stream1", cv2.CAP_FFMPEG)),
    ("rtsps://cam.local/s", ("rtsps://cam.local/s", cv2.CAP_FFMPEG)),
    ("http://10.0.0.5:8080/video.mjpg", ("http://10.0.0.5:8080/video.mjpg", cv2.CAP_FFMPEG)),
    ("https://cam.example/stream", ("https://cam.example/stream", cv2.CAP_FFMPEG)),
    ("libcamerasrc ! videoconvert ! appsink", ("libcamerasrc ! videoconvert ! appsink", cv2.CAP_GSTREAMER)),
])
def test_resolve_source(source, expected):
    assert resolve_source(source) == expected


def test_resolve_source_files():
    assert resolve_source("sample")[0] == str(SAMPLE_CLIP) and SAMPLE_CLIP.is_file()
    target, api = resolve_source("/srv/clips/porch.mp4")
    assert target == "/srv/clips/porch.mp4" and api in (cv2.CAP_FFMPEG, cv2.CAP_ANY)


# -- frames ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [
    None, np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 2), np.uint8),
    np.zeros((1, 9000), np.uint8), np.zeros((4,), np.uint8), "not an image",
])
def test_unusable_frames_are_refused(bad):
    image, problem = as_bgr(bad)
    assert image is None and problem


@pytest.mark.parametrize("shape", [(4, 6), (4, 6, 1), (4, 6, 3), (4, 6, 4)])
def test_usable_frames_become_bgr(shape):
    image, problem = as_bgr(np.full(shape, 7, np.uint8))
    assert problem is None and image.shape == (4, 6, 3) and image.dtype == np.uint8


def test_fit_within_only_shrinks_and_keeps_aspect():
    big = np.zeros((1080, 1920, 3), np.uint8)
    assert fit_within(big, (640, 480)).shape == (360, 640, 3)
    assert fit_within(big, None) is big
    small = np.zeros((120, 160, 3), np.uint8)
    assert fit_within(small, (640, 480)) is small


# -- files ----------------------------------------------------------------------------------------------
def test_sample_clip_plays_at_its_frame_rate(make_camera):
    states = []
    camera = make_camera("sample", states=states)
    first = camera.latest(timeout=5)
    assert first is not None
    # the supervisor announces "streaming" soon after the first frame (the callback runs
    # just after the state is set: wait for both, not one then the other)
    assert wait_for(lambda: camera.state == "streaming" and states == ["streaming"], timeout=2.0)
    assert first.image.dtype == np.uint8 and first.image.shape == (240, 320, 3)
    assert first.wall.utcoffset().total_seconds() == 0
    start = camera.frames_read
    time.sleep(1.0)
    assert 6 <= camera.frames_read - start <= 15  # the clip is 10 fps: played, not decoded flat out


def test_latest_skips_to_the_newest_frame(make_camera):
    camera = make_camera("sample")
    first = camera.latest(timeout=5)
    time.sleep(0.5)  # ~5 frames arrive that nobody asks for
    newest = camera.latest(newer_than=first.seq, timeout=1)
    assert newest.seq >= first.seq + 3 and newest.seq >= camera.frames_read - 1
    assert newest.monotonic > first.monotonic
    seqs = [newest.seq]
    for _ in range(3):
        seqs.append(camera.latest(newer_than=seqs[-1], timeout=1).seq)
    assert seqs == sorted(set(seqs))
    assert camera.latest(newer_than=10**9, timeout=0.05) is None


def test_file_loops_from_the_start(make_camera, tmp_path):
    clip = write_clip(tmp_path / "one_second.avi", frames=10)
    camera = make_camera(str(clip), loop=True)
    seen = []
    seq = 0
    deadline = time.monotonic() + 2.6
    while time.monotonic() < deadline:
        frame = camera.latest(newer_than=seq, timeout=0.5)
        if frame is not None:
            seq = frame.seq
            seen.append(frame_index(frame.image))
    assert seen.count(0) >= 2 and 9 in seen  # played to the end, then again from the start
    assert 20 <= camera.frames_read <= 30 and camera.state == "streaming"
    assert camera.reopen_count == 0  # a loop is not a failure


def test_file_without_loop_ends(make_camera, tmp_path):
    clip = write_clip(tmp_path / "one_second.avi", frames=10)
    states = []
    camera = make_camera(str(clip), loop=False, states=states)
    assert wait_for(lambda: camera.state == "ended", timeout=4)
    assert camera.frames_read == 10 and states == ["streaming", "ended"]
    last = camera.latest()
    assert frame_index(last.image) == 9
    started = time.monotonic()
    assert camera.latest(newer_than=last.seq, timeout=None) is None  # nothing more will come: no hang
    assert time.monotonic() - started < 0.5


def test_frames_larger_than_the_resolution_are_shrunk(make_camera, tmp_path):
    clip = write_clip(tmp_path / "big.avi", frames=3, size=(320, 240))
    camera = make_camera(str(clip), resolution=(160, 160))
    assert camera.latest(timeout=5).image.shape == (120, 160, 3)


def test_a_source_whose_frames_are_over_the_pixel_limit_is_lost_before_a_frame_is_read(
        make_camera, tmp_path, caplog):
    """OpenCV's decoder (FFmpeg, the driver) is not ours: the size the capture reports when it
    opens is checked before any frame is read, and the camera goes lost saying why."""
    clip = write_clip(tmp_path / "big.avi", frames=30, size=(320, 240))
    camera = make_camera(str(clip), max_frame_pixels=4096, **FAST_BACKOFF)
    assert wait_for(lambda: camera.state == "lost", timeout=3)
    assert camera.latest(timeout=0.3) is None and camera.frames_read == 0
    assert any("its frames are 320x240 pixels, over the limit of 4096 (max_frame_pixels)"
               in r.getMessage() for r in caplog.records)


def test_missing_file_is_lost_and_retried_with_backoff(make_camera, tmp_path):
    path = tmp_path / "later.avi"
    states = []
    camera = make_camera(str(path), states=states, **FAST_BACKOFF)
    assert wait_for(lambda: camera.state == "lost", timeout=2)
    time.sleep(1.0)
    # delays of 0.1 -> 0.2 -> 0.3 s (+-20 %): about 4-6 reopens in a second, never 10 (no busy loop)
    assert 3 <= camera.reopen_count <= 9
    assert camera.latest(timeout=0.1) is None
    write_clip(tmp_path / "staging.avi", frames=30).rename(path)  # the file appears
    assert wait_for(lambda: camera.state == "streaming", timeout=3)
    assert states == ["lost", "streaming"]


def test_backoff_grows_exponentially_with_jitter_within_bounds():
    camera = Camera(CameraConfig("c", "sample"), backoff_initial_s=1.0, backoff_max_s=60.0)
    expected = [(1, 1.0, 1.2), (2, 1.6, 2.4), (4, 6.4, 9.6), (7, 48.0, 60.0), (500, 48.0, 60.0)]
    for failures, low, high in expected:
        delays = [camera._backoff_delay(failures) for _ in range(200)]
        assert low <= min(delays) and max(delays) <= high, failures
        assert len(set(delays)) > 100  # jittered, so cameras behind one switch spread out


def test_stop_is_prompt_during_a_backoff_wait(make_camera):
    camera = make_camera("/nonexistent/clip.mp4", backoff_initial_s=30.0, backoff_max_s=60.0)
    assert wait_for(lambda: camera.state == "lost", timeout=2)
    time.sleep(1.5)
    assert time.monotonic() - camera.last_progress < 1.2  # the watchdog sees a live loop while it waits
    started = time.monotonic()
    camera.stop(timeout=5)
    assert time.monotonic() - started < 1.0
    assert camera.latest(timeout=None) is None  # stopped: returns at once


# -- a network camera (MJPEG over HTTP) --------------------------------------------------------------------
@pytest.fixture
def mjpeg():
    server = MJPEGServer(fps=20).start()
    yield server
    server.stop()


def test_network_camera_lost_and_back(mjpeg, make_camera):  # cameras stop before the server
    states = []
    camera = make_camera(mjpeg.url, states=states, stall_timeout_s=2.0, **FAST_BACKOFF)
    assert wait_for(lambda: camera.state == "streaming", timeout=5)
    before = camera.latest(timeout=1)
    assert before.image.shape == (120, 160, 3)

    mjpeg.stop()  # the camera goes away, connections and all
    assert wait_for(lambda: camera.state == "lost", timeout=3)
    time.sleep(0.5)  # a few refused reconnections
    assert camera.reopen_count >= 1

    mjpeg.start()  # back on the same port
    assert wait_for(lambda: camera.state == "streaming", timeout=5)
    after = camera.latest(newer_than=before.seq, timeout=2)
    assert after is not None and after.seq > before.seq
    # the callback runs just after the state changes: wait for it rather than race it
    assert wait_for(lambda: states == ["streaming", "lost", "streaming"], timeout=2), states


def test_stalled_stream_is_detected_and_recovered(mjpeg, make_camera):  # cameras stop before the server
    states = []
    stall_timeout = 1.0
    camera = make_camera(mjpeg.url, states=states, stall_timeout_s=stall_timeout, **FAST_BACKOFF)
    other = make_camera("sample")  # cameras are independent
    assert wait_for(lambda: camera.state == "streaming", timeout=5)

    mjpeg.stall()  # the connection stays open, nothing arrives: read() blocks
    stalled_at = time.monotonic()
    assert wait_for(lambda: camera.state == "lost", timeout=stall_timeout + 2)
    assert time.monotonic() - stalled_at <= stall_timeout + 1.0
    assert other.state == "streaming"
    other_seq = other.latest().seq
    assert other.latest(newer_than=other_seq, timeout=1) is not None

    mjpeg.stall(False)
    assert wait_for(lambda: camera.state == "streaming", timeout=5)
    # the callback runs just after the state changes: wait for it rather than race it
    assert wait_for(lambda: states == ["streaming", "lost", "streaming"], timeout=2), states


def test_stop_is_prompt_during_a_blocked_read(mjpeg, make_camera):  # cameras stop before the server
    camera = make_camera(mjpeg.url, stall_timeout_s=30.0)
    assert wait_for(lambda: camera.state == "streaming", timeout=5)
    mjpeg.stall()
    time.sleep(0.5)  # the reader is now inside a read() that will not return for 31 s
    started = time.monotonic()
    camera.stop(timeout=5)
    assert time.monotonic() - started < 1.0
