"""Bundle loading refuses anything that does not match its manifest (exit 2, one line)."""

import json
import shutil

import cv2
import numpy as np
import pytest

from edge_captioner.bundle.loader import file_sha256, load_bundle
from edge_captioner.errors import BadInput
from edge_captioner.model.captioner import Captioner
from support.bundles import caption_without_tensorflow

pytestmark = pytest.mark.slow


@pytest.fixture
def bundle_copy(tiny_bundles, tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(tiny_bundles[0], target)
    return target


def edit_manifest(path, change):
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_a_good_bundle_loads_and_captions(tiny_bundles, tiny_test_data):
    captioner = Captioner(tiny_bundles[0])
    frame = cv2.imread(str(next((tiny_test_data / "images").glob("*.jpg"))))
    result = captioner.caption(frame)
    assert result.text and 0.0 < result.confidence <= 1.0 and result.latency_ms > 0


def test_truncated_model_file(bundle_copy):
    data = (bundle_copy / "encoder.tflite").read_bytes()
    (bundle_copy / "encoder.tflite").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match=r"encoder.tflite: SHA-256 does not match"):
        load_bundle(bundle_copy)


def test_truncated_file_with_matching_hash_is_still_refused(bundle_copy):
    data = (bundle_copy / "decoder.tflite").read_bytes()
    (bundle_copy / "decoder.tflite").write_bytes(data[:100])
    edit_manifest(bundle_copy, lambda m: m["files"].update(
        {"decoder.tflite": file_sha256(bundle_copy / "decoder.tflite")}))
    with pytest.raises(BadInput, match="decoder.tflite"):
        Captioner(bundle_copy)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda m: m.pop("max_length"), "missing key 'max_length'"),
        (lambda m: m.update(format_version=99), "format_version 99"),
        (lambda m: m.update(vocab_size="many"), "'vocab_size' must be int"),
        (lambda m: m.update(vocab_size=3), "tokens, the manifest says 3"),
        (lambda m: m["image"].update(colour_order="YUV"), "colour_order"),
        (lambda m: m["files"].pop("vocab.txt"), "no SHA-256 for 'vocab.txt'"),
    ],
)
def test_manifest_problems(bundle_copy, change, message):
    edit_manifest(bundle_copy, change)
    with pytest.raises(BadInput, match=message):
        load_bundle(bundle_copy)


def test_tensors_that_do_not_match_the_manifest(bundle_copy):
    edit_manifest(bundle_copy, lambda m: m["tensors"]["decoder"]["inputs"]["h"].update(shape=[1, 7]))
    with pytest.raises(BadInput, match=r"decoder.tflite: tensor 'h' is float32\[1, 48\]"):
        Captioner(bundle_copy)
    edit_manifest(bundle_copy, lambda m: m["tensors"]["encoder"]["inputs"].update(
        frame=m["tensors"]["encoder"]["inputs"].pop("image")))
    with pytest.raises(BadInput, match="inputs"):
        Captioner(bundle_copy)


def test_missing_and_broken_manifest(bundle_copy, tmp_path):
    with pytest.raises(BadInput, match="bundle directory not found"):
        load_bundle(tmp_path / "nowhere")
    (bundle_copy / "manifest.json").write_text("{\n  \"name\": ,\n}")
    with pytest.raises(BadInput, match=r"manifest.json:2: invalid JSON"):
        load_bundle(bundle_copy)
    (bundle_copy / "manifest.json").unlink()
    with pytest.raises(BadInput, match="manifest.json: missing"):
        load_bundle(bundle_copy)


def test_beam_one_equals_greedy_on_real_images(tiny_bundles, tiny_test_data):
    captioner = Captioner(tiny_bundles[0])
    for path in sorted((tiny_test_data / "images").glob("*.jpg"))[:15]:
        image = captioner.prepare(cv2.imread(str(path)))
        greedy, _ = captioner.search(image, beam_size=1)
        from edge_captioner.model.search import beam_search

        vocab = captioner.bundle.vocab
        beam = beam_search(captioner.model.step, captioner.model.encode(image), vocab.start_id,
                           vocab.end_id, captioner.max_length, beam_size=1)[0]
        assert beam.tokens == greedy.tokens
        assert beam.logprob == pytest.approx(greedy.logprob, abs=1e-9)


def test_the_runtime_never_imports_tensorflow(tiny_bundles, tiny_test_data):
    caption_without_tensorflow(tiny_bundles[0], next((tiny_test_data / "images").glob("*.jpg")))


def test_preprocessing_colour_order_matters_to_the_model(tiny_bundles):
    """Feeding RGB where the bundle expects the runtime's BGR->RGB conversion changes the input."""
    captioner = Captioner(tiny_bundles[0])
    frame = np.zeros((50, 80, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    image = captioner.prepare(frame)
    assert image.shape == (64, 64, 3) and (image[..., 2] == 255).all() and (image[..., 0] == 0).all()
