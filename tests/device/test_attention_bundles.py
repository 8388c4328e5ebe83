"""Attention bundles on the device: the weights are a distribution over the grid, beam search agrees
with greedy, `caption --explain` for both decoder types, and the runtime never imports TensorFlow."""

import json
import subprocess
import sys

import cv2
import pytest

from edge_captioner.model.captioner import Captioner
from edge_captioner.model.search import beam_search
from support.bundles import caption_without_tensorflow

pytestmark = pytest.mark.slow


def run_caption(*args):
    return subprocess.run([sys.executable, "-m", "edge_captioner.cli", "caption", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


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

    # Show-and-Tell (the shipped bundle): the caption and what its real-world encoder found,
    # nothing about attention (it has none: not news); exit 0; with -v, one info line says so
    done = run_caption(image, "--explain")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(str(image))
    assert lines[1].startswith("  found: ")
    assert "attention" not in done.stdout + done.stderr
    done = run_caption(image, "--explain", "--json")
    assert json.loads(done.stdout)["attention"] is None
    assert "attention" not in done.stderr
    done = run_caption("-v", image, "--explain")
    assert done.stdout.splitlines() == lines
    assert "default-en: a show_and_tell bundle has no attention to explain" in done.stderr


def test_the_runtime_never_imports_tensorflow_with_an_attention_bundle(tiny_attention_bundles,
                                                                       tiny_test_data):
    image = next((tiny_test_data / "images").glob("*.jpg"))
    printed = caption_without_tensorflow(tiny_attention_bundles[0], image,
                                         ", beam_size=3", explain=True)
    assert printed.split()[-1].isdigit()  # the number of attention maps, one per word
