"""The tiny bundles committed under tests/data/bundles, which the device tests load instead of
training a model: each loads with its hashes verified and is what its name says; and today's
conversion code, given the same recipe (tests/make_test_bundles.py), writes bundles of the same
form (the trained weights, hence quantization scales and hashes, may differ between machines)."""

import json

import pytest

from edge_captioner.bundle.loader import load_bundle
from edge_captioner.model.captioner import Captioner
from make_test_bundles import BUNDLES, TINY, TINY_ATTENTION, TINY_INT8_DECODER, committed
from support.bundles import bundle_form

# bundle: (decoder type, quantization)
EXPECTED = {
    TINY[0]: ("show_and_tell", {"encoder": "int8", "decoder": "int16x8"}),
    TINY[1]: ("show_and_tell", {"encoder": "float32", "decoder": "float32"}),
    TINY_INT8_DECODER[0]: ("show_and_tell", {"encoder": "int8", "decoder": "int8"}),
    TINY_INT8_DECODER[1]: ("show_and_tell", {"encoder": "float32", "decoder": "float32"}),
    TINY_ATTENTION[0]: ("attention", {"encoder": "int8", "decoder": "int16x8"}),
    TINY_ATTENTION[1]: ("attention", {"encoder": "float32", "decoder": "float32"}),
}


def test_the_committed_bundles_are_the_ones_the_script_writes():
    assert sorted(p.name for p in BUNDLES.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_committed_bundle_loads_with_its_hashes_verified_and_is_what_its_name_says(name):
    bundle = load_bundle(BUNDLES / name)  # BadInput if a file's sha256 is not the manifest's
    decoder_type, quantization = EXPECTED[name]
    assert bundle.manifest.decoder_type == decoder_type == bundle.wiring.type
    assert bundle.manifest.quantization == quantization
    assert bundle.image_size == (64, 64) and bundle.language == "en"
    assert set(bundle.manifest.files) == {"encoder.tflite", "decoder.tflite", "vocab.txt"}


def test_the_pairs_are_twins_of_one_model():
    """Each int8 bundle and its float32 twin share the vocabulary and the model; the int16x8 and
    the int8-decoder conversions share the trained model, and so the int8 encoder, too."""
    for pair in (TINY, TINY_INT8_DECODER, TINY_ATTENTION):
        int8, flt = (bundle_form(b) for b in committed(pair))
        assert int8["vocab"] == flt["vocab"] and int8["model"] == flt["model"]
    a, b = (json.loads((committed(p)[0] / "manifest.json").read_text())
            for p in (TINY, TINY_INT8_DECODER))
    assert a["files"]["encoder.tflite"] == b["files"]["encoder.tflite"]


@pytest.mark.parametrize("pair", [TINY, TINY_INT8_DECODER, TINY_ATTENTION])
def test_a_committed_bundle_pair_captions_alike(pair, tiny_test_data):
    """The twins still caption (the runtime reads both) and mostly say the same."""
    import cv2

    int8, flt = (Captioner(b) for b in committed(pair))
    images = [cv2.imread(str(p)) for p in sorted((tiny_test_data / "images").glob("*.jpg"))[:10]]
    same = sum(int8.caption(i).text == flt.caption(i).text for i in images)
    assert all(int8.caption(i).text for i in images) and same >= 6, same
