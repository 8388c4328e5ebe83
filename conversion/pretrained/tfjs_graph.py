"""A TensorFlow.js graph model (model.json + weight shards) -> an ordinary frozen tf GraphDef.

The JSON's `modelTopology` IS a GraphDef in protobuf's JSON form, with every Const node's value
left empty; `weightsManifest` lists those constants (name, shape, dtype, optional quantization) in
the order their bytes follow one another through the concatenated .bin shards. Filling each Const
node from the bytes gives back the frozen graph tensorflowjs started from. Quantized weights
(`float16`, or `uint8`/`uint16` affine: q * scale + min) are widened to float32; an int32 weight
whose node says int64 (tfjs has no int64) is widened back to int64.
"""

from __future__ import annotations

import json

import numpy as np

# bytes as stored (after quantization) -> numpy dtype
_STORED = {"float32": np.float32, "int32": np.int32, "bool": np.bool_,
           "float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def _decode_weights(manifest, weights: bytes) -> dict[str, np.ndarray]:
    if not isinstance(manifest, list):
        raise ValueError("tfjs model: weightsManifest is not a list")
    values: dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        entries = group.get("weights") if isinstance(group, dict) else None
        if not isinstance(entries, list):
            raise ValueError("tfjs model: a weightsManifest group has no weights list")
        for entry in entries:
            try:
                name, shape, dtype = entry["name"], [int(d) for d in entry["shape"]], entry["dtype"]
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"tfjs model: bad weight entry {str(entry)[:80]}") from None
            if any(d < 0 for d in shape):
                raise ValueError(f"tfjs model: weight {name}: negative dimension in {shape}")
            quant = entry.get("quantization")
            stored = quant.get("dtype") if isinstance(quant, dict) else dtype
            if stored not in _STORED or dtype not in ("float32", "int32", "bool"):
                raise ValueError(f"tfjs model: weight {name}: unsupported dtype {dtype}"
                                 f"{f' stored as {stored}' if quant else ''}")
            count = int(np.prod(shape, dtype=np.int64))
            size = count * np.dtype(_STORED[stored]).itemsize
            if offset + size > len(weights):
                raise ValueError(f"tfjs model: weight data ends at byte {len(weights)}, weight "
                                 f"{name} needs bytes {offset}..{offset + size}")
            raw = np.frombuffer(weights, _STORED[stored], count, offset).reshape(shape)
            offset += size
            if quant and stored in ("uint8", "uint16"):
                try:
                    scale, low = float(quant["scale"]), float(quant["min"])
                except (KeyError, TypeError, ValueError):
                    raise ValueError(f"tfjs model: weight {name}: affine quantization without "
                                     "scale/min") from None
                raw = raw.astype(np.float32) * scale + low
                if dtype == "int32":
                    raw = np.round(raw)
            if name in values:
                raise ValueError(f"tfjs model: weight {name} listed twice")
            values[name] = raw.astype(_STORED[dtype])
    if offset != len(weights):
        raise ValueError(f"tfjs model: the manifest accounts for {offset} weight bytes, the data "
                         f"has {len(weights)}")
    return values


def load_graph_def(model_json: bytes, weights: bytes):
    """tfjs graph-model JSON bytes + the concatenated weight shard bytes (manifest order) ->
    tf.compat.v1.GraphDef with every weight as a Const node value. ValueError on malformed input."""
    import tensorflow as tf
    from google.protobuf import json_format

    try:
        model = json.loads(model_json)
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"tfjs model: not JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(model, dict) or not isinstance(model.get("modelTopology"), dict):
        raise ValueError("tfjs model: no modelTopology object")
    if model.get("format", "graph-model") != "graph-model" or "node" not in model["modelTopology"]:
        raise ValueError(f"tfjs model: format {model.get('format', 'layers-model')!r}, not a "
                         "graph model")
    if (model.get("modelInitializer") or {}).get("node"):
        raise ValueError("tfjs model: initializer graphs (hash tables) are not supported")
    values = _decode_weights(model.get("weightsManifest"), bytes(weights))

    graph_def = tf.compat.v1.GraphDef()
    try:
        json_format.ParseDict(model["modelTopology"], graph_def)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise ValueError(f"tfjs model: modelTopology is not a GraphDef: "
                         f"{str(exc).splitlines()[0][:200]}") from None

    nodes = {node.name: node for node in graph_def.node}
    for name, value in values.items():
        node = nodes.get(name)
        if node is None or node.op != "Const":
            raise ValueError(f"tfjs model: weight {name} has no Const node")
        try:
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
        except TypeError:  # DT_INVALID: no dtype attr
            raise ValueError(f"tfjs model: Const node {name} has no dtype") from None
        try:
            proto = tf.make_tensor_proto(value.astype(dtype.as_numpy_dtype), dtype=dtype,
                                         shape=value.shape)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"tfjs model: weight {name} does not fit its node's type {dtype.name}: "
                             f"{str(exc).splitlines()[0][:120]}") from None
        node.attr["value"].tensor.CopyFrom(proto)
    return graph_def


# tfjs's fused activations -> the TF op that computes each
_ACTIVATIONS = {b"Relu": "Relu", b"Relu6": "Relu6", b"Elu": "Elu", b"Sigmoid": "Sigmoid",
                b"Tanh": "Tanh"}
_FUSED = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}


def split_fused_ops(graph_def):
    """A copy with tfjs's fused convolutions (`_FusedConv2D`, `FusedDepthwiseConv2dNative`: conv +
    BiasAdd [+ activation] in one node) split back into plain TF ops. The TFLite converter knows
    neither fused op (the depthwise one exists only in tfjs). The last op of each split keeps the
    fused node's name, so its consumers need no rewiring. ValueError for a fusion other than
    BiasAdd [+ one activation] (batch-norm or prelu fusions have more arguments)."""
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op not in _FUSED:
            out.node.add().CopyFrom(node)
            continue
        fused = list(node.attr["fused_ops"].list.s)
        if (not fused or fused[0] != b"BiasAdd" or len(fused) > 2
                or (len(fused) == 2 and fused[1] not in _ACTIVATIONS) or len(node.input) != 3):
            raise ValueError(f"tfjs model: {node.name}: unsupported fusion {fused} "
                             f"({len(node.input)} inputs)")
        conv = out.node.add()
        conv.name, conv.op = f"{node.name}/split_conv", _FUSED[node.op]
        conv.input.extend(node.input[:2])
        conv.device = node.device
        keep = {"T", "strides", "padding", "data_format", "dilations", "explicit_paddings"}
        if conv.op == "Conv2D":
            keep.add("use_cudnn_on_gpu")
        for key in keep & set(node.attr):
            conv.attr[key].CopyFrom(node.attr[key])
        if not node.attr["explicit_paddings"].list.i:
            conv.attr.pop("explicit_paddings", None)  # only meaningful with padding EXPLICIT
        bias = out.node.add()
        bias.name = node.name if len(fused) == 1 else f"{node.name}/split_bias"
        bias.op = "BiasAdd"
        bias.input.extend([conv.name, node.input[2]])
        bias.attr["T"].CopyFrom(node.attr["T"])
        bias.attr["data_format"].CopyFrom(node.attr["data_format"])
        if len(fused) == 2:
            act = out.node.add()
            act.name, act.op = node.name, _ACTIVATIONS[fused[1]]
            act.input.append(bias.name)
            act.attr["T"].CopyFrom(node.attr["T"])
    return out


def rescale_input(nodes: dict, input_name: str, spatial_dims: tuple[int, int], input_size: int,
                  trained_size: int) -> None:
    """In place, on a graph's `nodes` (name -> NodeDef): a square input of `input_size` instead of
    the `trained_size` it was exported at: the placeholder's spatial dims (`spatial_dims`: 1, 2 for
    NHWC, 2, 3 for NCHW) and every ResizeBilinear's hard-coded output size scaled with it (tfjs
    exports the upsampling sizes as constants). ValueError when a size does not scale to a whole
    number of pixels."""
    import tensorflow as tf

    placeholder = nodes[input_name.split(":")[0]].attr["shape"].shape
    for dim in spatial_dims:
        placeholder.dim[dim].size = input_size
    for node in nodes.values():
        if node.op != "ResizeBilinear":
            continue
        const = nodes[node.input[1].split(":")[0]]
        size = tf.make_ndarray(const.attr["value"].tensor)
        new = size * input_size // trained_size
        if np.any(new * trained_size != size * input_size):
            raise ValueError(f"{node.name}: size {size.tolist()} does not scale to {input_size}")
        const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(new.astype(size.dtype)))
