"""The shipped default bundles are facts bundles: the int8 decoder writes the sentence stating a
frame's facts, every published caption is read back and supported by them, a mirrored photo gives
the same caption, and the sentence is the same facts in English and Chinese."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conversion.export.checks import graph_report
from conversion.facts.sample import sample_many
from conversion.pretrained import photos
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.detections import mirror_box
from edge_captioner.model.evidence import facts_vector
from edge_captioner.scene.facts import make_facts
from edge_captioner.scene.phrase import canonical
from edge_captioner.scene.read import read
from edge_captioner.scene.support import supported

BUNDLES = ("default-en", "default-zh")


@pytest.fixture(scope="module", params=BUNDLES)
def shipped(request) -> Captioner:
    return Captioner(request.param)


@pytest.fixture(scope="module")
def package_photos() -> dict[str, np.ndarray]:
    return photos.load_photos() | photos.synthetic_frames()


def test_the_shipped_bundles_are_facts_bundles_int8_and_small(shipped):
    bundle = shipped.bundle
    assert shipped.facts_bundle and bundle.perception.detector.mirror
    for name in ("encoder.tflite", "decoder.tflite", *bundle.perception.files):
        if name.endswith(".tflite"):
            assert graph_report(bundle.path / name)["float_ops"] == [], name
    assert sum(p.stat().st_size for p in bundle.path.rglob("*") if p.is_file()) <= 25e6


def test_the_int8_decoder_writes_the_canonical_sentence_of_facts_it_was_not_trained_on(shipped):
    """Facts drawn with a seed no training run used: the decoder's own sentence (before any
    fallback) must state exactly them nearly always; the device replaces the rest."""
    spec, lang = shipped.evidence_spec, shipped.bundle.language
    drawn = sample_many(400, seed=424242, spec=spec)
    exact = sum(shipped.bundle.vocab.decode(shipped.search(facts_vector(f, spec))[0].tokens)
                == canonical(f, lang) for f in drawn)
    assert exact / len(drawn) >= 0.97  # 0.978 measured (docs/model-card.md); the search is constrained


def test_every_caption_of_the_package_photos_is_supported_and_mirror_invariant(shipped, package_photos):
    lang = shipped.bundle.language
    for name, frame in package_photos.items():
        result = shipped.caption(frame)
        assert supported(result.text, result.facts, lang), (name, result.text)
        assert not result.fallback, (name, result.text)
        mirrored = shipped.caption(cv2.flip(frame, 1))
        assert mirrored.text == result.text, name


def test_a_mirrored_frame_gets_exactly_the_mirrored_findings(package_photos):
    """The closer looks, the poses and the box detector do not see left and right alike; a frame
    and its mirror are seen as the same one of the two (preprocess.mirror_first)."""
    perception = Captioner("default-en").perception
    frames = dict(package_photos)
    # a wide frame with people at its sides: the pose crops and closer looks are off-centre
    frames["pair"] = np.hstack([package_photos["astronaut"], package_photos["camera"]])
    for name, frame in frames.items():
        seen = perception.see(frame).objects
        mirrored = perception.see(cv2.flip(frame, 1)).objects
        key = lambda o: (o.label, o.score, o.posture, o.pose_score)  # noqa: E731
        assert sorted(map(key, seen), key=str) == sorted(map(key, mirrored), key=str), name
        boxes = sorted(tuple(round(v, 9) for v in o.box) for o in seen)
        flipped = sorted(tuple(round(v, 9) for v in mirror_box(o.box)) for o in mirrored)
        assert boxes == flipped, name


def test_the_same_facts_in_both_languages():
    en, zh = Captioner("default-en"), Captioner("default-zh")
    astronaut = photos.load_photos(["astronaut"])["astronaut"]
    a, b = en.caption(astronaut, place="front_door"), zh.caption(astronaut, place="front_door")
    assert a.facts == b.facts
    assert read(a.text, "en") == read(b.text, "zh") == a.facts.said()
    assert a.facts.count_of.get("person") == 1


def test_an_empty_frame_says_no_one_in_both_languages(shipped):
    black = photos.synthetic_frames()["black"]
    text = shipped.caption(black, place="front_door").text
    assert text == {"en": "no one at the front door", "zh": "前门口没有人"}[shipped.bundle.language]
    assert read(text, shipped.bundle.language) == make_facts({}, {}, "front_door")


def test_the_configured_place_goes_into_the_caption(shipped):
    lang = shipped.bundle.language
    frame = photos.load_photo("astronaut")
    for place in ("driveway", "Living room", "front-door"):
        said = read(shipped.caption(frame, place=place).text, lang)
        assert said.place == shipped.known_place(place) and said.count_of == {"person": 1}, place
    # free text: the caption names no known place, the text comes first
    text = shipped.caption(frame, place="Shed 2").text
    assert text.startswith("Shed 2")
    said = read(text.split("Shed 2", 1)[1].lstrip(":： "), lang)
    assert said.place is None and said.count_of == {"person": 1}


def test_without_a_place_none_is_invented(shipped):
    lang = shipped.bundle.language
    for name in ("astronaut", "chelsea", "coffee", "grace_hopper"):
        assert read(shipped.caption(photos.load_photo(name)).text, lang).place is None, name


def test_a_facts_bundle_without_its_encoder_or_with_a_bad_section_is_refused(tmp_path):
    import json
    import shutil

    from edge_captioner.bundle.loader import load_bundle
    from edge_captioner.errors import BadInput

    target = tmp_path / "b"
    shutil.copytree(load_bundle("default-en").path, target)
    original = json.loads((target / "manifest.json").read_text())
    manifest = json.loads(json.dumps(original))
    manifest.pop("perception")
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match="needs the real-world encoder it reads"):
        load_bundle(target)
    for key, value in (("max_exact", 3), ("kinds", ["dog", "person"]), ("pose_groups", ["lying/chair"]),
                       ("thresholds", {"person": 1.5}), ("places", ["attic"])):
        manifest = json.loads(json.dumps(original))
        manifest["evidence"][key] = value
        (target / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(BadInput, match=f"evidence.{key}"):
            load_bundle(target)


def test_frames_with_the_same_facts_get_the_same_caption(shipped):
    a, b = photos.synthetic_frames()["grey"], np.full((300, 200, 3), 40, np.uint8)
    assert shipped.caption(a).text == shipped.caption(b).text


def test_caption_place_on_the_command_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), photos.load_photo("astronaut"))
    for place, expected in (("front door", "front_door"), ("the shed", None)):
        done = subprocess.run([sys.executable, "-m", "edge_captioner.cli", "caption", "--place",
                               place, str(path)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        text = done.stdout.strip().split(": ", 1)[1]
        if expected is None:
            assert text.startswith("the shed: ")
            text = text[len("the shed: "):]
        said = read(text, "en")
        assert said.place == expected and said.count_of == {"person": 1}
