"""The box detector's closer look at a camera's zones (BoxDetector.find_in through
Perception.see's `regions`), a real interpreter on real photographs.

A real shipping carton (opencv-doc's ArUco tutorial photo; conversion/pretrained/box_photos.py)
cut out and pasted a fifth of the frame wide on the doormat of a real empty scene (opencv-doc's
reg/home.png, the end-to-end delivery's scene): on the whole frame the detector scores it under
the bundle's box threshold; on the crop of the door zone it is a box over it, where the carton
is. On the box-free real photos of opencv-doc (among them rubberwhale1, the toys the detector
likes best) the door zone's look adds no box. docs/box-detector.md, "Where a parcel would be",
has the figures on all 155 labelled photos."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edge_captioner.model import detections
from edge_captioner.model.captioner import Captioner
from edge_captioner.service.zones import Zone, bounds

DOORMAT = bounds(Zone("front_door", ((0.35, 0.7), (0.65, 0.7), (0.65, 1.0), (0.35, 1.0))))
WIDE_DOORMAT = (0.25, 0.5, 0.75, 1.0)


def cached(source_key: str) -> None:
    from conversion.pretrained import real_photos, sources

    source = real_photos.SOURCES[source_key]
    if not (sources.default_cache() / source.archive).is_file():
        pytest.skip(f"not in the package cache: {source.archive} (python -m "
                    "conversion.pretrained.real_photos --list fetches it)")


@pytest.fixture(scope="module")
def captioner() -> Captioner:
    return Captioner("default-en")


def boxes(findings, threshold: float) -> list:
    return [o for o in findings.objects if o.kind == "box" and o.score >= threshold]


def test_a_doorstep_carton_is_a_box_only_in_the_door_zone_s_crop(captioner):
    from conversion.pretrained import box_photos, real_photos

    cached("opencv-doc")
    threshold = captioner.evidence_spec.thresholds["box"]
    scene = cv2.resize(real_photos.load_real_photo("ocv_reg_home", offline=True), (512, 512),
                       interpolation=cv2.INTER_CUBIC)
    frame, at = box_photos.pasted(scene, box_photos.carton("ocv_aruco_box", offline=True), 0.2)
    plain = captioner.perception.see(frame)
    closer = captioner.perception.see(frame, [DOORMAT])
    assert boxes(plain, threshold) == [], plain.objects
    found = boxes(closer, threshold)
    assert len(found) == 1 and detections.iou(found[0].box, at) >= 0.5, closer.objects
    # only the box detector looks again: the other graphs' objects are the same
    assert ([o for o in plain.objects if o.label != "Box"]
            == [o for o in closer.objects if o.label != "Box"])
    # the empty scene stays empty with the closer look
    assert boxes(captioner.perception.see(scene, [DOORMAT]), threshold) == []


def test_no_box_in_the_door_zone_of_box_free_real_photos(captioner):
    from conversion.pretrained import real_photos

    cached("opencv-doc")
    threshold = captioner.evidence_spec.thresholds["box"]
    labels = json.loads(real_photos.PHOTO_LABELS.read_text())["images"]
    names = [im["name"] for im in labels
             if im["source"] == "opencv-doc" and not im["counts"].get("box")]
    assert "ocv_rubberwhale1" in names and len(names) >= 25
    false = {}
    for name, frame in real_photos.load_real_photos(names, offline=True):
        found = boxes(captioner.perception.see(frame, [DOORMAT, WIDE_DOORMAT]), threshold)
        if found:
            false[name] = [round(o.score, 3) for o in found]
    assert false == {}



@pytest.mark.parametrize("size", [(1, 1), (5, 7), (480, 640)])
def test_a_frame_of_any_size_gets_its_closer_look_or_none(captioner, size):
    """A frame too small for a crop worth looking at is looked at whole only; none raises."""
    frame = np.random.default_rng(0).integers(0, 256, (*size, 3), np.uint8)
    boxes = captioner.perception.boxes
    found = boxes.find_in(frame, [DOORMAT, (0.0, 0.0, 1.0, 1.0)])
    if min(size) < 8:
        assert found == boxes.find(frame)
    assert all(0.0 <= v <= 1.0 for o in found for v in o.box)


def test_a_zone_whose_crop_is_nearly_the_whole_frame_is_not_looked_at_twice(captioner):
    boxes = captioner.perception.boxes
    invoke, calls = boxes.graph.invoke, []
    boxes.graph.invoke = lambda: (calls.append(1), invoke())[1]
    try:
        square = np.random.default_rng(1).integers(0, 256, (400, 400, 3), np.uint8)
        boxes.find_in(square, [(0.0, 0.0, 1.0, 1.0)])
        assert len(calls) == 1  # the crop would be the frame itself
        boxes.find_in(square, [DOORMAT])
        assert len(calls) == 3  # the whole frame, then the doormat's crop
    finally:
        boxes.graph.invoke = invoke
