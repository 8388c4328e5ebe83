"""The attention decoder end to end on a tiny model: train, convert to integer-only TFLite,
caption (greedy, beam, --explain), evaluate with the attention report; real TF, real TFLite."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import TINY_TRAIN, caption_without_tensorflow, check_integer_only, run_convert_cli
from conversion.export.checks import graph_report
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.search import beam_search

pytestmark = pytest.mark.slow

# test_pipeline's Show-and-Tell set, plus what attention needs: the softmax over locations, the
# weighted sum of the values and the reshapes between (L, A) rows and (1, L) weights.
ATTENTION_DECODER_OPS = {"FULLY_CONNECTED", "LOGISTIC", "TANH", "MUL", "ADD", "SPLIT", "QUANTIZE",
                         "DEQUANTIZE", "SOFTMAX", "SUM", "RESHAPE"}


def test_the_attention_model_trains(tiny_attention_model):
    config = json.loads((tiny_attention_model / "config.json").read_text())
    assert config["model"]["decoder"] == "attention"
    state = json.loads((tiny_attention_model / "state.json").read_text())
    assert state["epochs_done"] == 15
    assert state["history"][-1]["loss"] < state["history"][0]["loss"] * 0.8


def test_int8_attention_bundle_is_integer_only_and_says_what_it_holds(
        converted_tiny_attention_bundles):
    int8, flt = converted_tiny_attention_bundles
    manifest = check_integer_only(int8, ATTENTION_DECODER_OPS)
    assert manifest["decoder_type"] == "attention"
    wiring = manifest["decoder"]
    assert wiring["type"] == "attention" and wiring["attention_grid"] == [4, 4]
    tensors = manifest["tensors"]["decoder"]
    assert tensors["outputs"][wiring["attention"]]["shape"] == [1, 16]
    assert tensors["inputs"]["keys"]["shape"] == [1, 16, 32]  # 4x4 locations x attention dim
    # static batch-1 shapes everywhere
    assert all(t["shape"][0] == 1 for g in manifest["tensors"].values() for io in g.values()
               for t in io.values())
    assert graph_report(flt / "decoder.tflite")["float_ops"]


def test_attention_weights_are_a_distribution_over_the_grid(tiny_attention_bundles, tiny_test_data):
    images = sorted((tiny_test_data / "images").glob("*.jpg"))[:5]
    for bundle in tiny_attention_bundles:
        captioner = Captioner(bundle)
        for path in images:
            frame = cv2.imread(str(path))
            result = captioner.caption(frame)
            attention = captioner.attention(frame, result.tokens)
            assert result.tokens and len(attention) == len(result.tokens)
            for weights in attention:
                assert weights.shape == (4, 4) and (weights >= 0).all()
                assert weights.sum() == pytest.approx(1.0, abs=0.02)  # int16 steps in int8


def test_beam_search_and_greedy_agree_on_the_attention_bundle(tiny_attention_bundles,
                                                              tiny_test_data):
    captioner = Captioner(tiny_attention_bundles[0])
    vocab = captioner.bundle.vocab
    for path in sorted((tiny_test_data / "images").glob("*.jpg"))[:8]:
        image = captioner.prepare(cv2.imread(str(path)))
        greedy, _ = captioner.search(image, beam_size=1)
        state = captioner.model.encode(image)
        beam1 = beam_search(captioner.model.step, state, vocab.start_id, vocab.end_id,
                            captioner.max_length, beam_size=1)[0]
        assert beam1.tokens == greedy.tokens
        beam3, _ = captioner.search(image, beam_size=3)
        assert beam3.logprob >= greedy.logprob - 1e-6


def test_int8_attention_captions_match_float_and_the_report_draws_attention(
        tiny_attention_bundles, tiny_test_data, tmp_path, capsys):
    int8, flt = tiny_attention_bundles
    report = tmp_path / "report"
    assert run_convert_cli("evaluate", int8, tiny_test_data, "--reference", flt, "--json",
                           "--report", report) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["identical_captions"] >= 0.75
    assert abs(result["delta"]["object_f1"]) <= 0.1
    strips = sorted((report / "attention").glob("*.png"))
    assert len(strips) == 4
    page = (report / "index.html").read_text()
    assert "Attention per word" in page and page.count('src="attention/') == 4
    for strip in strips:
        picture = cv2.imread(str(strip))
        # the input tile and at least one word tile, each 112 px wide with a label under it
        assert picture.shape[0] == 112 + 22 and picture.shape[1] >= 2 * 112


def run_caption(*args):
    return subprocess.run([sys.executable, "-m", "edge_captioner.cli", "caption", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_caption_explain_for_both_decoder_types(tiny_attention_bundles, tiny_test_data):
    image = tiny_test_data / "images" / "000001.jpg"
    done = run_caption(image, "--bundle", tiny_attention_bundles[0], "--explain")
    assert done.returncode == 0, done.stderr
    caption_line, explain_line = done.stdout.splitlines()
    words = caption_line.split(": ", 1)[1].split()
    assert explain_line.startswith("  attention: ")
    items = explain_line[len("  attention: "):].split("  ")
    assert [item.split("@")[0] for item in items] == words
    assert all(" " in item and "@(r" in item and ",c" in item for item in items)

    done = run_caption(image, "--bundle", tiny_attention_bundles[0], "--explain", "--json")
    record = json.loads(done.stdout)
    assert [a["word"] for a in record["attention"]] == record["caption"].split()
    assert all(0 <= a["row"] < 4 and 0 <= a["col"] < 4 and 0 < a["weight"] <= 1
               for a in record["attention"])

    # Show-and-Tell (the shipped bundle): one line saying so, captions as usual, exit 0, and
    # what its real-world encoder found
    done = run_caption(image, "--explain")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "default-en: a show_and_tell bundle has no attention to explain"
    assert len(lines) == 3 and lines[1].startswith(str(image))
    assert lines[2].startswith("  found: ")
    done = run_caption(image, "--explain", "--json")
    assert json.loads(done.stdout)["attention"] is None
    assert "has no attention" in done.stderr


def test_the_runtime_never_imports_tensorflow_with_an_attention_bundle(tiny_attention_bundles,
                                                                       tiny_test_data):
    image = next((tiny_test_data / "images").glob("*.jpg"))
    printed = caption_without_tensorflow(tiny_attention_bundles[0], image,
                                         ", beam_size=3", explain=True)
    assert printed.split()[-1].isdigit()  # the number of attention maps, one per word


def test_pure_int8_attention_decoder(tiny_attention_model, tiny_data, tiny_test_data, tmp_path):
    out = tmp_path / "int8-decoder"
    assert run_convert_cli("convert", tiny_attention_model, out, "--representative", tiny_data,
                           "--calibration-images", "40", "--decoder", "int8") == 0
    assert json.loads((out / "manifest.json").read_text())["quantization"]["decoder"] == "int8"
    assert graph_report(out / "decoder.tflite")["float_ops"] == []
    frame = cv2.imread(str(tiny_test_data / "images" / "000002.jpg"))
    captioner = Captioner(out)
    result = captioner.caption(frame)
    attention = captioner.attention(frame, result.tokens)
    assert result.text and np.isclose(attention[0].sum(), 1.0, atol=0.05)


def test_an_attention_decoder_trains_on_a_frozen_backbone(tiny_attention_model, tiny_data,
                                                          tmp_path):
    """Another language's decoder on the attention model's CNN, features computed once."""
    short = [*TINY_TRAIN]
    short[short.index("--epochs") + 1] = "1"
    out = tmp_path / "zh"
    assert run_convert_cli("train", tiny_data, out, *short, "--lang", "zh", "--decoder",
                           "attention", "--attention-dim", "32", "--init-from",
                           tiny_attention_model, "--freeze-backbone", "--max-images", "100") == 0
    state = json.loads((out / "state.json").read_text())
    assert state["epochs_done"] == 1 and state["samples"]
