"""`edge-captioner watch`: print captions, camera states and device status as they arrive.

One line per message on stdout, flushed (so `| grep` and `| tee` see lines at once); retained
messages (the last known values, delivered at subscription) are marked "(retained)". Connection
news goes to stderr. Runs until SIGINT/SIGTERM (exit 0); keeps retrying while the broker is
unreachable; a broker that refuses our credentials (or a TLS failure) is a configuration error:
one line, exit 2.

    2026-11-27 09:30:01  porch-pi/front_door  a person at the front door  (0.91, 43 ms)
    2026-11-27 09:30:07  porch-pi/front_door  state: lost
    2026-11-27 09:30:09  porch-pi  status: offline
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import ssl
import sys
import threading
from datetime import datetime
from typing import TextIO

import paho.mqtt.client as mqtt

from ..config import MQTTConfig
from ..errors import EXIT_OK, BadInput
from ..mqtt import topics
from ..mqtt.client import (
    REFUSED,
    connect_async,
    describe_connect_error,
    make_client,
    new_watch_client_id,
    reason_text,
)

PROG = "edge-captioner watch"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def cmd_watch(args: argparse.Namespace) -> int:
    from .support import chosen_config

    config = chosen_config(args)
    return watch(config.mqtt, json_mode=getattr(args, "json", False))


# -- formatting (pure) ---------------------------------------------------------------------------------
def _clean(value: object) -> str:
    """One line of printable text: a hostile payload can neither break the one-line-per-message
    promise nor send escape sequences to the terminal."""
    text = " ".join(str(value).split())
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def _local_time(timestamp: object, received: datetime) -> str:
    if isinstance(timestamp, str):
        try:
            when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
            # A naive timestamp breaks docs/contract.md (UTC, ISO 8601); show it as given rather than guess.
            return (when.astimezone() if when.tzinfo else when).strftime(TIME_FORMAT)
        except ValueError:
            pass
    return received.strftime(TIME_FORMAT)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


WATCHED = (topics.CAPTION, topics.STATE, topics.STATUS, topics.EVENT)  # the leaves `watch` shows


def split_topic(topic: str, base_topic: str) -> tuple[str, str | None, str] | None:
    """(device, camera, leaf) of a topic `watch` shows (camera None for the status); else None."""
    parts = topics.split(topic, base_topic)
    return parts if parts is not None and parts[2] in WATCHED else None


def format_message(
    topic: str,
    payload: bytes,
    base_topic: str,
    *,
    retained: bool = False,
    json_mode: bool = False,
    received: datetime | None = None,
) -> str | None:
    """The line `watch` prints for one message, or None for a topic it does not know."""
    parts = split_topic(topic, base_topic)
    if parts is None:
        return None
    device, camera, leaf = parts
    received = received or datetime.now()
    text = payload.decode("utf-8", errors="replace")
    if json_mode:
        return _json_line(topic, device, camera, leaf, text)
    suffix = "  (retained)" if retained else ""
    if leaf == topics.STATUS:
        return f"{received.strftime(TIME_FORMAT)}  {_clean(device)}  status: {_clean(text)}{suffix}"
    where = f"{_clean(device)}/{_clean(camera)}"
    if leaf == topics.STATE:
        return f"{received.strftime(TIME_FORMAT)}  {where}  state: {_clean(text)}{suffix}"
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if leaf == topics.EVENT and isinstance(data, dict) and "sentence" in data:
        when = _local_time(data.get("start" if data.get("phase") == "start" else "end"), received)
        kind = f"{_clean(str(data.get('type')))} {_clean(str(data.get('phase')))}"
        return f"{when}  {where}  event {kind}: {_clean(str(data['sentence']))}{suffix}"
    if not isinstance(data, dict) or "caption" not in data:
        shown = _clean(repr(payload[:100]))
        return f"{received.strftime(TIME_FORMAT)}  {where}  (not a caption: {shown}){suffix}"
    details = []
    confidence, latency = _number(data.get("confidence")), _number(data.get("latency_ms"))
    if confidence is not None:
        details.append(f"{confidence:.2f}")
    if latency is not None:
        details.append(f"{latency:.0f} ms")
    extra = f"  ({', '.join(details)})" if details else ""
    when = _local_time(data.get("timestamp"), received)
    return f"{when}  {where}  {_clean(data['caption'])}{extra}{suffix}"


def _json_line(topic: str, device: str, camera: str | None, leaf: str, text: str) -> str:
    if leaf in (topics.CAPTION, topics.EVENT):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        obj = {"topic": topic, **data} if isinstance(data, dict) else {"topic": topic, "raw": text}
    elif leaf == topics.STATE:
        obj = {"topic": topic, "device": device, "camera": camera, "state": text}
    else:
        obj = {"topic": topic, "device": device, "status": text}
    # json escapes control characters anyway; ensure_ascii=False keeps a Chinese caption readable
    return json.dumps(obj, ensure_ascii=False)


# -- the session ---------------------------------------------------------------------------------------
class _Watcher:
    def __init__(self, config: MQTTConfig, json_mode: bool, err: TextIO) -> None:
        self.config = config
        self.json_mode = json_mode
        self.err = err
        self.lines: queue.Queue[str] = queue.Queue()
        self.fatal: str | None = None
        self.stop = threading.Event()
        self._unreachable_said = False
        self._connected = False
        self.where = f"{config.host}:{config.port}"
        self.subscriptions = [(topic, 1) for topic in topics.all_devices_filters(config.base_topic, WATCHED)]
        self.client = make_client(config, new_watch_client_id())
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self.on_connect
        self.client.on_connect_fail = self.on_connect_fail
        self.client.on_disconnect = self.on_disconnect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message

    def say(self, text: str) -> None:
        print(f"{PROG}: {text}", file=self.err, flush=True)

    def on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if str(reason_code) in REFUSED:
                self.fatal = f"broker {self.where} refused the connection: {reason_text(reason_code)}"
                self.stop.set()
            else:
                self.on_unreachable(reason_text(reason_code))
            return
        client.subscribe(self.subscriptions)
        self._connected, self._unreachable_said = True, False

    def on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        # Said on the SUBACK, not the CONNACK: from here on nothing published is missed.
        if any(getattr(code, "is_failure", False) for code in reason_codes):
            self.say(f"broker {self.where} refused a subscription under {self.config.base_topic}/ "
                     f"({', '.join(map(str, reason_codes))}): check the broker's ACL")
        self.say(f"connected to {self.where}; watching {self.config.base_topic}/... (Ctrl-C to stop)")

    def on_connect_fail(self, client, userdata) -> None:
        exc = getattr(client, "last_connect_error", None)
        if isinstance(exc, ssl.SSLError):
            self.fatal = f"TLS connection to {self.where} failed: {describe_connect_error(exc)}"
            self.stop.set()
            return
        self.on_unreachable(describe_connect_error(exc))

    def on_unreachable(self, reason: str) -> None:
        if not self._unreachable_said:
            self._unreachable_said = True
            self.say(f"cannot reach broker {self.where} ({reason}); still trying")

    def on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected and not self.stop.is_set():
            self.say(f"connection to {self.where} lost ({reason_text(reason_code)}); reconnecting")
        self._connected = False

    def on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            line = format_message(message.topic, bytes(message.payload), self.config.base_topic,
                                  retained=bool(message.retain), json_mode=self.json_mode)
        except Exception as exc:  # noqa: BLE001 - a strange message must not stop the watch
            line = f"{PROG}: cannot show a message on {message.topic!r}: {exc}"
        if line is not None:
            self.lines.put(line)


def watch(config: MQTTConfig, *, json_mode: bool = False, out: TextIO | None = None,
          err: TextIO | None = None, stop: threading.Event | None = None) -> int:
    """Print messages until SIGINT/SIGTERM (or `stop` is set); 0, or BadInput on a refusal."""
    out = out or sys.stdout
    watcher = _Watcher(config, json_mode, err or sys.stderr)
    if stop is not None:
        watcher.stop = stop
    restore = _install_signal_handlers(watcher.stop)
    try:
        connect_async(watcher.client, config)
        watcher.client.loop_start()
        # Printing happens here, not in paho's thread: a closed pipe (`watch | head`) then ends
        # the command (run_command maps BrokenPipeError to exit 0) instead of paho's thread.
        while not watcher.stop.is_set():
            try:
                print(watcher.lines.get(timeout=0.2), file=out, flush=True)
            except queue.Empty:
                pass
        while not watcher.lines.empty():  # what arrived before the signal
            print(watcher.lines.get_nowait(), file=out, flush=True)
    finally:
        restore()
        watcher.client.disconnect()
        watcher.client.loop_stop()
    if watcher.fatal:
        raise BadInput(f"{watcher.fatal} (check mqtt.username, password and tls in the configuration)")
    return EXIT_OK


def _install_signal_handlers(stop: threading.Event):
    """SIGINT and SIGTERM end the watch normally (exit 0); returns a function that restores."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame) -> None:
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
