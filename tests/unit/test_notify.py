"""sd_notify against a real AF_UNIX datagram socket, as systemd listens for it."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path

import pytest

from edge_captioner.service import notify


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def _receiver(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    return sock


@pytest.fixture
def systemd_socket(clean_env):
    """A socket file like /run/systemd/notify; AF_UNIX paths are short (108 bytes), so not tmp_path."""
    with tempfile.TemporaryDirectory(prefix="sdn") as folder:
        path = str(Path(folder) / "notify")
        with _receiver(path) as sock:
            clean_env.setenv("NOTIFY_SOCKET", path)
            yield sock


def messages(sock: socket.socket, timeout: float = 0.3, limit: int = 50) -> list[str]:
    """Everything received until the socket stays quiet for `timeout` (at most `limit` messages, so
    that a watchdog that never stops pinging fails the test instead of hanging it)."""
    got = []
    sock.settimeout(timeout)
    try:
        while len(got) < limit:
            got.append(sock.recv(4096).decode())
    except TimeoutError:
        pass
    return got


def test_ready_status_stopping_and_ping_arrive_as_single_datagrams(systemd_socket):
    assert notify.ready("captioning 1 camera(s)")
    assert notify.status("2 cameras,\n5 captions")
    assert notify.watchdog_ping()
    assert notify.stopping()
    assert messages(systemd_socket) == [
        "READY=1\nSTATUS=captioning 1 camera(s)",
        "STATUS=2 cameras, 5 captions",  # a newline would start a new assignment: flattened
        "WATCHDOG=1",
        "STOPPING=1",
    ]


def test_abstract_namespace_socket(clean_env):
    name = f"edge-captioner-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with _receiver("\0" + name) as sock:
        clean_env.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify.ready()
        assert sock.recv(4096) == b"READY=1"


def test_not_under_systemd_is_a_quiet_no(clean_env):
    assert notify.sd_notify("READY=1") is False
    assert notify.ready("x") is False
    assert notify.watchdog_interval_s() is None


def test_unreachable_socket_is_false_not_an_error(clean_env, tmp_path):
    clean_env.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert notify.watchdog_ping() is False


@pytest.mark.parametrize("usec,pid,expected", [
    ("30000000", None, 30.0),
    ("30000000", "self", 30.0),
    ("30000000", "1", None),  # meant for another process
    ("0", None, None),
    ("soon", None, None),
    (None, None, None),
])
def test_watchdog_interval(clean_env, usec, pid, expected):
    if usec is not None:
        clean_env.setenv("WATCHDOG_USEC", usec)
    if pid is not None:
        clean_env.setenv("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)
    assert notify.watchdog_interval_s() == expected


def test_watchdog_pings_while_healthy_then_stops(systemd_socket, clean_env):
    clean_env.setenv("WATCHDOG_USEC", "100000")  # 0.1 s: pings every 0.05 s
    clean_env.setenv("WATCHDOG_PID", str(os.getpid()))
    healthy = [True]
    watchdog = notify.Watchdog(lambda: healthy[0])
    watchdog.start()
    try:
        assert systemd_socket.recv(4096) == b"WATCHDOG=1"
        assert systemd_socket.recv(4096) == b"WATCHDOG=1"
        healthy[0] = False
        messages(systemd_socket, timeout=0.3)  # drain what was sent before the check failed
        assert messages(systemd_socket, timeout=0.3) == []
        assert watchdog.failed
    finally:
        watchdog.stop()


def test_watchdog_treats_a_raising_check_as_unhealthy(systemd_socket):
    def broken() -> bool:
        raise RuntimeError("boom")

    watchdog = notify.Watchdog(broken, interval_s=0.1)
    watchdog.start()
    try:
        assert messages(systemd_socket, timeout=0.3) == []
        assert watchdog.failed
    finally:
        watchdog.stop()


def test_watchdog_without_systemd_does_nothing(clean_env):
    watchdog = notify.Watchdog(lambda: True)
    watchdog.start()
    watchdog.stop()
    assert watchdog.pings == 0 and not watchdog.failed
