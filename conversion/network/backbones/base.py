"""What every backbone offers the network (model.CaptionNetwork): its Keras model, its input, and
the optional parts that only some have (a spatial map, a mirror tower, recovery from a bundle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import keras

if TYPE_CHECKING:
    from conversion.export.recover import GraphWeights
    from conversion.network.model import NetworkConfig


class Backbone:
    """Builds and holds `model`: the encoder's input -> the feature f (feature_dim), or, when the
    decoder attends (`locations`), -> [f, the spatial map as (L, D) locations]."""

    name: ClassVar[str]
    input_name: ClassVar[str] = "image"  # the encoder's input, in the Keras and the TFLite graph
    reads_images: ClassVar[bool] = True  # False: it reads the real-world encoder's findings
    spatial: ClassVar[bool] = False  # has a spatial map for an attending decoder
    mirrorable: ClassVar[bool] = False  # `mirror` works (convert --mirror)
    recoverable: ClassVar[bool] = False  # `recover` works (edge-captioner-convert recover)

    def __init__(self, config: NetworkConfig, locations: bool):
        if locations and not self.spatial:
            raise ValueError(f"the {self.name} backbone has no spatial map for the "
                             f"{config.decoder} decoder")
        self.config = config
        self.map_shape: tuple[int, int, int] | None = None  # rows, cols, D of the spatial map
        self.model = self.build(locations)

    def build(self, locations: bool) -> keras.Model:
        raise NotImplementedError

    def input(self, batch_size: int | None = None):
        """The encoder's one input (a Keras Input named as the exported graph's input)."""
        raise NotImplementedError

    @property
    def grid(self) -> tuple[int, int] | None:
        """Rows and columns of the spatial map's locations (None: the model outputs f alone)."""
        return self.map_shape[:2] if self.map_shape else None

    def mirror(self, image):
        """f of the left-right mirror image of `image`, computed from `image` (convert --mirror)."""
        raise ValueError(f"the {self.name} backbone has no mirror tower")

    def recover(self, weights: GraphWeights) -> None:
        """Set the model's weights from a bundle's graphs (export.recover.graph_weights)."""
        raise ValueError(f"the {self.name} backbone cannot be recovered from a bundle")
