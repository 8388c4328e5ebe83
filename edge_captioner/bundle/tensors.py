"""The manifest's image and tensor sections: what the graphs take and give, by name.

'tensors' is {graph: {"inputs"|"outputs": {name: {"shape": [int], "dtype": str, "scale": float,
"zero_point": int}}}}. The runtime compares these entries with the graphs
(model/runtime.Graph), which trusts their types: a list where an object belongs must be BadInput
here, not an AttributeError there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput
from .choices import COLOUR_ORDERS, RESIZE_MODES, TENSOR_KINDS


def check_image(image: dict, where: str, manifest_path: Path, smallest: int, largest: int,
                square: bool = False) -> tuple[tuple[int, int], str, str]:
    """A graph's `image` section checked: ((width, height), colour_order, resize), or BadInput."""
    size = image.get("size")
    if (not isinstance(size, list) or len(size) != 2 or (square and size[0] != size[1])
            or not all(isinstance(v, int) and not isinstance(v, bool) and smallest <= v <= largest
                       for v in size)):
        shape = "[size, size]" if square else "[width, height] in pixels"
        raise BadInput(f"{manifest_path}: '{where}.size' must be {shape}, {smallest}..{largest}")
    if image.get("colour_order") not in COLOUR_ORDERS:
        raise BadInput(f"{manifest_path}: '{where}.colour_order' must be {' or '.join(COLOUR_ORDERS)}")
    if image.get("resize") not in RESIZE_MODES:
        raise BadInput(f"{manifest_path}: '{where}.resize' must be "
                       f"{', '.join(RESIZE_MODES[:-1])} or {RESIZE_MODES[-1]}")
    return (size[0], size[1]), image["colour_order"], image["resize"]


@dataclass(frozen=True)
class ImageSpec:
    """How a frame becomes the encoder's input image (preprocess.model_input)."""
    size: tuple[int, int]  # width, height in pixels
    colour_order: str  # one of COLOUR_ORDERS
    resize: str  # one of RESIZE_MODES
    dtype: str | None = None  # informative ("uint8"); None where the manifest has none

    @classmethod
    def from_json(cls, image: dict, manifest_path: Path) -> ImageSpec:
        size, colour_order, resize = check_image(image, "image", manifest_path, 8, 4096)
        return cls(size=size, colour_order=colour_order, resize=resize, dtype=image.get("dtype"))

    def to_json(self) -> dict:
        return {"size": list(self.size), "colour_order": self.colour_order, "resize": self.resize,
                **({"dtype": self.dtype} if self.dtype is not None else {})}


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str  # a numpy dtype name: "uint8", "float32", ...
    scale: float | None = None  # the converter's record of the quantization (informative)
    zero_point: int | None = None

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype,
                **({"scale": self.scale} if self.scale is not None else {}),
                **({"zero_point": self.zero_point} if self.zero_point is not None else {})}


@dataclass(frozen=True)
class GraphTensors:
    """One graph's signature tensors by name."""
    inputs: dict[str, TensorSpec] = field(default_factory=dict)
    outputs: dict[str, TensorSpec] = field(default_factory=dict)

    @classmethod
    def from_json(cls, section: dict, where: str, manifest_path: Path,
                  required: bool = True) -> GraphTensors:
        """`where`: the section's path in the manifest ("tensors.encoder"). `required`: inputs
        and outputs must be there and name at least one tensor each."""
        kinds = {}
        for kind in TENSOR_KINDS:
            entries = section.get(kind, None if required else {})
            if not isinstance(entries, dict) or (required and not entries):
                raise BadInput(f"{manifest_path}: '{where}.{kind}' must be an object "
                               "naming the graph's tensors")
            kinds[kind] = {name: _tensor(entry, f"{where}.{kind}.{name}", manifest_path)
                           for name, entry in entries.items()}
        return cls(**kinds)

    def to_json(self) -> dict:
        return {kind: {name: spec.to_json() for name, spec in getattr(self, kind).items()}
                for kind in TENSOR_KINDS}


def _tensor(entry: object, where: str, manifest_path: Path) -> TensorSpec:
    # `where` is shown with !r: a tensor name may hold "\n", and BadInput is one line
    if not isinstance(entry, dict):
        raise BadInput(f"{manifest_path}: {where!r} must be an object")
    shape, dtype = entry.get("shape"), entry.get("dtype")
    if not (isinstance(shape, list) and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise BadInput(f"{manifest_path}: {where!r} needs a 'shape': a list of sizes")
    if not (isinstance(dtype, str) and dtype.isascii() and dtype.isalnum()):
        raise BadInput(f"{manifest_path}: {where!r} needs a 'dtype': a dtype name")
    scale, zero_point = entry.get("scale"), entry.get("zero_point")
    if not (scale is None or _number(scale, (int, float))) or \
            not (zero_point is None or _number(zero_point, int)):
        raise BadInput(f"{manifest_path}: {where!r} has a 'scale' or 'zero_point' that is not "
                       "a number")
    return TensorSpec(shape=tuple(shape), dtype=dtype, scale=scale, zero_point=zero_point)


def _number(value: object, kinds) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool)


@dataclass(frozen=True)
class Tensors:
    encoder: GraphTensors
    decoder: GraphTensors

    @classmethod
    def from_json(cls, tensors: dict, manifest_path: Path) -> Tensors:
        graphs = {}
        for graph in ("encoder", "decoder"):
            section = tensors.get(graph)
            if not isinstance(section, dict):
                raise BadInput(f"{manifest_path}: 'tensors.{graph}' must be an object")
            graphs[graph] = GraphTensors.from_json(section, f"tensors.{graph}", manifest_path)
        return cls(**graphs)

    def to_json(self) -> dict:
        return {"encoder": self.encoder.to_json(), "decoder": self.decoder.to_json()}
