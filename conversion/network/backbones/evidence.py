"""The "evidence" backbone of the grounded model (train-grounded): no CNN; the encoder reads the
real-world encoder's findings as a vector (edge_captioner/model/evidence.py) through a small MLP."""

from __future__ import annotations

import keras
from keras import layers

from .base import Backbone


class EvidenceMlp(Backbone):
    name = "evidence"
    input_name = "evidence"
    reads_images = False

    def input(self, batch_size: int | None = None):
        return keras.Input((self.config.evidence_dim,), batch_size=batch_size, name=self.input_name)

    def build(self, locations: bool) -> keras.Model:
        c = self.config
        if not c.evidence_dim:
            raise ValueError("the evidence backbone needs evidence_dim")
        evidence = self.input()
        x = layers.Dense(c.feature_dim, activation="relu", name="evidence_dense")(evidence)
        x = layers.Dropout(c.dropout, name="feature_dropout")(x)
        feature = layers.Dense(c.feature_dim, activation="relu", name="feature")(x)
        return keras.Model(evidence, feature, name="backbone")
