"""The tiny bundles committed under tests/data/bundles, which the device tests load instead of
training a model: each loads with its hashes verified and is what its name says; and today's
conversion code, given the same recipe (tests/make_test_bundles.py), writes bundles of the same
form (the trained weights, hence quantization scales and hashes, may differ between machines)."""

import json
from pathlib import Path

import pytest

from edge_captioner.bundle.loader import load_bundle
from edge_captioner.model.captioner import Captioner
from make_test_bundles import BUNDLES, TINY, TINY_ATTENTION, TINY_INT8_DECODER, committed

# bundle: (decoder type, quantization)
EXPECTED = {
    TINY[0]: ("show_and_tell", {"encoder": "int8", "decoder": "int16x8"}),
    TINY[1]: ("show_and_tell", {"encoder": "float32", "decoder": "float32"}),
    TINY_INT8_DECODER[0]: ("show_and_tell", {"encoder": "int8", "decoder": "int8"}),
    TINY_INT8_DECODER[1]: ("show_and_tell", {"encoder": "float32", "decoder": "float32"}),
    TINY_ATTENTION[0]: ("attention", {"encoder": "int8", "decoder": "int16x8"}),
    TINY_ATTENTION[1]: ("attention", {"encoder": "float32", "decoder": "float32"}),
}


def form(bundle: Path) -> dict:
    """What a bundle's manifest says that does not depend on the trained weights' values."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    kept = {key: value for key, value in manifest.items()
            if key not in ("files", "created", "metrics", "training", "tensors")}
    kept["model"] = manifest["training"]["model"]
    kept["files"] = sorted(manifest["files"])
    kept["tensors"] = {graph: {side: {name: (t["shape"], t["dtype"]) for name, t in io.items()}
                               for side, io in tensors.items()}
                       for graph, tensors in manifest["tensors"].items()}
    kept["vocab"] = (bundle / "vocab.txt").read_text()
    return kept


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
        int8, flt = (form(b) for b in committed(pair))
        assert int8["vocab"] == flt["vocab"] and int8["model"] == flt["model"]
    a, b = (json.loads((committed(p)[0] / "manifest.json").read_text())
            for p in (TINY, TINY_INT8_DECODER))
    assert a["files"]["encoder.tflite"] == b["files"]["encoder.tflite"]


@pytest.mark.slow
@pytest.mark.parametrize("pair", ["tiny", "int8-decoder", "attention"])
def test_todays_conversion_writes_bundles_of_the_committed_form(pair, request, tmp_path):
    """When this fails, the conversion code changed what it writes: run tests/make_test_bundles.py
    and commit the bundles it writes."""
    if pair == "tiny":
        converted = request.getfixturevalue("converted_tiny_bundles")
    elif pair == "attention":
        converted = request.getfixturevalue("converted_tiny_attention_bundles")
    else:
        from make_test_bundles import convert

        converted = convert(request.getfixturevalue("tiny_model"),
                            request.getfixturevalue("tiny_data"), tmp_path / "int8",
                            tmp_path / "float", "--decoder", "int8")
    names = {"tiny": TINY, "int8-decoder": TINY_INT8_DECODER, "attention": TINY_ATTENTION}[pair]
    for fresh, kept in zip(converted, committed(names), strict=True):
        assert form(fresh) == form(kept), kept.name


@pytest.mark.parametrize("pair", [TINY, TINY_INT8_DECODER, TINY_ATTENTION])
def test_a_committed_bundle_pair_captions_alike(pair, tiny_test_data):
    """The twins still caption (the runtime reads both) and mostly say the same."""
    import cv2

    int8, flt = (Captioner(b) for b in committed(pair))
    images = [cv2.imread(str(p)) for p in sorted((tiny_test_data / "images").glob("*.jpg"))[:10]]
    same = sum(int8.caption(i).text == flt.caption(i).text for i in images)
    assert all(int8.caption(i).text for i in images) and same >= 6, same
