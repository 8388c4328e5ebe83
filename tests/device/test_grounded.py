"""Grounded captions: the shipped default bundles read what the real-world encoder found and say
only that, on real photos and on simulated findings; the train-grounded -> convert path end to end
on a small model; the camera's place."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conversion.export.checks import graph_report
from conversion.grounded.captions import mentions
from conversion.grounded.evaluate import evaluate_photos, evaluate_simulated, read_labels
from conversion.pretrained import photos
from edge_captioner.bundle.loader import load_bundle
from edge_captioner.model.captioner import Captioner
from support.paths import TEST_DATA

LABELS = TEST_DATA / "package_photos.json"
BUNDLES = ("default-en", "default-zh")


@pytest.fixture(scope="module", params=BUNDLES)
def shipped(request) -> Captioner:
    return Captioner(request.param)


def test_the_shipped_bundles_are_grounded_int8_and_small(shipped):
    bundle = shipped.bundle
    assert shipped.grounded and bundle.perception.detector and bundle.perception.classifier
    for name in ("encoder.tflite", "decoder.tflite", bundle.perception.detector.file,
                 bundle.perception.classifier.file):
        assert graph_report(bundle.path / name)["float_ops"] == [], name
    assert sum(p.stat().st_size for p in bundle.path.rglob("*") if p.is_file()) <= 15e6


def test_real_photos_name_nothing_that_is_not_there(shipped):
    """Every person and the cat found, no kind named that the photo lacks, kind-free frames say
    so (the thresholds were chosen on half of these photos: docs/encoders.md)."""
    result = evaluate_photos(shipped, read_labels(LABELS))
    assert result["hallucination_rate"] == 0, result["captions"]
    assert result["recall"] == {"cat": 1.0, "person": 1.0}, result["captions"]
    assert result["empty_frame_accuracy"] == 1.0, result["captions"]
    assert result["count_accuracy"] == 1.0, result["captions"]


def test_the_decoder_says_what_the_simulated_findings_support(shipped):
    result = evaluate_simulated(shipped, 1500, seed=999)
    assert result["object_f1"] >= 0.98, result
    assert result["count_accuracy"] >= 0.97, result


def test_an_empty_frame_says_no_one_in_both_languages(shipped):
    black = photos.synthetic_frames()["black"]
    text = shipped.caption(black, place="front_door").text
    assert text == {"en": "no one at the front door", "zh": "前门口没有人"}[shipped.bundle.language]
    assert mentions(text, shipped.bundle.language) == ({}, "front_door")


def test_the_configured_place_goes_into_the_caption(shipped):
    lang = shipped.bundle.language
    frame = photos.load_photo("astronaut")
    for place in ("driveway", "Living room", "front-door"):
        said = mentions(shipped.caption(frame, place=place).text, lang)
        assert said == ({"person": 1}, shipped.known_place(place)), (place, said)
    # free text: the caption names no known place, the text comes first
    text = shipped.caption(frame, place="Shed 2").text
    assert text.startswith("Shed 2") and mentions(text, lang) == ({"person": 1}, None)


def test_without_a_place_none_is_invented(shipped):
    lang = shipped.bundle.language
    for name in ("astronaut", "chelsea", "coffee", "grace_hopper"):
        assert mentions(shipped.caption(photos.load_photo(name)).text, lang)[1] is None, name


def test_a_grounded_bundle_without_its_encoder_is_refused(tmp_path):
    import shutil

    from edge_captioner.errors import BadInput

    target = tmp_path / "b"
    shutil.copytree(load_bundle("default-en").path, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest.pop("perception")
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match="needs the real-world encoder it reads"):
        load_bundle(target)
    manifest = json.loads((load_bundle("default-en").path / "manifest.json").read_text())
    manifest["evidence"]["slots"] = 0
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match="evidence.slots"):
        load_bundle(target)


def test_evidence_is_what_the_runtime_feeds_the_encoder(shipped):
    """The encoder's input is the findings vector: two frames with the same findings get the
    same caption, whatever their pixels."""
    a, b = photos.synthetic_frames()["grey"], np.full((300, 200, 3), 40, np.uint8)
    assert shipped.caption(a).text == shipped.caption(b).text


def test_caption_place_on_the_command_line(tmp_path):
    import cv2

    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), photos.load_photo("astronaut"))
    for place, expected in (("front door", "a person at the front door"),
                            ("the shed", "the shed: a person")):
        done = subprocess.run([sys.executable, "-m", "edge_captioner.cli", "caption", "--place",
                               place, str(path)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{path}: {expected}"
