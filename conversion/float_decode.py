"""Batched greedy decoding with the float weights in numpy.

Used where the float model must caption many images fast on the workstation: the sample captions
printed each epoch, and the REAL decoder states collected to calibrate int8 conversion. It is the
exported one-step decoder's arithmetic (see model.py) in numpy, so it needs no TFLite and no
per-step Keras call (a Keras `predict` per token costs milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class StepWeights:
    token_kernel: np.ndarray  # (V, 4U): embedding @ K_x
    recurrent: np.ndarray  # (U, 4U)
    logits_kernel: np.ndarray  # (U, V)
    logits_bias: np.ndarray  # (V,)

    @classmethod
    def from_decoder(cls, decoder) -> StepWeights:
        """From the exported Keras one-step decoder (model.Captioner.export_models)."""
        return cls(
            token_kernel=np.asarray(decoder.get_layer("token_gates").get_weights()[0]),
            recurrent=np.asarray(decoder.get_layer("recurrent_gates").get_weights()[0]),
            logits_kernel=np.asarray(decoder.get_layer("logits").get_weights()[0]),
            logits_bias=np.asarray(decoder.get_layer("logits").get_weights()[1]),
        )

    def step(self, tokens: np.ndarray, h: np.ndarray, c: np.ndarray, image_gates: np.ndarray):
        gates = self.token_kernel[tokens] + h @ self.recurrent + image_gates
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        return h @ self.logits_kernel + self.logits_bias, h, c


def greedy_batch(
    weights: StepWeights,
    h0: np.ndarray,
    c0: np.ndarray,
    image_gates: np.ndarray,
    start_id: int,
    end_id: int,
    max_length: int,
    collect: list | None = None,
) -> list[list[int]]:
    """Greedy captions for a batch; `collect` receives (token, h, c, image_gates) per live step."""
    n = h0.shape[0]
    h, c = h0.astype(np.float32), c0.astype(np.float32)
    tokens = np.full(n, start_id)
    done = np.zeros(n, bool)
    out: list[list[int]] = [[] for _ in range(n)]
    for _ in range(max_length - 1):
        if collect is not None:
            live = ~done
            collect.append((tokens[live].copy(), h[live].copy(), c[live].copy(),
                            image_gates[live].copy()))
        logits, h, c = weights.step(tokens, h, c, image_gates)
        tokens = logits.argmax(axis=-1)
        for k in np.flatnonzero(~done):
            if tokens[k] == end_id:
                done[k] = True
            else:
                out[k].append(int(tokens[k]))
        if done.all():
            break
    return out
