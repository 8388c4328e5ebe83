"""Batched greedy decoding with the float weights in numpy, for either decoder type.

Used where the float model must caption many images fast on the workstation: the sample captions
printed each epoch, and the REAL decoder states collected to calibrate int8 conversion. It is the
exported one-step decoder's arithmetic (see model.py) in numpy, so it needs no TFLite and no
per-step Keras call (a Keras `predict` per token costs milliseconds).

The state is a dict keyed by the exported decoder's input NAMES (h, c, image_gates[, keys,
values]); `initial_state` builds it from the encoder's outputs with the manifest's wiring, so the
states collected for calibration are keyed exactly as the converter's representative data must be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

State = dict[str, np.ndarray]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _lstm(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, f, g, o = np.split(gates, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def _weights(decoder, name: str) -> list[np.ndarray]:
    return [np.asarray(w) for w in decoder.get_layer(name).get_weights()]


@dataclass
class ShowAndTellStep:
    token_kernel: np.ndarray  # (V, 4U): embedding @ K_x
    recurrent: np.ndarray  # (U, 4U)
    logits_kernel: np.ndarray  # (U, V)
    logits_bias: np.ndarray  # (V,)

    @classmethod
    def from_decoder(cls, decoder) -> ShowAndTellStep:
        return cls(_weights(decoder, "token_gates")[0], _weights(decoder, "recurrent_gates")[0],
                   *_weights(decoder, "logits"))

    def __call__(self, tokens: np.ndarray, state: State):
        """-> (logits, new state, attention or None)"""
        gates = self.token_kernel[tokens] + state["h"] @ self.recurrent + state["image_gates"]
        h, c = _lstm(gates, state["c"])
        return h @ self.logits_kernel + self.logits_bias, {**state, "h": h, "c": c}, None


@dataclass
class AttentionStep:
    token_kernel: np.ndarray  # (V, 4U): embedding @ K_token
    recurrent: np.ndarray  # (U, 4U)
    context_kernel: np.ndarray  # (D, 4U)
    query_kernel: np.ndarray  # (U, A)
    score_kernel: np.ndarray  # (A,)
    logits_kernel: np.ndarray
    logits_bias: np.ndarray

    @classmethod
    def from_decoder(cls, decoder) -> AttentionStep:
        return cls(
            token_kernel=_weights(decoder, "token_onehot_gates")[0],
            recurrent=_weights(decoder, "recurrent_gates")[0],
            context_kernel=_weights(decoder, "context_gates")[0],
            query_kernel=_weights(decoder, "attention_query")[0],
            score_kernel=_weights(decoder, "attention_score")[0][:, 0],
            logits_kernel=_weights(decoder, "logits")[0],
            logits_bias=_weights(decoder, "logits")[1],
        )

    def __call__(self, tokens: np.ndarray, state: State):
        h = state["h"]
        query = (h @ self.query_kernel)[:, np.newaxis, :]
        attention = _softmax(np.tanh(state["keys"] + query) @ self.score_kernel)  # (B, L)
        context = np.einsum("bl,bld->bd", attention, state["values"])
        gates = (self.token_kernel[tokens] + h @ self.recurrent + state["image_gates"]
                 + context @ self.context_kernel)
        h, c = _lstm(gates, state["c"])
        return (h @ self.logits_kernel + self.logits_bias, {**state, "h": h, "c": c}, attention)


def step_for(decoder):
    """The numpy step of an exported Keras one-step decoder (model.Captioner.export_models)."""
    names = {layer.name for layer in decoder.layers}
    return AttentionStep.from_decoder(decoder) if "attention_score" in names else \
        ShowAndTellStep.from_decoder(decoder)


def initial_state(encoder_outputs: dict[str, np.ndarray], wiring: dict) -> State:
    """Decoder inputs from encoder outputs, as the manifest's wiring says (model.decoder_wiring)."""
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


def float_greedy(captioner, images: np.ndarray, vocab, collect: list | None = None,
                 mirror: bool = False) -> list[list[int]]:
    """Greedy token ids for images with a Captioner's float weights: its exported Keras encoder
    (with `mirror`, the test-time mirroring one), then the numpy twin of its exported one-step
    decoder, wired as the manifest would wire them (what `train` samples each epoch, what
    `convert` calibrates the decoder on, and what benchmarks/float_scene_metrics.py scores)."""
    encoder, decoder = captioner.export_models(batch_size=None, mirror=mirror)
    encoded = encoder.predict(np.asarray(images, np.float32), batch_size=64, verbose=0)
    return greedy_batch(step_for(decoder), initial_state(encoded, captioner.decoder_wiring()),
                        vocab.start_id, vocab.end_id, captioner.config.max_length, collect=collect)
