"""Fixtures and markers for every suite. The suites are folders, by what their tests need:

    unit/        pure code: no broker, no TensorFlow, no subprocess, no interpreter (seconds)
    device/      real TFLite interpreters on real bundles, OpenCV captures, the CLI as processes
    service/     a real Mosquitto: the MQTT session, daemons as processes, faults
    conversion/  the workstation toolkit: training and converting need TensorFlow (the `convert`
                 extra); those tests skip, each saying so, where it is not installed

Each test gets its folder's marker (`-m unit`...). The device tests load tiny bundles committed
under tests/data/bundles (tiny_bundles, tiny_int8_decoder_bundles, tiny_attention_bundles), which
tests/make_test_bundles.py regenerates; the conversion tests train that same recipe once per run
(conversion/conftest.py), for all xdist workers (support/once.py). Both caption the same
synthetic images (tiny_test_data: `synth`, no TensorFlow, under a second). The broker fixtures
are here, once: `shared_port` (the machine's Mosquitto on 1883, or a private one) and
`mosquitto_broker` (private brokers with any settings).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from make_test_bundles import (
    TEST_SYNTH,
    TINY,
    TINY_ATTENTION,
    TINY_INT8_DECODER,
    TRAIN_SYNTH,
    committed,
    synth,
)
from support.mosquitto import MosquittoBroker, broker_factory, port_open
from support.once import once_per_run

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SUITES = ("unit", "device", "service", "conversion")
HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None


def pytest_collection_modifyitems(config, items):
    for item in items:
        suite = Path(str(item.fspath)).parent.name
        if suite in SUITES:
            item.add_marker(getattr(pytest.mark, suite))
        if not HAS_TENSORFLOW and item.get_closest_marker("tensorflow") is not None:
            item.add_marker(pytest.mark.skip(
                reason="needs TensorFlow: the workstation extra, pip install -e '.[convert]'"))


# -- data and bundles --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return once_per_run(tmp_path_factory, "synth-train",
                        lambda out: synth(out / "train", TRAIN_SYNTH, workers=2)) / "train"


@pytest.fixture(scope="session")
def tiny_test_data(tmp_path_factory) -> Path:
    return once_per_run(tmp_path_factory, "synth-test",
                        lambda out: synth(out / "test", TEST_SYNTH)) / "test"


@pytest.fixture(scope="session")
def tiny_bundles() -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of the tiny model, as committed: never write into them."""
    return committed(TINY)


@pytest.fixture(scope="session")
def tiny_int8_decoder_bundles() -> tuple[Path, Path]:
    """The tiny model with the pure-int8 decoder (as the shipped bundles), and its float twin."""
    return committed(TINY_INT8_DECODER)


@pytest.fixture(scope="session")
def tiny_attention_bundles() -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of the tiny attention model, as committed."""
    return committed(TINY_ATTENTION)


@pytest.fixture
def python_exe() -> str:
    return sys.executable


# -- brokers -----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def shared_port(tmp_path_factory) -> int:
    """The machine's broker on 1883, or a private one for the session where none runs."""
    if port_open("127.0.0.1", 1883):
        yield 1883
        return
    broker = MosquittoBroker(tmp_path_factory.mktemp("shared-mosquitto")).start()
    try:
        yield broker.port
    finally:
        broker.stop()


@pytest.fixture
def mosquitto_broker(tmp_path):
    """mosquitto_broker(start=True, **MosquittoBroker options) -> a private broker on a free port,
    stopped after the test."""
    yield from broker_factory(tmp_path)
