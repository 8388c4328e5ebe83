"""What a .tflite graph holds: its signature tensors, its op list, and any float arithmetic.

"Integer-only" means: every op computes on integer tensors. The only float tensors allowed are the
graph's own float inputs (each consumed by a QUANTIZE) and float outputs (each produced by a
DEQUANTIZE): the boundary conversions the bundle format allows for the decoder's state I/O.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def open_interpreter(path: Path):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:  # the workstation always has TensorFlow's copy
        from tensorflow.lite.python.interpreter import Interpreter, OpResolverType
    # Without the default delegates: XNNPACK would replace ops with one opaque DELEGATE node.
    it = Interpreter(model_path=str(path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


def _describe(detail: dict) -> dict:
    quant = detail.get("quantization") or (0.0, 0)
    return {
        "shape": [int(x) for x in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "scale": float(quant[0]),
        "zero_point": int(quant[1]),
    }


def graph_report(path: str | Path) -> dict:
    it = open_interpreter(Path(path))
    signature = it._get_full_signature_list()["serving_default"]
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    inputs = {name: _describe(tensors[i]) for name, i in sorted(signature["inputs"].items())}
    outputs = {name: _describe(tensors[i]) for name, i in sorted(signature["outputs"].items())}
    graph_in = set(signature["inputs"].values())
    graph_out = set(signature["outputs"].values())

    def is_float(index: int) -> bool:
        return index >= 0 and np.issubdtype(tensors[index]["dtype"], np.floating)

    ops, float_ops = [], []
    for op in it._get_ops_details():
        name = op["op_name"]
        ops.append(name)
        float_in = [i for i in op["inputs"] if is_float(i)]
        float_out = [i for i in op["outputs"] if is_float(i)]
        if name == "QUANTIZE" and set(float_in) <= graph_in and not float_out:
            continue
        if name == "DEQUANTIZE" and set(float_out) <= graph_out and not float_in:
            continue
        if float_in or float_out:
            float_ops.append(name)
    return {
        "inputs": inputs,
        "outputs": outputs,
        "ops": sorted(set(ops)),
        "op_count": len(ops),
        "float_ops": sorted(set(float_ops)),
    }
