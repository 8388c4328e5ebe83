"""The manifest's optional `perception.pose` sub-section: parsed, round-tripped, bad values refused
with one line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_captioner.bundle.perception_section import parse_perception
from edge_captioner.errors import BadInput

BUNDLE = Path(__file__).resolve().parents[2] / "edge_captioner" / "data" / "bundles" / "default-en"
POSE = {
    "file": "pose.tflite",
    "image": {"size": [192, 192], "colour_order": "RGB", "resize": "stretch"},
    "crop_margin": 0.25,
    "max_people": 3,
    "thresholds": {"keypoint": 0.3},
    "tensors": {"inputs": {"image": {"shape": [1, 192, 192, 3], "dtype": "uint8",
                                     "scale": 1.0, "zero_point": 0}},
                "outputs": {name: {"shape": [1, 48, 48, c], "dtype": "float32",
                                   "scale": 0.0, "zero_point": 0}
                            for name, c in (("heatmaps", 17), ("centre", 1), ("regress", 34),
                                            ("offsets", 34))}},
    "sources": ["movenet-lightning"],
}


def _section() -> dict:
    shipped = json.loads((BUNDLE / "manifest.json").read_text(encoding="utf-8"))["perception"]
    return {**copy.deepcopy(shipped), "pose": copy.deepcopy(POSE)}


def _parse(section: dict):
    return parse_perception({"perception": section}, Path("manifest.json"))


def test_a_pose_section_parses_and_round_trips():
    spec = _parse(_section())
    assert spec.pose.size == 192 and spec.pose.max_people == 3
    assert spec.pose.keypoint_threshold == 0.3 and spec.pose.crop_margin == 0.25
    assert "pose.tflite" in spec.files
    assert _parse(spec.to_json()) == spec


def test_no_pose_section_is_no_pose():
    section = _section()
    del section["pose"]
    assert _parse(section).pose is None


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(pose=[]), "'perception.pose' must be an object"),
    (lambda s: s.pop("detector"), "needs 'perception.detector'"),
    (lambda s: s["pose"].update(max_people=0), "out of range"),
    (lambda s: s["pose"].update(max_people=2.5), "'perception.pose.max_people' must be int"),
    (lambda s: s["pose"].update(crop_margin=-0.1), "out of range"),
    (lambda s: s["pose"].update(crop_margin="wide"), "crop_margin"),
    (lambda s: s["pose"]["thresholds"].update(keypoint=1.0), "out of range"),
    (lambda s: s["pose"]["thresholds"].update(keypoint=True), "thresholds.keypoint"),
    (lambda s: s["pose"].pop("thresholds"), "'perception.pose.thresholds' must be dict"),
    (lambda s: s["pose"]["image"].update(size=[192, 160]), "image.size"),
    (lambda s: s["pose"]["image"].update(colour_order="HSV"), "colour_order"),
    (lambda s: s["pose"].pop("file"), "'perception.pose.file' must be str"),
    (lambda s: s["pose"].update(sources="movenet"), "sources"),
])
def test_bad_pose_sections_are_refused_in_one_line(change, message):
    section = _section()
    change(section)
    with pytest.raises(BadInput, match=message) as info:
        _parse(section)
    assert "\n" not in str(info.value)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_pose_value_is_accepted_or_bad_input(data):
    section = _section()
    path = data.draw(st.sampled_from(list(_paths(section["pose"]))[1:]), label="path")
    target = section["pose"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(_JSON, label="value")
    try:
        _parse(section)
    except BadInput as exc:
        assert "\n" not in str(exc)
