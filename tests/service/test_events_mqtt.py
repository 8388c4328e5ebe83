"""Events on a real broker: `Publisher.publish_event` (the snapshot, retained, before the event
JSON, QoS 1, not retained), the occupancy topic (zeros at start, then the tracker's), and the Home
Assistant entities of a camera with events (deleted for a camera without)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from edge_captioner.config import DiscoveryConfig, MQTTConfig
from edge_captioner.mqtt.session import Publisher
from edge_captioner.service.events import Event, EventObject
from support.daemons import retained
from support.mosquitto import MQTTCollector

DEVICE = "dev1"
T0 = datetime(2026, 11, 27, 9, 30, 1, tzinfo=UTC)


def test_events_occupancy_and_their_entities(shared_port, names):
    base = f"{names.base_topic}/{DEVICE}"
    config = MQTTConfig(host="127.0.0.1", port=shared_port, base_topic=names.base_topic,
                        discovery=DiscoveryConfig(prefix=names.prefix))
    with MQTTCollector(shared_port, [f"{base}/#", f"{names.prefix}/#"]) as sub:
        publisher = Publisher(config, DEVICE, [("porch", False), ("garden", False)], "tiny-en",
                              on_command=lambda c: None, sw_version="0.1.0", events=("porch",))
        publisher.start()
        try:
            assert publisher.wait_connected(5)
            sub.wait_for(lambda m: m.topic == f"{base}/porch/occupancy")
            event = Event("e1", "box_left", "end", "porch", "front_door", T0, T0, (
                EventObject("box", 2),), "a box was left at the front door", "en", "tiny-en",
                snapshot=True)
            publisher.publish_event(event, b"\xff\xd8jpeg\xff\xd9")
            publisher.publish_occupancy("porch", {"person": 0, "vehicle": 0, "animal": 0,
                                                  "box": 1, "possible_fall": False})
            (got,) = sub.wait_for(lambda m: m.topic == f"{base}/porch/event")
            sub.wait_for(lambda m: m.topic == f"{base}/porch/occupancy", count=2)
        finally:
            publisher.stop(timeout=2)
    assert json.loads(got.payload) == event.payload()
    assert (got.qos, got.retain) == (1, False)
    order = [m.topic for m in sub.messages]
    assert order.index(f"{base}/porch/event/snapshot") < order.index(f"{base}/porch/event")
    occupancy = [json.loads(m.payload) for m in sub.messages if m.topic == f"{base}/porch/occupancy"]
    assert occupancy[0] == {"person": 0, "vehicle": 0, "animal": 0, "box": 0,
                            "possible_fall": False}
    assert occupancy[-1]["box"] == 1
    assert f"{base}/garden/occupancy" not in order  # no events there
    kept = retained(shared_port, f"{base}/porch/#")
    assert kept[f"{base}/porch/event/snapshot"].payload == b"\xff\xd8jpeg\xff\xd9"
    assert f"{base}/porch/event" not in kept
    configs = {m.topic: m.payload for m in sub.messages if m.topic.startswith(names.prefix)}

    def entity(component, key, camera="porch"):
        return configs[f"{names.prefix}/{component}/{DEVICE}/{camera}_{key}/config"]

    events = json.loads(entity("event", "events"))
    assert events["state_topic"] == f"{base}/porch/event"
    assert "box_left" in events["event_types"] and "left" in events["event_types"]
    assert "camera_lost" in events["event_types"]
    for key in ("person", "vehicle", "animal", "box", "possible_fall"):
        sensor = json.loads(entity("binary_sensor", key))
        assert sensor["state_topic"] == f"{base}/porch/occupancy"
        # unknown (unavailable) while the camera is lost, not a stale "present"
        assert [a["topic"] for a in sensor["availability"]] == [f"{base}/status",
                                                                f"{base}/porch/state"]
        assert sensor["availability_mode"] == "all"
        assert entity("binary_sensor", key, "garden") == b""  # deleted: no events there
    assert json.loads(entity("image", "event_snapshot"))["image_topic"] == \
        f"{base}/porch/event/snapshot"
