"""The service suites' fixtures: unique topic names on the shared broker, the daemon runner, and two
real scenes as JPEGs (the broker fixtures are in tests/conftest.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest

from support.daemons import Daemon, Names, child_env
from support.mosquitto import clear_retained


@pytest.fixture
def names(shared_port) -> Names:
    unique = uuid.uuid4().hex[:10]
    result = Names(f"dev-{unique}", f"ectest_{unique}", f"ha_{unique}")
    yield result
    clear_retained(shared_port, [f"{result.base_topic}/#", f"{result.prefix}/#"])


@pytest.fixture
def run_daemon(tmp_path, request):
    """run_daemon(config, **env) -> a started Daemon; killed at teardown, where the log of a failed
    test's daemon is printed (pytest shows it under "Captured stdout teardown")."""
    started: list[Daemon] = []
    failed_before = request.session.testsfailed

    def start(config: Path, **env: str) -> Daemon:
        daemon = Daemon(config, tmp_path / f"daemon{len(started)}.log", child_env(**env))
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()
        if request.session.testsfailed > failed_before:  # the call phase is reported before teardown
            print(daemon.tail(8000))


@pytest.fixture(scope="module")
def two_scenes(tiny_bundles, tiny_test_data) -> tuple[bytes, bytes]:
    """JPEGs of two held-out synthetic scenes that the scene-change gate tells apart (over 3 % of
    the thumbnail changes; the threshold is 2 %) and that the tiny model captions differently:
    alternating them makes a new caption at every interval, so "captions are flowing" needs no
    heartbeat. The pair is searched for among the tiny model's own test images (its words change
    whenever training changes), and both properties are checked here, in-process."""
    from edge_captioner.model.captioner import Captioner
    from edge_captioner.service.gate import change_between, thumbnail

    captioner = Captioner(str(tiny_bundles[0]))
    paths = sorted((tiny_test_data / "images").glob("*.jpg"))[:20]
    scenes = []
    for path in paths:
        jpeg = path.read_bytes()
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        scenes.append((jpeg, image, captioner.caption(image).text))
    for k, (jpeg_a, image_a, text_a) in enumerate(scenes):
        for jpeg_b, image_b, text_b in scenes[k + 1:]:
            if text_a != text_b and change_between(thumbnail(image_a), thumbnail(image_b)) > 0.03:
                return jpeg_a, jpeg_b
    raise AssertionError(f"no two test scenes that the tiny model captions differently: "
                         f"{sorted({text for _, _, text in scenes})}")
