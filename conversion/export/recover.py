"""`edge-captioner-convert recover BUNDLE OUT`: a `train` output directory rebuilt from a bundle.

A bundle holds every weight of its model: the int8 graphs as int8 values with their scales, the
float32 graphs as they are. Reading them back gives a model directory (config.json, vocab.txt,
model.weights.h5) that `convert` re-exports and `train --init-from` starts from, for a bundle whose
training run is gone (the shipped default bundles were trained on a machine lent for an hour).
The weights are the bundle's own: from an int8 bundle, the dequantized int8 values; re-converting
them to int8 gives back the same int8 weights, because each channel's largest value sits on the
int8 grid's end (+-127 steps) and so yields the same scale.

What the export folded is unfolded to an equivalent form, not the original one, by each type's
`recover` hook (the backbone's and the decoder's, conversion/network/backbones and .../decoders):
- a CONV_2D carries its BatchNormalization as a bias: the BN layer is set to the identity
  (gamma 1, variance 1 - epsilon, mean 0) with that bias as its beta (backbones/cnn.py);
- the decoder's one-hot token FULLY_CONNECTED is embedding @ K_embed: an SVD splits it back into an
  embedding table and the LSTM's token kernel with the same product (decoders/base.py).

Only the types whose graphs map one op to one Keras layer (`recoverable`): Show-and-Tell bundles on
the small CNN. Written
against TFLite's tensor names (the Keras layer path, e.g. "encoder_1/backbone_1/c3_1/convolution"),
which every converted bundle of this project carries.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np

from edge_captioner.bundle.loader import load_bundle
from edge_captioner.errors import BadInput

from .checks import open_interpreter

log = logging.getLogger(__name__)

WEIGHT_OPS = {"CONV_2D", "FULLY_CONNECTED"}
# {layer name: (kernel as TFLite stores it, bias or None)}: what the types' `recover` hooks read
GraphWeights = dict[str, tuple[np.ndarray, np.ndarray | None]]


def _layer_name(weight_name: str, output_name: str) -> str | None:
    """The Keras layer of a CONV_2D or FULLY_CONNECTED: 'encoder_1/backbone_1/c3_1/convolution'
    -> 'c3', 'decoder_1/logits_1/MatMul' -> 'logits'. A weight tensor that two layers share (a
    --mirror encoder's 1x1 squeeze and scene heads) loses its name ('arith.constant111'): then the
    op's output tensor names the layer ('...;encoder_1/backbone_1/squeeze_1/convolution;...')."""
    for name in (weight_name, output_name):
        for part in name.split(";"):
            match = re.search(r"([^/]+)/(convolution|MatMul)$", part)
            if match:
                return re.sub(r"_\d+$", "", match.group(1))
    parts = weight_name.split(";")[0].split("/")
    return re.sub(r"_\d+$", "", parts[-2]) if len(parts) > 1 else None


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    quant = detail["quantization_parameters"]
    scales = np.asarray(quant["scales"], np.float64)
    if not np.issubdtype(values.dtype, np.integer) or scales.size == 0:
        return values.astype(np.float32)
    zero_points = np.asarray(quant["zero_points"], np.float64)
    shape = [1] * values.ndim
    if scales.size > 1:
        shape[quant["quantized_dimension"]] = -1
    real = (values.astype(np.float64) - zero_points.reshape(shape)) * scales.reshape(shape)
    return real.astype(np.float32)


def graph_weights(path: Path) -> GraphWeights:
    """{layer name: (kernel as TFLite stores it, bias or None)} of every CONV_2D and
    FULLY_CONNECTED in a .tflite graph, dequantized to float32."""
    it = open_interpreter(path)
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    ops = it._get_ops_details()
    # A --mirror encoder's mean of the two views (keras Average) converts to an ADD whose 0.5 the
    # converter folds into the FULLY_CONNECTED layers that read it: their kernels come back x2.
    halved_inputs = {o for op in ops if op["op_name"] == "ADD"
                     for o in op["outputs"] if "/mirror_mean" in tensors[o]["name"]}
    out = {}
    for op in ops:
        if op["op_name"] not in WEIGHT_OPS:
            continue
        weight, bias = (list(op["inputs"][1:3]) + [-1])[:2]
        detail = tensors[weight]
        name = _layer_name(detail["name"], tensors[op["outputs"][0]]["name"])
        # a --mirror encoder's mirrored CNN (mirror_*) is derived from the CNN; the scene heads
        # it shares with the CNN appear twice with the same weights: keep the first
        if name is None or name.startswith("mirror_") or name in out:
            continue
        kernel = _dequantize(it.get_tensor(weight), detail)
        if op["inputs"][0] in halved_inputs:
            kernel = kernel * np.float32(2)
        out[name] = (
            kernel, _dequantize(it.get_tensor(bias), tensors[bias]) if bias >= 0 else None)
    return out


def recover(bundle_path: Path, out: Path):
    """Rebuild the CaptionNetwork of a bundle; write it to OUT as a `train` output directory."""
    from conversion.network.backbones import backbone_class
    from conversion.network.decoders import decoder_class
    from conversion.network.model import CaptionNetwork, NetworkConfig

    bundle = load_bundle(bundle_path)  # refuses a bundle whose files do not match their hashes
    manifest = bundle.manifest.to_json()
    try:
        config = NetworkConfig(**manifest["training"]["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{bundle_path}: the manifest has no usable training.model: {exc}") from None
    if not (backbone_class(config.backbone).recoverable
            and decoder_class(config.decoder).recoverable):
        raise BadInput(f"{bundle_path}: recover reads Show-and-Tell bundles on the small CNN only "
                       f"(this one: {config.decoder} on {config.backbone})")
    weights = graph_weights(bundle.file("encoder.tflite")) | graph_weights(
        bundle.file("decoder.tflite"))
    network = CaptionNetwork(config)
    try:
        network.backbone_type.recover(weights)
        for layer in network.scene_heads or ():
            kernel, bias = weights[layer.name]
            layer.set_weights([kernel.T, bias])
        network.decoder_type.recover(weights)
    except KeyError as exc:
        raise BadInput(f"{bundle_path}: no weights for layer {exc} in its graphs") from None

    out.mkdir(parents=True, exist_ok=True)
    network.training_model.save_weights(out / "model.weights.h5")
    shutil.copyfile(bundle.file("vocab.txt"), out / "vocab.txt")
    training = manifest["training"]
    (out / "config.json").write_text(json.dumps({
        "model": config.to_dict(),
        "language": manifest["language"],
        "resize": manifest["image"]["resize"],
        "colour_order": manifest["image"]["colour_order"],
        "caption_mode": training.get("caption_mode"),
        "seed": training.get("seed"),
        "data": training.get("data"),
        "recovered_from": {"bundle": str(bundle_path), "name": manifest["name"],
                           "quantization": manifest.get("quantization")},
    }, indent=2))
    return network


def cmd_recover(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise BadInput(f"{out}: not empty (use --force to overwrite)")
    recover(Path(args.bundle), out)
    print(f"wrote {out} (config.json, vocab.txt, model.weights.h5) from {args.bundle}")
    return 0
