"""The README's "Events" automations, taken from the README and rendered as Home Assistant
renders them (Jinja2 in an immutable sandbox, StrictUndefined: test_readme_automations.py says
why), on the entity states that the discovery configs make of the payloads the daemon publishes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import jinja2
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from edge_captioner.mqtt.discovery import EVENT_TYPES, discovery_messages
from edge_captioner.service.events import Event, EventObject
from support.paths import REPO

DEVICE = "porch-pi"
ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def automations() -> dict[str, dict]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Events\n", 1)[1].split("\n## ", 1)[0]
    found = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    return {a["alias"]: a for a in found if "alias" in a}


def discovered(camera: str, component: str, key: str) -> dict:
    messages = dict(discovery_messages(DEVICE, f"edge_captioner/{DEVICE}", [(camera, False)],
                                       "default-en", "0.1.0", events=(camera,)))
    return json.loads(messages[f"homeassistant/{component}/{DEVICE}/{camera}_{key}/config"])


def entity_id(config: dict) -> str:
    domain, object_id = config["default_entity_id"].split(".", 1)
    return f"{domain}.{re.sub(r'[^a-z0-9_]+', '_', object_id.lower())}"


@dataclass(frozen=True)
class State:
    state: str
    attributes: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))


def event_state(event: Event) -> State:
    """The event entity after one message: its value_template on the payload; Home Assistant
    keeps `event_type` among the attributes, with the rest."""
    rendered = json.loads(ENV.from_string(discovered("front_door", "event", "events")
                                          ["value_template"]).render(value_json=event.payload()))
    assert rendered["event_type"] in EVENT_TYPES
    return State("2025-01-01T00:00:00.000+00:00", MappingProxyType(rendered))


def message(event_type: str, phase: str, kind: str = "box") -> Event:
    end = None if phase == "start" else T0 + timedelta(seconds=30)
    return Event("e1", event_type, phase, "front_door", "front_door", T0, end,
                 (EventObject(kind, 2),), f"{event_type} {phase}", "en", "default-en", True)


def render(template: str, trigger: dict) -> str:
    return ENV.from_string(template).render(trigger=trigger).strip()


def test_the_parcel_automation_acts_on_box_left_only():
    parcel = automations()["Parcel delivered"]
    (trigger,) = parcel["triggers"]
    assert trigger["entity_id"] == entity_id(discovered("front_door", "event", "events"))
    assert "unavailable" in (trigger["not_from"], trigger["not_to"])
    (condition,) = parcel["conditions"]
    (action,) = parcel["actions"]
    before = State("2024-12-31T00:00:00.000+00:00")
    cases = [(message("box_left", "end"), True), (message("box_taken", "end"), False),
             (message("arrived", "start", "person"), False),
             (message("arrived", "end", "person"), False),
             (message("possible_fall", "start", "person"), False)]
    for event, acts in cases:
        variables = {"from_state": before, "to_state": event_state(event)}
        assert render(condition["value_template"], variables) == str(acts), event.type
    variables = {"from_state": before, "to_state": event_state(message("box_left", "end"))}
    assert render(action["data"]["message"], variables) == "box_left end"
    # the entity added at start, removed, or without attributes: no error, no action
    for variables in ({"from_state": None, "to_state": event_state(message("box_left", "end"))},
                      {"from_state": before, "to_state": None},
                      {"from_state": before, "to_state": State("x")}):
        assert render(condition["value_template"], variables) == "False"
        render(action["data"]["message"], variables)


@pytest.mark.parametrize("possible_fall, state", [(True, "ON"), (False, "OFF")])
def test_the_fall_automation_follows_the_possible_fall_sensor(possible_fall, state):
    fall = automations()["Possible fall in the kitchen"]
    sensor = discovered("kitchen", "binary_sensor", "possible_fall")
    (trigger,) = fall["triggers"]
    assert trigger["entity_id"] == entity_id(sensor)
    assert (trigger["from"], trigger["to"]) == ("off", "on")  # not unavailable -> on at a start
    occupancy = {"person": 1, "vehicle": 0, "animal": 0, "box": 0, "possible_fall": possible_fall}
    assert ENV.from_string(sensor["value_template"]).render(value_json=occupancy) == state
    assert state in (sensor["payload_on"], sensor["payload_off"])


def test_an_end_because_the_camera_was_lost_is_not_a_departure():
    """Home Assistant's event type of an end sent because the camera was lost is `camera_lost`,
    not `left` or `got_up`; a payload without the key (older daemons) renders as before."""
    import dataclasses

    lost = dataclasses.replace(message("arrived", "end", "person"), camera_lost=True)
    assert event_state(lost).attributes["event_type"] == "camera_lost"
    assert event_state(lost).attributes["camera_lost"] is True
    assert event_state(message("arrived", "end", "person")).attributes["event_type"] == "left"
    older = {k: v for k, v in message("possible_fall", "end", "person").payload().items()
             if k != "camera_lost"}
    template = discovered("front_door", "event", "events")["value_template"]
    rendered = json.loads(ENV.from_string(template).render(value_json=older))
    assert rendered["event_type"] == "got_up" and rendered["camera_lost"] is False
