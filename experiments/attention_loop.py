#!/usr/bin/env python3
"""How to run the attention decoder over a caption in training: an unrolled loop (what
conversion/network/decoders/attention.py does) against keras.layers.RNN over a cell, on the same layers.

    python experiments/attention_loop.py [--units 256 --attention-dim 64 --image-size 128 ...]

Keras 3's RNN takes no per-sequence constants, so the RNN variant carries the keys, values and
image gates as states that the cell returns unchanged. Decoder only (features given, no CNN), one
batch of random data; prints the time of the first call (tracing) and the median time per
training batch after it, the two models' batches interleaved.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

from conversion.network.backbones.cnn import SQUEEZE_CHANNELS  # noqa: E402
from conversion.network.decoders.attention import AttentionDecoder  # noqa: E402
from conversion.network.model import CaptionNetwork, NetworkConfig, masked_loss  # noqa: E402


class PassThroughCell(layers.Layer):
    """One attention step; keys, values and image gates ride along as unchanged states."""

    def __init__(self, decoder: AttentionDecoder):
        super().__init__()
        self.decoder = decoder
        # Attributes, so that Keras tracks (and trains) the step's layers as this cell's: the
        # decoder itself is a plain object
        self.step_layers = [decoder.query, decoder.score, decoder.recurrent_gates,
                            decoder.context_gates]
        c = decoder.config
        self.n, self.a = decoder.locations_count, c.attention_dim
        self.state_size = [c.units, c.units, self.n * self.a, self.n * SQUEEZE_CHANNELS,
                           4 * c.units]
        self.output_size = c.units

    def call(self, token_gates, states):
        h, cell, keys, values, gates = states
        h, cell, _ = self.decoder.step(
            token_gates, h, cell, gates, ops.reshape(keys, (-1, self.n, self.a)),
            ops.reshape(values, (-1, self.n, SQUEEZE_CHANNELS)))
        return h, [h, cell, keys, values, gates]


def rnn_model(network: CaptionNetwork) -> keras.Model:
    decoder = network.decoder_type
    c = network.config
    n, t = decoder.locations_count, c.max_length - 1
    feature = keras.Input((c.feature_dim,))
    locations = keras.Input((n, SQUEEZE_CHANNELS))
    tokens = keras.Input((t,), dtype="int32")
    k = decoder.constants(feature, locations)
    token_gates = decoder.token_gates(decoder.embedding(tokens))
    initial = [k["h0"], k["c0"], ops.reshape(k["keys"], (-1, n * c.attention_dim)),
               ops.reshape(k["values"], (-1, n * SQUEEZE_CHANNELS)), k["image_gates"]]
    hs = layers.RNN(PassThroughCell(decoder), return_sequences=True)(token_gates,
                                                                     initial_state=initial)
    return keras.Model([feature, locations, tokens], decoder.logits(hs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--attention-dim", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=128, help="128: 8x8 locations")
    parser.add_argument("--max-length", type=int, default=23)
    parser.add_argument("--vocab", type=int, default=52)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    config = NetworkConfig(vocab_size=args.vocab, image_size=args.image_size,
                           max_length=args.max_length, units=args.units,
                           attention_dim=args.attention_dim, decoder="attention")
    network = CaptionNetwork(config)
    rng = np.random.default_rng(0)
    b, t = args.batch_size, args.max_length - 1
    x = [rng.normal(size=(b, config.feature_dim)).astype("f4"),
         rng.normal(size=(b, network.decoder_type.locations_count, SQUEEZE_CHANNELS)).astype("f4"),
         rng.integers(1, args.vocab, (b, t)).astype("i4")]
    y = rng.integers(1, args.vocab, (b, t)).astype("i4")
    models = {"unrolled": network.feature_training_model(),
              "keras.layers.RNN": rnn_model(network)}
    trained = {name: len(m.trainable_variables) for name, m in models.items()}
    assert len(set(trained.values())) == 1, f"not the same weights trained: {trained}"
    times: dict[str, list[float]] = {name: [] for name in models}
    for name, model in models.items():
        model.compile(optimizer="adam", loss=masked_loss)
        started = time.perf_counter()
        model.train_on_batch(x, y)
        print(f"{name:<18} first batch (tracing) {time.perf_counter() - started:5.1f} s")
    # Interleaved, so that both see the same machine load; the median per batch.
    for _ in range(args.batches):
        for name, model in models.items():
            started = time.perf_counter()
            model.train_on_batch(x, y)
            times[name].append(time.perf_counter() - started)
    for name, samples in times.items():
        print(f"{name:<18} {np.median(samples) * 1000:6.1f} ms per training batch (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
