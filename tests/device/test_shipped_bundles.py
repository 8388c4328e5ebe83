"""The render-trained bundle shipped in the package (render-en: the image CNN-LSTM trained on our
renders alone, kept for the tests and the render-based sample; the default bundles are the
grounded ones, test_grounded.py): valid, integer-only, small, and it describes the bundled sample
clip (an empty porch, then a person at the door, then a package left behind)."""

import cv2
import numpy as np
import pytest

from conversion.export.checks import graph_report
from conversion.world.mentions import parse_caption
from edge_captioner.bundle.loader import load_bundle, resolve_bundle_path
from edge_captioner.model.captioner import Captioner
from support.bundles import ENCODER_OPS

SAMPLE_CLIP = "edge_captioner/data/sample_porch.mp4"
SHIPPED = ["render-en"]


def clip_frame(index):
    capture = cv2.VideoCapture(SAMPLE_CLIP)
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok
    return frame


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundle_is_valid_small_and_integer_only(name):
    bundle = load_bundle(name)  # hashes, manifest
    assert bundle.manifest.name == name
    size = sum(p.stat().st_size for p in resolve_bundle_path(name).iterdir())
    assert size <= 3 * 1024 * 1024
    for graph in ("encoder", "decoder"):
        assert graph_report(bundle.file(f"{graph}.tflite"))["float_ops"] == []
    assert bundle.manifest.quantization["encoder"] == "int8"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundle_describes_the_sample_clip(name):
    captioner = Captioner(name)
    language = captioner.bundle.language
    said = {k: parse_caption(captioner.caption(clip_frame(k)).text, language)
            for k in (5, 50, 115)}
    assert said[5].counts == {}, "the porch is empty at first"
    assert said[50].counts.get("person") == 1, "a person stands at the door"
    assert said[115].counts == {"package": 1}, "the package stays behind"
    assert {m.place for m in said.values()} == {"front_door"}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_encoder_sees_a_frame_and_its_mirror_alike(name):
    bundle = load_bundle(name)
    assert bundle.manifest.test_time_mirror is True  # convert --mirror
    # the mirrored CNN adds PAD only; the scene heads SOFTMAX and CONCATENATION
    ops = set(graph_report(bundle.file("encoder.tflite"))["ops"])
    assert "PAD" in ops and ops <= ENCODER_OPS | {"PAD", "SOFTMAX", "CONCATENATION"}
    captioner = Captioner(name)
    model = captioner.model
    image = captioner.prepare(clip_frame(50))
    seen, mirrored, other = (model.encode(i) for i in (
        image, np.ascontiguousarray(image[:, ::-1]), captioner.prepare(clip_frame(115))))
    for tensor in seen:
        # the same up to int8 rounding: far closer than two different frames are
        mirror_gap = np.abs(seen[tensor] - mirrored[tensor]).mean()
        frame_gap = np.abs(seen[tensor] - other[tensor]).mean()
        assert mirror_gap < 0.1 * frame_gap, tensor  # 0.01-0.03; 0.25-0.6 unmirrored
