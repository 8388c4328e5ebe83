"""Batched greedy decoding with the float weights in numpy, for any decoder type.

Used where the float model must caption many images fast on the workstation: the sample captions
printed each epoch, and the REAL decoder states collected to calibrate int8 conversion. Each
decoder type's numpy step (`Decoder.numpy_step`, in conversion/network/decoders/) is its exported one-step
decoder's arithmetic, so this needs no TFLite and no per-step Keras call (a Keras `predict` per
token costs milliseconds).

The state is a dict keyed by the exported decoder's input NAMES (h, c, image_gates[, keys,
values]); `initial_state` builds it from the encoder's outputs with the manifest's wiring, so the
states collected for calibration are keyed exactly as the converter's representative data must be.
"""

from __future__ import annotations

import numpy as np

State = dict[str, np.ndarray]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def lstm_step(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The LSTM's cell update from gate pre-activations (Keras order i, f, g, o): (h', c')."""
    i, f, g, o = np.split(gates, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def initial_state(encoder_outputs: dict[str, np.ndarray], wiring: dict) -> State:
    """Decoder inputs from encoder outputs, as the manifest's wiring says (Decoder.wiring)."""
    return {name: np.asarray(encoder_outputs[source], np.float32)
            for name, source in wiring["initial"].items()}


def greedy_batch(
    step,
    state: State,
    start_id: int,
    end_id: int,
    max_length: int,
    collect: list | None = None,
) -> list[list[int]]:
    """Greedy captions for a batch; `collect` receives, per step, the live rows' decoder inputs
    as {"token": ids, **state}."""
    n = len(next(iter(state.values())))
    tokens = np.full(n, start_id)
    done = np.zeros(n, bool)
    out: list[list[int]] = [[] for _ in range(n)]
    for _ in range(max_length - 1):
        if collect is not None:
            live = ~done
            collect.append({"token": tokens[live].copy(),
                            **{k: v[live].copy() for k, v in state.items()}})
        logits, state, _ = step(tokens, state)
        tokens = logits.argmax(axis=-1)
        for k in np.flatnonzero(~done):
            if tokens[k] == end_id:
                done[k] = True
            else:
                out[k].append(int(tokens[k]))
        if done.all():
            break
    return out


def float_greedy(network, images: np.ndarray, vocab, collect: list | None = None,
                 mirror: bool = False) -> list[list[int]]:
    """Greedy token ids for images with a CaptionNetwork's float weights: its exported Keras
    encoder (with `mirror`, the test-time mirroring one), then the numpy twin of its exported
    one-step decoder, wired as the manifest would wire them (what `train` samples each epoch, what
    `convert` calibrates the decoder on, and what benchmarks/float_scene_metrics.py scores)."""
    encoder, decoder = network.export_models(batch_size=None, mirror=mirror)
    encoded = encoder.predict(np.asarray(images, np.float32), batch_size=64, verbose=0)
    return greedy_batch(network.decoder_type.numpy_step(decoder),
                        initial_state(encoded, network.decoder_wiring()),
                        vocab.start_id, vocab.end_id, network.config.max_length, collect=collect)
