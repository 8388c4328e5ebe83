"""The manifest's decoder wiring and the --explain helpers: pure functions, no TensorFlow."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_captioner.bundle.loader import DEFAULT_BUNDLES_DIR, load_bundle, resolve_bundle_path
from edge_captioner.bundle.wiring import SHOW_AND_TELL_WIRING, check_against_graphs, parse_wiring
from edge_captioner.errors import BadInput
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.explain import explain_words, format_explanation, region, strongest

WHERE = Path("b/manifest.json")
ATTENTION = {
    "type": "attention", "token": "token", "logits": "logits",
    "initial": {"h": "h0", "c": "c0", "image_gates": "image_gates", "keys": "keys",
                "values": "values"},
    "state": {"h": "h_out", "c": "c_out"}, "attention": "attention", "attention_grid": [4, 4],
}


def manifest(**decoder):
    return {"decoder_type": decoder.get("type", "attention"), "decoder": {**ATTENTION, **decoder}}


def _without_decoder_section(bundle: Path, tmp_path: Path) -> Path:
    legacy = tmp_path / bundle.name
    shutil.copytree(bundle, legacy)
    return legacy


@pytest.mark.slow
@pytest.mark.parametrize("which", [0, 1])
def test_bundles_from_before_the_decoder_section_get_the_show_and_tell_wiring(which, tiny_bundles,
                                                                              tmp_path):
    """A bundle converted before manifests had a "decoder" section (Show-and-Tell, raw logits:
    what a 16x8 conversion still writes, int8 or float32 twin) gets that wiring derived."""
    legacy = _without_decoder_section(tiny_bundles[which], tmp_path)
    manifest_path = legacy / "manifest.json"
    document = json.loads(manifest_path.read_text())
    explicit = document.pop("decoder")
    manifest_path.write_text(json.dumps(document))
    bundle = load_bundle(str(legacy))
    assert bundle.manifest.decoder is None
    wiring = bundle.wiring
    assert wiring.initial == explicit["initial"] and wiring.state == explicit["state"]
    assert wiring.type == "show_and_tell" and wiring.attention is None
    assert wiring.initial == SHOW_AND_TELL_WIRING["initial"]
    assert wiring.state == {"h": "h_out", "c": "c_out"}
    tensors = bundle.manifest.to_json()["tensors"]
    shapes = {g: {k: {n: d["shape"] for n, d in tensors[g][k].items()} for k in tensors[g]}
              for g in tensors}
    check_against_graphs(wiring, shapes["encoder"]["outputs"], shapes["decoder"]["inputs"],
                         shapes["decoder"]["outputs"], WHERE)
    assert not wiring.normalised


def test_a_log_softmax_decoder_without_its_decoder_section_is_refused(tmp_path):
    """The derived wiring expects raw "logits": a decoder ending in LOG_SOFTMAX (the shipped
    bundles) that lost its section is exit 2 at load, not captions from the wrong tensor."""
    legacy = _without_decoder_section(resolve_bundle_path("render-en"), tmp_path)
    manifest_path = legacy / "manifest.json"
    document = json.loads(manifest_path.read_text())
    assert document.pop("decoder")["normalised"] is True
    manifest_path.write_text(json.dumps(document))
    with pytest.raises(BadInput, match=r"names \['logits'\], which the decoder does not output"):
        Captioner(str(legacy))


def test_an_attention_wiring_parses():
    wiring = parse_wiring(manifest(), WHERE)
    assert wiring.attention == "attention" and wiring.attention_grid == (4, 4)
    assert wiring.initial["keys"] == "keys"
    assert wiring.normalised is False  # absent: raw logits, normalised by the runtime
    assert parse_wiring(manifest(normalised=True), WHERE).normalised is True


@pytest.mark.parametrize("change,message", [
    ({"initial": []}, "initial must map"),
    ({"state": {"h": "h_out", "x": "x_out"}}, r"\['x'\] have no initial value"),
    ({"token": 3}, "token must be a tensor name"),
    ({"attention_grid": [4]}, r"attention_grid must be \[rows, cols\]"),
    ({"normalised": "yes"}, "normalised must be true or false"),
    ({"attention_grid": [4, True]}, r"attention_grid must be \[rows, cols\]"),
    ({"initial": {**ATTENTION["initial"], "token": "h0"}}, "also in 'initial'"),
    ({"type": "show_and_tell"}, None),
])
def test_bad_wiring_is_refused_naming_the_manifest(change, message):
    data = manifest(**change)
    if message is None:  # a type that contradicts decoder_type
        data["decoder_type"] = "attention"
        message = "contradicts decoder_type"
    with pytest.raises(BadInput, match=f"manifest.json: 'decoder'.*{message}"):
        parse_wiring(data, WHERE)


def test_an_old_bundle_of_another_type_has_no_default_wiring():
    with pytest.raises(BadInput, match="no 'decoder' section"):
        parse_wiring({"decoder_type": "transformer"}, WHERE)


def test_the_wiring_must_fit_the_graphs():
    wiring = parse_wiring(manifest(), WHERE)
    enc = {"h0": [1, 8], "c0": [1, 8], "image_gates": [1, 32], "keys": [1, 16, 4],
           "values": [1, 16, 2]}
    dec_in = {"token": [1, 9], "h": [1, 8], "c": [1, 8], "image_gates": [1, 32],
              "keys": [1, 16, 4], "values": [1, 16, 2]}
    dec_out = {"logits": [1, 9], "h_out": [1, 8], "c_out": [1, 8], "attention": [1, 16]}
    check_against_graphs(wiring, enc, dec_in, dec_out, WHERE)
    with pytest.raises(BadInput, match=r"initial names \['keys'\]"):
        check_against_graphs(wiring, {k: v for k, v in enc.items() if k != "keys"}, dec_in,
                             dec_out, WHERE)
    with pytest.raises(BadInput, match="decoder's inputs are"):
        check_against_graphs(wiring, enc, {**dec_in, "extra": [1]}, dec_out, WHERE)
    with pytest.raises(BadInput, match=r"names \['attention'\]"):
        check_against_graphs(wiring, enc, dec_in, {k: v for k, v in dec_out.items()
                                                   if k != "attention"}, WHERE)
    with pytest.raises(BadInput, match="does not fit decoder input 'keys'"):
        check_against_graphs(wiring, {**enc, "keys": [1, 16, 5]}, dec_in, dec_out, WHERE)
    with pytest.raises(BadInput, match="does not have 4x4 weights"):
        check_against_graphs(wiring, enc, dec_in, {**dec_out, "attention": [1, 64]}, WHERE)


def test_a_broken_decoder_section_is_exit_2_at_load(tmp_path):
    target = tmp_path / "b"
    shutil.copytree(DEFAULT_BUNDLES_DIR / "render-en", target)
    data = json.loads((target / "manifest.json").read_text())
    data["decoder"] = {**SHOW_AND_TELL_WIRING, "state": {"q": "h_out"}}
    (target / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BadInput, match=r"'decoder'.state: \['q'\] have no initial value"):
        load_bundle(target)


def test_regions_of_a_grid():
    assert region(0, 0, 8, 8) == "upper-left"
    assert region(5, 2, 8, 8) == "lower-left"  # the row of 5.5/8 is in the lower third
    assert region(3, 4, 8, 8) == "centre"
    assert region(1, 2, 4, 4) == "centre"
    assert region(0, 1, 4, 4) == "upper"
    assert region(3, 3, 4, 4) == "lower-right"
    assert region(2, 0, 4, 4) == "middle-left"
    assert region(0, 0, 1, 1) == "centre"


def test_explanation_names_the_strongest_cell_per_word():
    a = np.zeros((4, 4))
    a[3, 0] = 0.7
    a[0, 0] = 0.3
    b = np.full((4, 4), 1 / 16)
    b[1, 3] += 0.01
    assert strongest(a) == (3, 0, 0.7)
    items = explain_words(["cat", "sofa"], [a, b])
    assert items[0] == {"word": "cat", "row": 3, "col": 0, "region": "lower-left", "weight": 0.7}
    assert format_explanation(items) == "cat@(r3,c0) lower-left  sofa@(r1,c3) middle-right"
