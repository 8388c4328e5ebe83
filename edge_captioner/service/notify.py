"""systemd service notifications (sd_notify) and the watchdog, without libsystemd.

systemd documents the protocol as stable and recommends speaking it directly: one datagram of
newline-separated VAR=value assignments to the AF_UNIX socket named by $NOTIFY_SOCKET (a leading
'@' means Linux's abstract namespace). Outside systemd (no $NOTIFY_SOCKET) every call is a no-op
that returns False, so the daemon calls these unconditionally.

With `Type=notify` and `WatchdogSec=`, systemd sets $WATCHDOG_USEC (and $WATCHDOG_PID) and kills
and restarts the service when WATCHDOG=1 does not arrive in time. `Watchdog` pings only while the
daemon's own health check passes, so a wedged loop (not just a dead process) gets us restarted.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"


def _socket_address(name: str) -> str | None:
    if name.startswith("@"):
        return "\0" + name[1:]  # abstract namespace: no file, the name starts with a NUL byte
    if name.startswith("/"):
        return name
    # systemd >= 254 may also hand out vsock: addresses (for VMs): not a case for a camera board.
    log.debug("unsupported %s address %r: notifications disabled", NOTIFY_SOCKET_ENV, name)
    return None


def sd_notify(message: str) -> bool:
    """Send `message` (e.g. "READY=1\\nSTATUS=...") to systemd as ONE datagram.

    True when it was sent; False when not running under systemd or when sending failed (logged at
    debug level: a notification must never take the daemon down)."""
    name = os.environ.get(NOTIFY_SOCKET_ENV)
    if not name:
        return False
    address = _socket_address(name)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode("utf-8"), address)
    except OSError as exc:
        log.debug("sd_notify(%r) failed: %s", message, exc)
        return False
    return True


def _one_line(text: str) -> str:
    # A newline inside STATUS= would start a new assignment in the datagram.
    return " ".join(text.split())


def ready(status_text: str | None = None) -> bool:
    """Start-up is complete (Type=notify: `systemctl start` returns now)."""
    message = "READY=1"
    if status_text:
        message += f"\nSTATUS={_one_line(status_text)}"
    return sd_notify(message)


def status(text: str) -> bool:
    """A one-line status shown by `systemctl status`."""
    return sd_notify(f"STATUS={_one_line(text)}")


def stopping() -> bool:
    """Shutdown has begun (systemd then waits for the exit instead of reporting a failure)."""
    return sd_notify("STOPPING=1")


def watchdog_ping() -> bool:
    return sd_notify("WATCHDOG=1")


def watchdog_interval_s() -> float | None:
    """systemd's watchdog timeout in seconds (WatchdogSec=), or None when there is no watchdog for
    this process. Ping at half of it, as sd_watchdog_enabled(3) recommends, so that one late tick
    does not get us killed."""
    pid = os.environ.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None  # the variables were meant for another process (we are its child)
        except ValueError:
            return None
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None


class Watchdog:
    """Pings systemd's watchdog every interval/2 while `check()` says the daemon makes progress.

    The first time `check()` returns False (or raises) it logs once and stops pinging for good:
    systemd then kills and restarts the service (Restart=on-failure). Without a systemd watchdog
    (`interval_s` None and no $WATCHDOG_USEC) `start()` does nothing.
    """

    def __init__(self, check: Callable[[], bool], interval_s: float | None = None):
        self.check = check
        self.interval_s = interval_s
        self.failed = False
        self.pings = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        interval = self.interval_s if self.interval_s is not None else watchdog_interval_s()
        if interval is None:
            log.debug("no systemd watchdog for this process")
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval / 2,), name="watchdog",
                                        daemon=True)
        self._thread.start()
        log.debug("systemd watchdog: pinging every %.1f s", interval / 2)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _healthy(self) -> bool:
        try:
            return bool(self.check())
        except Exception:  # noqa: BLE001 - a broken health check means unhealthy, not a dead thread
            log.exception("watchdog health check failed")
            return False

    def _run(self, period_s: float) -> None:
        while True:
            if not self._healthy():
                self.failed = True
                log.error("watchdog: the daemon is not making progress; no longer pinging systemd, "
                          "which will restart the service")
                return
            if watchdog_ping():
                self.pings += 1
            if self._stop.wait(period_s):
                return
