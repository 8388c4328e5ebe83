"""A private, real Mosquitto broker for tests: its own port, config, password and ACL files.

    with MosquittoBroker(tmp_path, users={"cam": "s3cret"}, allow_anonymous=False) as broker:
        ... broker.port ...
        broker.restart()            # same port, same files (and no retained store unless persistence)
        broker.set_users({...})     # rewrite the password file ...
        broker.reload()             # ... and make the running broker re-read it (SIGHUP)

or a factory fixture built on `broker_factory` below (it takes the same keyword arguments and stops
every broker it started even when the test fails). The mosquitto process is also asked to die
with the test process (PR_SET_PDEATHSIG) so that a killed pytest run leaves no orphan broker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def free_port() -> int:
    """A TCP port that nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the broker when the test process dies (Linux only; best effort)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except Exception:  # noqa: BLE001 - not Linux: the fixture's cleanup still applies
        pass


class MosquittoBroker:
    """One mosquitto process on 127.0.0.1:`port` with a config written under `workdir`.

    users: {name: password} -> a password file made with `mosquitto_passwd`;
    acl: the text of an ACL file (mosquitto's syntax), None for no ACL;
    persistence: keep retained messages and sessions across restart() (in workdir);
    extra: more config lines, appended as is (e.g. TLS options for the listener).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        allow_anonymous: bool = True,
        users: dict[str, str] | None = None,
        acl: str | None = None,
        persistence: bool = False,
        extra: str = "",
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.allow_anonymous = allow_anonymous
        self.users = dict(users or {})
        self.acl = acl
        self.persistence = persistence
        self.extra = extra
        self.process: subprocess.Popen | None = None
        self.conf_path = self.workdir / "mosquitto.conf"
        self.passwd_path = self.workdir / "passwd"
        self.acl_path = self.workdir / "acl"
        self.log_path = self.workdir / "mosquitto.log"

    # -- files -----------------------------------------------------------------------------------
    def write_config(self) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
            f"persistence {'true' if self.persistence else 'false'}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root, mosquitto switches to the `mosquitto` user, which cannot read pytest's
            # private tmp_path (password file, ACL, persistence): stay who we are instead.
            lines.append("user root")
        if self.persistence:
            lines += [f"persistence_location {self.workdir}/", "autosave_interval 1"]
        if self.users or not self.allow_anonymous:
            self.write_users()
            lines.append(f"password_file {self.passwd_path}")
        if self.acl is not None:
            self.acl_path.write_text(self.acl)
            lines.append(f"acl_file {self.acl_path}")
        if self.extra:
            lines.append(self.extra)
        self.conf_path.write_text("\n".join(lines) + "\n")

    def write_users(self) -> None:
        self.passwd_path.write_text("")
        for name, password in self.users.items():
            subprocess.run([MOSQUITTO_PASSWD, "-b", str(self.passwd_path), name, password],
                           check=True, capture_output=True, timeout=30)
        # mosquitto 2.x warns about (and will one day refuse) world-readable password files
        self.passwd_path.chmod(0o600)

    def set_users(self, users: dict[str, str]) -> None:
        """Rewrite the password file; call reload() for a running broker to pick it up."""
        self.users = dict(users)
        self.write_users()

    # -- process -----------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        if self.running:
            return self
        self.write_config()
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child from here on
        try:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not listen on {self.port} in {timeout} s:\n{self.log()}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait (SIGKILL if it does not go); closes every client connection."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: the broker vanishes without saving anything."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: the broker keeps its connections open but answers nothing (no PUBACK)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def restart(self, down_for: float = 0.0) -> MosquittoBroker:
        """Stop, optionally stay down for `down_for` seconds, start again on the same port."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        return self.start()

    def reload(self) -> None:
        """SIGHUP: mosquitto re-reads its password and ACL files."""
        if not self.running:
            raise RuntimeError("mosquitto is not running")
        self.process.send_signal(signal.SIGHUP)
        # The reload is asynchronous; mosquitto handles the signal in its next loop turn.
        time.sleep(0.3)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"MosquittoBroker(port={self.port}, running={self.running})"


@contextlib.contextmanager
def mosquitto(workdir: Path, **options) -> Iterator[MosquittoBroker]:
    """A started private broker for the `with` block; stopped on the way out, error or not."""
    broker = MosquittoBroker(workdir, **options)
    try:
        yield broker.start()
    finally:
        broker.stop()


def broker_factory(tmp_path: Path) -> Iterator:
    """The body of a factory fixture: `make(**options)` -> a started MosquittoBroker (or not
    started, with start=False); every broker it made is stopped at teardown, pass or fail.

        @pytest.fixture
        def mosquitto_broker(tmp_path):
            yield from broker_factory(tmp_path)
    """
    made: list[MosquittoBroker] = []

    def make(start: bool = True, **options) -> MosquittoBroker:
        broker = MosquittoBroker(tmp_path / f"mosquitto{len(made)}", **options)
        made.append(broker)
        return broker.start() if start else broker

    try:
        yield make
    finally:
        for broker in made:
            broker.stop()


# -- a test-side MQTT client ---------------------------------------------------------------------------
@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    at: float  # time.monotonic() on arrival


class MQTTCollector:
    """A real subscriber that records every message; re-subscribes by itself after a reconnect.

        with MQTTCollector(broker.port, ["base/#"]) as sub:
            ...
            sub.wait_for(lambda m: m.topic == "base/x", timeout=5)
    """

    def __init__(self, port: int, topics: list[str], *, host: str = "127.0.0.1", qos: int = 1,
                 username: str | None = None, password: str | None = None,
                 client_id: str | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.host, self.port, self.topics, self.qos = host, port, topics, qos
        self.messages: list[Received] = []
        self.subscriptions = 0  # SUBACKs received: one per (re)connection
        self._cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"collector-{uuid.uuid4().hex[:8]}")
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.subscribe([(topic, self.qos) for topic in self.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._cond:
            self.subscriptions += 1
            self._cond.notify_all()

    def _on_message(self, client, userdata, message) -> None:
        with self._cond:
            self.messages.append(Received(message.topic, bytes(message.payload), message.qos,
                                          bool(message.retain), time.monotonic()))
            self._cond.notify_all()

    def start(self, timeout: float = 5.0) -> MQTTCollector:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self.wait_subscribed(1, timeout)
        return self

    def wait_subscribed(self, count: int = 1, timeout: float = 5.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.subscriptions >= count, timeout):
                raise TimeoutError(f"subscriber on port {self.port} not subscribed ({self.subscriptions})")

    def wait_for(self, predicate, count: int = 1, timeout: float = 5.0) -> list[Received]:
        """The messages matching `predicate` once there are at least `count` (TimeoutError else)."""
        def matching() -> list[Received]:
            return [m for m in self.messages if predicate(m)]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                seen = [(m.topic, m.payload[:60]) for m in self.messages[-10:]]
                raise TimeoutError(f"{len(matching())}/{count} matching messages after {timeout} s; "
                                   f"last seen: {seen}")
            return matching()

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MQTTCollector:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def publish(port: int, topic: str, payload: bytes | str | None, *, retain: bool = False, qos: int = 1,
            host: str = "127.0.0.1", username: str | None = None, password: str | None = None) -> None:
    """Publish one message with a fresh client and return once the broker has it (QoS 1)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    if username is not None:
        client.username_pw_set(username, password)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def clear_retained(port: int, topic_filters: list[str], host: str = "127.0.0.1") -> int:
    """Delete every retained message under `topic_filters` (tests on a shared broker clean up)."""
    collector = MQTTCollector(port, topic_filters, host=host).start()
    time.sleep(0.3)  # the broker delivers retained messages right after the SUBACK
    collector.stop()
    topics = {m.topic for m in collector.messages if m.retain and m.payload}
    for topic in topics:
        publish(port, topic, None, retain=True, host=host)
    return len(topics)
