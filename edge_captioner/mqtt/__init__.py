"""The daemon's MQTT side (docs/contract.md "MQTT"): the session (session.py) that ties together the topic
layout (topics.py), the paho client (client.py), the delivery model (outbox.py), commands in
(commands.py) and Home Assistant discovery (discovery.py)."""

from .commands import ACTIONS, MAX_INTERVAL_S, Command, parse_command
from .discovery import discovery_messages
from .session import CAMERA_STATES, Publisher

__all__ = ["ACTIONS", "CAMERA_STATES", "MAX_INTERVAL_S", "Command", "Publisher", "discovery_messages",
           "parse_command"]
