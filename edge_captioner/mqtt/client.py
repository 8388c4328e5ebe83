"""Making and connecting paho clients (paho-mqtt 2.x), shared by the daemon's session and `watch`:
protocol, credentials and TLS from MQTTConfig, and words for why a connection failed."""

from __future__ import annotations

import logging
import ssl
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config import MQTTConfig

log = logging.getLogger(__name__)

# Reason codes (CONNACK) that mean "the broker does not want us": a configuration problem, worth
# an ERROR per attempt, as opposed to a network problem.
REFUSED = ("Bad user name or password", "Not authorized", "Client identifier not valid", "Banned",
           "Bad authentication method", "Unsupported protocol version")


class Client(mqtt.Client):
    """paho's Client, remembering why the last connection attempt failed: paho's on_connect_fail
    callback does not say (refused TCP connection? TLS certificate? DNS?), and the log should."""

    last_connect_error: BaseException | None = None

    def reconnect(self) -> mqtt.MQTTErrorCode:
        try:
            result = super().reconnect()
        except OSError as exc:
            self.last_connect_error = exc
            raise
        self.last_connect_error = None
        return result


def make_client(config: MQTTConfig, client_id: str, logger: logging.Logger = log) -> Client:
    """A paho client with the configured protocol, credentials and TLS (not yet connected)."""
    if config.protocol == "5":
        client = Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    else:
        client = Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                        protocol=mqtt.MQTTv311)
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    if config.tls is not None:
        client.tls_set(
            ca_certs=config.tls.ca_certs,
            certfile=config.tls.certfile,
            keyfile=config.tls.keyfile,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        if config.tls.insecure:
            client.tls_insecure_set(True)
            logger.warning("mqtt.tls.insecure is true: the broker's certificate is NOT checked against "
                           "the host name %r (anyone with a certificate from that CA can pose as the "
                           "broker)", config.host)
    return client


def connect_async(client: mqtt.Client, config: MQTTConfig, session_expiry_s: int = 0) -> None:
    """Start connecting without blocking (the network thread connects and reconnects).

    With MQTT 5 and `session_expiry_s`, the session outlives a crash for that long and is resumed
    at each connect, so the broker gives back what we had not acknowledged (a pool's frame
    sources); otherwise no session survives us: we re-subscribe and re-publish on every connect."""
    if config.protocol != "5":
        client.connect_async(config.host, config.port, config.keepalive)
        return
    properties = None
    if session_expiry_s:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = session_expiry_s
    client.connect_async(config.host, config.port, config.keepalive,
                         clean_start=session_expiry_s == 0, properties=properties)


def describe_connect_error(exc: BaseException | None) -> str:
    if exc is None:
        return "connection failed"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def reason_text(reason_code: object) -> str:
    return str(reason_code) if reason_code is not None else "unknown reason"


def new_watch_client_id() -> str:
    """A client id that cannot collide with (and so disconnect) a daemon's."""
    return f"edge-captioner-watch-{uuid.uuid4().hex[:8]}"
