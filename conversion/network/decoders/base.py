"""What every decoder type offers the network (model.CaptionNetwork), and the layers they share.

Both types are LSTM decoders started from the image feature f (h0 = tanh(W_h0 f), c0 = W_c0 f),
reading a token embedding at each step and ending in a Dense over the vocabulary. For the device,
each exports two graphs built from the SAME trained weights:
    encoder: image -> what stays constant over a caption (h0, c0, the image's share of the LSTM
             gates, ...): the step does only per-step work
    decoder: one step (token one-hot, h, c, the constants) -> (scores, h', c', ...) written as
             FULLY_CONNECTED + LOGISTIC + TANH + MUL + ADD: the fused sequence-LSTM op is fragile
             on the Edge TPU compiler and at int8; the embedding lookup is folded into the one-hot
             FULLY_CONNECTED (embedding @ K_token), which removes GATHER.
`wiring` describes which encoder output feeds which decoder input and which decoder output is fed
back (the manifest's "decoder" section), so that the device runtime needs no knowledge of a type.
Keras gate order (i, f, g, o) and equations are reproduced exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import keras
import numpy as np
from keras import layers, ops

if TYPE_CHECKING:
    from conversion.export.recover import GraphWeights
    from conversion.network.model import NetworkConfig

# The exported step's fixed tensor names (the wiring refers to them)
TOKEN, H, C, IMAGE_GATES = "token", "h", "c", "image_gates"
STATE = {H: "h_out", C: "c_out"}  # decoder input <- its own output of the previous step


class Decoder:
    """One decoder type: owns its Keras layers and builds every graph of its type from them."""

    name: ClassVar[str]
    reads_locations: ClassVar[bool] = False  # reads the backbone's spatial map too
    mirrorable: ClassVar[bool] = False  # its encoder can average an image and its mirror image
    recoverable: ClassVar[bool] = False  # `recover` can read its weights back from a bundle
    # decoder input <- encoder output of the same name
    initial: ClassVar[dict[str, str]] = {H: "h0", C: "c0", IMAGE_GATES: "image_gates"}

    def __init__(self, config: NetworkConfig, decoder_input: Callable,
                 map_shape: tuple[int, int, int] | None):
        """decoder_input: the network's feature -> what the decoder reads of the image (f, and
        the scene heads' answers with `scene_input`). map_shape: the backbone's spatial map
        (rows, cols, D), for a decoder that reads locations."""
        c = config
        self.config = config
        self.decoder_input = decoder_input
        self.map_shape = map_shape
        self.init_h = layers.Dense(c.units, activation="tanh", name="init_h")
        self.init_c = layers.Dense(c.units, name="init_c")
        self.embedding = layers.Embedding(c.vocab_size, c.embedding_dim, name="embedding")
        self.dropout = layers.Dropout(c.dropout, name="lstm_dropout")
        self.logits = layers.Dense(c.vocab_size, name="logits")

    @property
    def grid(self) -> tuple[int, int] | None:
        """Rows and columns of the locations attended over (None: the decoder does not attend)."""
        return None

    # -- training --------------------------------------------------------------------------------
    def image_feature(self, features):
        """The feature f among the backbone's outputs (what the scene heads read)."""
        return features

    def feature_inputs(self):
        """Inputs shaped like the backbone's outputs, for a decoder trained on precomputed
        features (CaptionNetwork.feature_training_model)."""
        return keras.Input((self.config.feature_dim,), name="feature")

    def decode(self, features, tokens):
        """Teacher forcing: the backbone's outputs and tokens[:-1] -> logits of tokens[1:]."""
        raise NotImplementedError

    # -- export ----------------------------------------------------------------------------------
    def export(self, image, features, batch_size: int | None, log_probs: bool,
               mirror: Callable | None) -> tuple[keras.Model, keras.Model]:
        """(encoder from the Input `image` whose backbone outputs are `features`, one-step
        decoder), static shapes, the trained weights. mirror: image -> the backbone's feature of
        its mirror image (only where `mirrorable`)."""
        raise NotImplementedError

    def step_inputs(self, batch_size: int | None) -> list:
        """The one-step decoder's inputs: token one-hot, h, c, image gates."""
        c = self.config
        return [keras.Input((c.vocab_size,), batch_size=batch_size, name=TOKEN),
                keras.Input((c.units,), batch_size=batch_size, name=H),
                keras.Input((c.units,), batch_size=batch_size, name=C),
                keras.Input((4 * c.units,), batch_size=batch_size, name=IMAGE_GATES)]

    def wiring(self, log_probs: bool = False) -> dict:
        """The manifest's "decoder" section: decoder input <- encoder output (`initial`), decoder
        input <- its own output of the previous step (`state`), the token and scores tensors and
        the attention output. The runtime runs any bundle from this alone. log_probs: as
        `export(log_probs=True)` made the decoder."""
        grid = self.grid
        return {
            "type": self.name,
            "token": TOKEN,
            "logits": "log_probs" if log_probs else "logits",
            "normalised": log_probs,
            "initial": dict(self.initial),
            "state": dict(STATE),
            "attention": "attention" if grid else None,
            "attention_grid": list(grid) if grid else None,
        }

    # -- float decoding and recovery -------------------------------------------------------------
    def numpy_step(self, decoder: keras.Model):
        """The exported one-step Keras `decoder` as numpy: (token ids, state) -> (logits, new
        state, attention or None); float_decode.greedy_batch runs it."""
        raise NotImplementedError

    def recover(self, weights: GraphWeights) -> None:
        """Set this decoder's layers from a bundle's graphs (export.recover.graph_weights)."""
        raise ValueError(f"the {self.name} decoder cannot be recovered from a bundle")


def score_outputs(logits, log_probs: bool) -> dict:
    """The decoder's scores output: raw logits, or log-probabilities under that name."""
    return {"log_probs": ops.log_softmax(logits, axis=-1)} if log_probs else {"logits": logits}


def lstm(gates, cell):
    """The LSTM's cell update from gate pre-activations (Keras order i, f, g, o): (h', c')."""
    i, f, g, o = ops.split(gates, 4, axis=-1)
    new_c = ops.sigmoid(f) * cell + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(new_c), new_c


def layer_weights(model: keras.Model, name: str) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_layer(name).get_weights()]


def split_token_kernel(token_kernel: np.ndarray, embedding_dim: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(V, 4U) = embedding (V, E) @ K_embed (E, 4U). Exact for a float bundle's kernel, which
    the export folded from the two (rank at most E). An int8 kernel's rounding is full rank
    where V > E: the split is then the nearest rank-E kernel (least squares), which differs from
    the int8 one by less than a quantization step, and converting it again rounds most values back
    to the same int8 step (tests/conversion/test_recover.py)."""
    u, s, vt = np.linalg.svd(token_kernel.astype(np.float64), full_matrices=False)
    rank = min(embedding_dim, len(s))
    embedding = np.zeros((token_kernel.shape[0], embedding_dim))
    k_embed = np.zeros((embedding_dim, token_kernel.shape[1]))
    embedding[:, :rank] = u[:, :rank] * np.sqrt(s[:rank])
    k_embed[:rank] = np.sqrt(s[:rank])[:, np.newaxis] * vt[:rank]
    return embedding.astype(np.float32), k_embed.astype(np.float32)
