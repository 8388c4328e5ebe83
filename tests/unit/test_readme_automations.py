"""The README's Home Assistant automations, taken from the README itself and rendered as Home
Assistant renders them.

There is no Home Assistant here (Core needs Python 3.13), so this is its template engine's
semantics, not Home Assistant: Jinja2 in an immutable sandbox (Home Assistant's
TemplateEnvironment is an ImmutableSandboxedEnvironment), with StrictUndefined, which is stricter
than Home Assistant (there an undefined value prints as '' with a warning; here it fails, as both
do when an attribute of one is taken, the error this guards against). `trigger.from_state` and
`to_state` are what Home Assistant passes: a state with a string state and a read-only mapping of
attributes, or None when the entity is being added or removed. The event's attributes are made the
way Home Assistant's MQTT event entity makes them: the discovery config's value_template rendered
on the caption JSON (`CaptionEvent.payload`), `event_type` popped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import jinja2  # the dev extra's: Home Assistant's template engine is Jinja2
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from edge_captioner.mqtt.discovery import discovery_messages
from edge_captioner.service.caption_event import CaptionEvent
from support.paths import REPO

DEVICE, CAMERA = "porch-pi", "front_door"  # the README's example device
ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)


def readme_automations() -> list[dict]:
    """The YAML blocks of the README's "Home Assistant" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Home Assistant\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert blocks, "no automation in the README's Home Assistant section"
    return [yaml.safe_load(block) for block in blocks]


def discovered(component: str, key: str) -> dict:
    messages = dict(discovery_messages(DEVICE, f"edge_captioner/{DEVICE}", [(CAMERA, False)],
                                       "tiny-en", "0.1.0"))
    return json.loads(messages[f"homeassistant/{component}/{DEVICE}/{CAMERA}_{key}/config"])


def entity_id(config: dict) -> str:
    """The entity id Home Assistant makes of a `default_entity_id`: the object id slugified
    (`porch-pi_front_door_captioned` -> `porch_pi_front_door_captioned`)."""
    domain, object_id = config["default_entity_id"].split(".", 1)
    return f"{domain}.{re.sub(r'[^a-z0-9_]+', '_', object_id.lower())}"


EVENT_ID = entity_id(discovered("event", "captioned"))
SENSOR_ID = entity_id(discovered("sensor", "caption"))


def templates(node) -> list[str]:
    """Every template string in an automation."""
    if isinstance(node, dict):
        return [t for value in node.values() for t in templates(value)]
    if isinstance(node, list):
        return [t for value in node for t in templates(value)]
    return [node] if isinstance(node, str) and ("{{" in node or "{%" in node) else []


def render(template: str, trigger: dict) -> str:
    """`template` with the trigger's variables and Home Assistant's state functions, the caption
    sensor holding what the event says (its attributes are the caption JSON)."""
    to_state = trigger["to_state"]
    attributes = to_state.attributes if to_state is not None else MappingProxyType({})
    states = {SENSOR_ID: State(attributes.get("caption", "unknown"), attributes)}

    def state(entity_id: str) -> str:  # states('sensor.x')
        return states[entity_id].state if entity_id in states else "unknown"

    def state_attr(entity_id: str, name: str):  # None for a missing entity or attribute
        return states[entity_id].attributes.get(name) if entity_id in states else None

    return (ENV.from_string(template)
            .render(trigger=trigger, states=state, state_attr=state_attr).strip())


def as_boolean(rendered: str) -> bool:
    """Home Assistant's template condition: a result that reads as true passes."""
    assert rendered in ("True", "False"), rendered
    return rendered == "True"


@dataclass(frozen=True)
class State:
    state: str
    attributes: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))


class Findings:
    def __init__(self, kinds: dict[str, int]):
        self.kinds = kinds

    def to_json(self) -> dict:
        return {"kinds": self.kinds, "objects": [], "classes": []}


def event_attributes(text: str, findings: Findings | None) -> MappingProxyType:
    """What Home Assistant's MQTT event entity keeps of one published caption."""
    payload = CaptionEvent(CAMERA, text, 0.91, "en", datetime(2025, 1, 1, tzinfo=UTC), "tiny-en",
                           40.0, 7, findings=findings).payload()
    rendered = json.loads(ENV.from_string(discovered("event", "captioned")["value_template"])
                          .render(value_json=payload))
    assert rendered.pop("event_type") == "caption"
    return MappingProxyType(rendered)


def fired(text: str, findings: Findings | None, before: State | None) -> dict:
    return {"platform": "state", "entity_id": EVENT_ID,
            "from_state": before,
            "to_state": State("2025-01-01T00:00:00.000+00:00", event_attributes(text, findings))}


def last_event(text: str) -> State:
    return State("2024-12-31T23:59:00.000+00:00", MappingProxyType({"caption": text}))


PERSON, CAT = Findings({"person": 1}), Findings({"cat": 1})
FIRST = State("unknown")  # the entity before its first event
# (the trigger's variables, whether the automation acts)
CASES = {
    "a new caption with a person": (fired("a person at the door", PERSON, last_event("no one")), True),
    "the first event ever": (fired("a person at the door", PERSON, FIRST), True),
    "a new caption with a cat": (fired("a cat at the door", CAT, last_event("no one")), False),
    "no found (a bundle without the real-world encoder)":
        (fired("a person at the door", None, last_event("no one")), False),
    "found without kinds": ({**fired("a person", None, FIRST), "to_state": State(
        "2025-01-01", MappingProxyType({"caption": "a person", "found": {"objects": []}}))}, False),
    "an event from before found was sent":
        ({**fired("a person", None, FIRST), "to_state": State(
            "2025-01-01", MappingProxyType({"caption": "a person"}))}, False),
    "a heartbeat (the same text again)":
        (fired("a person at the door", PERSON, last_event("a person at the door")), False),
    "the entity added when Home Assistant starts":
        (fired("a person at the door", PERSON, None), False),
    "the entity removed (discovery turned off)":
        ({**fired("x", None, last_event("a person")), "to_state": None}, False),
    "no attributes at all": ({**fired("x", None, FIRST), "to_state": State("2025-01-01")}, False),
}


def test_the_readme_automations_trigger_on_the_captioned_event_only():
    assert EVENT_ID == "event.porch_pi_front_door_captioned"
    for automation in readme_automations():
        triggers = automation.get("triggers", automation.get("trigger"))
        assert triggers, automation
        for trigger in triggers:
            assert trigger.get("trigger", trigger.get("platform")) == "state", trigger
            assert trigger["entity_id"] == EVENT_ID, trigger
            # the daemon going offline and coming back is a state change of the event entity too
            for key in ("not_from", "not_to"):
                excluded = trigger.get(key, [])
                assert "unavailable" in (excluded if isinstance(excluded, list) else [excluded]), trigger
            assert "to" not in trigger and "from" not in trigger, trigger


@pytest.mark.parametrize("case", CASES)
def test_the_readme_templates_never_raise_and_act_only_on_a_new_caption_with_a_person(case):
    trigger, acts = CASES[case]
    for automation in readme_automations():
        for template in templates(automation):
            render(template, trigger)  # no UndefinedError, whatever is missing
        conditions = automation.get("conditions", automation.get("condition", []))
        checks = [as_boolean(render(c["value_template"], trigger))
                  for c in conditions if c.get("condition") == "template"]
        assert checks and all(checks) == acts, (case, checks)


def test_the_message_is_the_caption():
    trigger, _ = CASES["a new caption with a person"]
    (automation,) = readme_automations()
    (action,) = automation["actions"]
    assert render(action["data"]["message"], trigger) == "a person at the door"


def test_the_event_carries_found_and_none_without_it():
    assert event_attributes("a person", PERSON) == {
        "caption": "a person", "confidence": 0.91, "seq": 7,
        "found": {"kinds": {"person": 1}, "objects": [], "classes": []}}
    assert event_attributes("a person", None)["found"] is None
