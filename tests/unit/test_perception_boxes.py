"""The manifest's optional `perception.boxes` (the SSD box detector): parsed, written back alike,
and every bad value a one-line BadInput naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_captioner.bundle.perception_section import parse_perception
from edge_captioner.errors import BadInput
from edge_captioner.model.box_detector import anchor_config
from edge_captioner.model.ssd import anchors

MANIFEST = Path("bundle/manifest.json")
TENSORS = {"inputs": {"image": {"shape": [1, 300, 300, 3], "dtype": "uint8"}},
           "outputs": {"boxes": {"shape": [1, 1917, 4], "dtype": "float32"},
                       "scores": {"shape": [1, 1917, 24], "dtype": "float32"}}}
BOXES = {
    "file": "boxes.tflite", "labels": "labels/oidv4.txt",
    "image": {"size": [300, 300], "colour_order": "RGB", "resize": "stretch"},
    "head": {"type": "ssd", "feature_maps": [19, 10, 5, 3, 2, 1], "min_scale": 0.2,
             "max_scale": 0.95, "aspect_ratios": [1.0, 2.0, 0.5, 3.0, 0.3333],
             "interpolated_scale_aspect_ratio": 1.0, "reduce_boxes_in_lowest_layer": True,
             "anchor_offset": 0.5, "box_scales": [10.0, 10.0, 5.0, 5.0], "background": 0},
    "thresholds": {"score": 0.25, "iou": 0.5, "max_detections": 20},
    "kinds": {"box": ["Box"]},
    "tensors": TENSORS,
    "sources": ["objectron-ssd"],
}


def parse(boxes: dict, **others):
    return parse_perception({"perception": {"boxes": boxes, **others}}, MANIFEST)


def test_a_boxes_section_parses_and_round_trips():
    spec = parse(BOXES)
    assert spec.detector is None and spec.classifier is None
    b = spec.boxes
    assert (b.size, b.resize, b.colour_order, b.background) == (300, "stretch", "RGB", 0)
    assert b.label_kinds == {"Box": "box"}
    assert spec.files == ["boxes.tflite", "labels/oidv4.txt"]
    assert spec.to_json() == {"boxes": BOXES}
    assert len(anchors(anchor_config(b))) == 1917


def test_a_null_background_is_no_background():
    section = copy.deepcopy(BOXES)
    section["head"]["background"] = None
    assert parse(section).boxes.background is None


def _set(path: str, value):
    section = copy.deepcopy(BOXES)
    *parents, key = path.split(".")
    target = section
    for p in parents:
        target = target[p]
    if value is _DELETE:
        del target[key]
    else:
        target[key] = value
    return section


_DELETE = object()


@pytest.mark.parametrize("path, value, message", [
    ("head", "ssd", "'perception.boxes.head' must be dict"),
    ("head.type", "gfl", "'perception.boxes.head.type' must be one of ssd"),
    ("head.feature_maps", [], "feature_maps"),
    ("head.feature_maps", [19, 0], "feature_maps"),
    ("head.feature_maps", [19.0], "feature_maps"),
    ("head.feature_maps", [True], "feature_maps"),
    ("head.feature_maps", [1024] * 16, "more than 100000 anchors"),
    ("head.min_scale", "0.2", "'perception.boxes.head.min_scale' must be float"),
    ("head.min_scale", 0.0, "a scale or the offset is out of range"),
    ("head.max_scale", 0.1, "a scale or the offset is out of range"),
    ("head.max_scale", 1.5, "a scale or the offset is out of range"),
    ("head.aspect_ratios", [], "aspect_ratios"),
    ("head.aspect_ratios", [1.0, 0.0], "aspect_ratios"),
    ("head.aspect_ratios", [1.0, float("nan")], "aspect_ratios"),
    ("head.aspect_ratios", "1.0", "aspect_ratios"),
    ("head.interpolated_scale_aspect_ratio", -1.0, "out of range"),
    ("head.reduce_boxes_in_lowest_layer", 1, "must be bool"),
    ("head.anchor_offset", 1.0, "out of range"),
    ("head.box_scales", [10, 10, 5], "box_scales"),
    ("head.box_scales", [10, 10, 5, 0], "box_scales"),
    ("head.box_scales", [10, 10, 5, float("inf")], "box_scales"),
    ("head.background", -1, "background"),
    ("head.background", True, "background"),
    ("head.background", "0", "background"),
    ("thresholds.score", 0.0, "thresholds' out of range"),
    ("thresholds.score", 1.0, "thresholds' out of range"),
    ("thresholds.iou", 0.0, "thresholds' out of range"),
    ("thresholds.max_detections", 0, "thresholds' out of range"),
    ("thresholds.max_detections", 2.0, "must be int"),
    ("kinds", {"box": []}, "kinds"),
    ("kinds", {"box": "Box"}, "kinds"),
    ("kinds", _DELETE, "'perception.boxes.kinds' must be dict"),
    ("image.resize", "fit", "resize"),
    ("image.size", [300, 200], "size"),
    ("file", _DELETE, "'perception.boxes.file' must be str"),
    ("sources", "objectron-ssd", "sources"),
])
def test_bad_values_are_one_line_bad_input(path, value, message):
    with pytest.raises(BadInput, match=message) as caught:
        parse(_set(path, value))
    assert "\n" not in str(caught.value) and str(MANIFEST) in str(caught.value)


def test_boxes_that_are_not_an_object_and_unknown_roles_are_refused():
    with pytest.raises(BadInput, match="'perception.boxes' must be an object"):
        parse([])
    with pytest.raises(BadInput, match=r"unknown key\(s\) \['parcels'\]"):
        parse(BOXES, parcels={})


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12),
       st.sampled_from(["head", "thresholds", "kinds", "image", "head.feature_maps",
                        "head.aspect_ratios", "head.box_scales", "head.background",
                        "thresholds.score", "head.min_scale"]))
def test_any_value_anywhere_parses_or_is_bad_input(value, path):
    """Untrusted manifests: never another exception, never a multi-line message."""
    try:
        spec = parse(_set(path, value))
    except BadInput as exc:
        assert "\n" not in str(exc)
    else:
        anchors(anchor_config(spec.boxes))  # whatever parses gives anchors
