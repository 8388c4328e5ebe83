"""The device's decoder step: tensors as numpy views, constant inputs set once, and int8 decoders
that end in LOG_SOFTMAX (issue 4: the Python around a ~5 us invoke must stay as small).

Each fast path is checked against the plain one on the same real interpreter: set_tensor /
get_tensor on every input and output at every step, log-softmax in numpy."""

import json

import cv2
import numpy as np
import pytest

from conversion.export.checks import graph_report
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.search import beam_search, greedy
from support.bundles import ENCODER_OPS, INT8_DECODER_OPS
from support.paths import SHIPPED_BUNDLES


def _images(test_data, count=12):
    paths = sorted((test_data / "images").glob("*.jpg"))[:count]
    return [cv2.imread(str(p)) for p in paths]


def _shipped(name):

    return SHIPPED_BUNDLES / name


def test_an_int8_decoder_ends_in_log_softmax_and_says_so(tiny_int8_decoder_bundles):
    int8, flt = tiny_int8_decoder_bundles
    manifest = json.loads((int8 / "manifest.json").read_text())
    assert manifest["quantization"] == {"encoder": "int8", "decoder": "int8"}
    for graph in ("encoder", "decoder"):
        assert graph_report(int8 / f"{graph}.tflite")["float_ops"] == [], graph
    assert "LOG_SOFTMAX" in manifest["ops"]["decoder"]
    assert set(manifest["ops"]["decoder"]) <= INT8_DECODER_OPS
    assert set(manifest["ops"]["encoder"]) <= ENCODER_OPS
    for bundle in (int8, flt):
        wiring = json.loads((bundle / "manifest.json").read_text())["decoder"]
        assert wiring["logits"] == "log_probs" and wiring["normalised"] is True


def test_the_int8_step_returns_log_probabilities(tiny_int8_decoder_bundles, tiny_test_data):
    for bundle in tiny_int8_decoder_bundles:
        captioner = Captioner(bundle)
        model, vocab = captioner.model, captioner.bundle.vocab
        assert model.wiring.normalised
        for frame in _images(tiny_test_data, 4):
            state = model.encode(captioner.prepare(frame))
            logprobs, state = model.step(vocab.start_id, state)
            assert logprobs.shape == (len(vocab),) and logprobs.dtype == np.float32
            assert (logprobs <= 1e-6).all()
            # int8 LOG_SOFTMAX has a fixed output step of 1/16: the probabilities sum to ~1
            assert np.exp(logprobs.astype(np.float64)).sum() == pytest.approx(1.0, abs=0.1)


def _reference_step(model):
    """The step with every input set again (nothing taken as still in the tensor)."""
    def step(token, state):
        model.forget_inputs()
        return model.step(token, state)
    return step


def _random_walk(step, initial, vocab_size, seed=0, steps=60):
    """Steps from the states of random images with random tokens: states that are not the last
    step's (as in a beam), and constant inputs that change (another image)."""
    rng = np.random.default_rng(seed)
    states, seen = list(initial), []
    for _ in range(steps):
        k, token = int(rng.integers(len(states))), int(rng.integers(vocab_size))
        logprobs, states[k] = step(token, states[k])
        seen.append((logprobs, states[k]))
    return seen


@pytest.mark.parametrize("bundle", ["int8-decoder", "16x8-decoder", "shipped-en"])
def test_inputs_set_once_give_what_inputs_set_every_step_give(bundle, tiny_int8_decoder_bundles,
                                                              tiny_bundles, tiny_test_data):
    """Same interpreter: the step that does not set unchanged inputs again (constants over a
    caption) and the step that sets them all agree exactly, and so do the searches on them."""
    path = {"int8-decoder": tiny_int8_decoder_bundles[0], "16x8-decoder": tiny_bundles[0],
            "shipped-en": _shipped("render-en")}[bundle]
    captioner = Captioner(path)
    model, vocab = captioner.model, captioner.bundle.vocab
    initial = [model.encode(captioner.prepare(f)) for f in _images(tiny_test_data, 6)]
    fast = _random_walk(model.step, initial, len(vocab))
    slow = _random_walk(_reference_step(model), initial, len(vocab))
    for (lp_fast, new_fast), (lp_slow, new_slow) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(lp_fast, lp_slow)
        assert new_fast.keys() == new_slow.keys()
        for name in new_fast:
            np.testing.assert_array_equal(new_fast[name], new_slow[name])
    for state in initial[:3]:
        for search in (lambda step, s: greedy(step, s, vocab.start_id, vocab.end_id, 20),
                       lambda step, s: beam_search(step, s, vocab.start_id, vocab.end_id, 20,
                                                   4)[0]):
            a, b = search(model.step, state), search(_reference_step(model), state)
            assert a.tokens == b.tokens and a.logprob == b.logprob


def test_returned_arrays_survive_later_steps(tiny_bundles, tiny_test_data):
    """What step() returns is the caller's: later invokes must not change it."""
    captioner = Captioner(tiny_bundles[0])
    model, vocab = captioner.model, captioner.bundle.vocab
    state = model.encode(captioner.prepare(_images(tiny_test_data, 1)[0]))
    logprobs, after = model.step(vocab.start_id, state)
    kept = (logprobs.copy(), {k: v.copy() for k, v in after.items()})
    for token in range(min(8, len(vocab))):
        model.step(token, after)
    np.testing.assert_array_equal(logprobs, kept[0])
    for name, value in after.items():
        np.testing.assert_array_equal(value, kept[1][name])
