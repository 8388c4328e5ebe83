"""The Open Images box detector (conversion/pretrained/objectron.py) from the pinned npm package:
the pack read at the loader's offsets, the TensorFlow port against the original fp16 graph, and
the full-int8 graph built from it run through the device code (model/box_detector.py) against
its float32 twin."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conversion.pretrained import objectron, photos, sources
from edge_captioner.bundle.perception_section import parse_perception
from edge_captioner.errors import BadInput
from edge_captioner.model.box_detector import BoxDetector
from edge_captioner.model.preprocess import model_input
from edge_captioner.model.runtime import pick_runtime

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


@pytest.fixture(scope="module")
def package():
    files = sources.read_files(sources.OBJECTRON)
    return files, objectron.unpack(files["pack"], files["loader"])


def test_unpack_reads_the_labels_and_the_pinned_graph(package):
    files, (labels, model) = package
    assert labels[0] == "???" and "Box" in labels and len(labels) == 24
    assert sources.sha256_of(model) == objectron.GRAPH_SHA256
    # a loader that points past the pack, or at other bytes, is refused
    with pytest.raises(ValueError, match="outside"):
        objectron.unpack(files["pack"][:1000], files["loader"])
    with pytest.raises(ValueError, match="not the pinned graph"):
        objectron.unpack(b"x" + files["pack"], files["loader"])


def test_the_port_computes_what_the_fp16_graph_does(package, tmp_path):
    import tensorflow as tf

    _, (labels, model) = package
    saved = objectron.export_detector(objectron.read_graph(model), tmp_path / "saved")
    serve = tf.saved_model.load(str(saved)).signatures["serving_default"]
    original = tf.lite.Interpreter(model_content=model)
    original.allocate_tensors()
    out = {d["name"]: d["index"] for d in original.get_output_details()}
    image = model_input(photos.load_photo("chelsea"), 300, "stretch", "RGB").astype(np.float32)
    original.set_tensor(original.get_input_details()[0]["index"], image[None] / 127.5 - 1)
    original.invoke()
    ours = serve(image=tf.constant(image[None]))
    logits = original.get_tensor(out["raw_outputs/class_predictions"])
    clip = objectron.LOGIT_CLIP
    assert np.abs(ours["scores"].numpy() - np.clip(logits, -clip, clip)).max() < 1e-3
    codes = original.get_tensor(out["raw_outputs/box_encodings"])
    clip = objectron.CODE_CLIP
    assert np.abs(ours["boxes"].numpy() - np.clip(codes, -clip, clip)).max() < 1e-3
    # what MediaPipe's own pipeline scores chelsea at: Cat, 0.85
    assert labels[int(np.argmax(logits[0, :, 1:].max(0))) + 1] == "Cat"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("boxes")
    return out, objectron.build(out, photo_crops=8)


def _detector(directory, section, score=None):
    spec = parse_perception({"perception": {"boxes": section}}, directory / "x.json").boxes
    if score is not None:
        from dataclasses import replace
        spec = replace(spec, score_threshold=score)
    return BoxDetector(spec, directory, pick_runtime("auto"), threads=1)


def test_the_int8_graph_finds_what_its_float_twin_finds(built):
    out, result = built
    assert set(result["ops"]) <= {"ADD", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
                                  "DEQUANTIZE", "MAXIMUM", "MINIMUM", "MUL", "QUANTIZE",
                                  "RESHAPE", "SUB"}
    assert result["section"]["tensors"]["inputs"]["image"]["dtype"] == "uint8"
    json.dumps(result)  # the manifest's section and provenance are plain JSON
    q = _detector(out, result["section"])
    f = _detector(out / "float32", result["float_section"])
    for name, label, score in (("chelsea", "Cat", 0.85), ("astronaut", "Person", 0.59)):
        frame = photos.load_photo(name)  # held out of calibration: chelsea; astronaut not
        (fq, *_), (ff, *_) = q.find(frame), f.find(frame)
        assert fq.label == ff.label == label
        assert ff.score == pytest.approx(score, abs=0.02)
        assert fq.score == pytest.approx(ff.score, abs=0.05)
        assert all(0 <= v <= 1 for v in fq.box)
        assert np.abs(np.subtract(fq.box, ff.box)).max() < 0.05


def test_a_labels_file_or_kinds_that_do_not_fit_are_refused(built):
    out, result = built
    section = {**result["section"], "kinds": {"box": ["Parcel"]}}
    with pytest.raises(BadInput, match="Parcel"):
        _detector(out, section)
    section = {**result["section"], "head": {**result["section"]["head"], "feature_maps": [19]}}
    with pytest.raises(BadInput, match="do not fit"):
        _detector(out, section)
