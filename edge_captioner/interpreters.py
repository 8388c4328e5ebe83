"""TFLite interpreters: which runtime, which delegate, and tensors checked against the manifest.

Runtime order for `auto`: ai_edge_litert (the maintained LiteRT), tflite_runtime (the old wheel,
numpy<2), then tensorflow.lite (a workstation). `tensorflow` is imported only when asked for or
when nothing else exists, so the device never pays for it.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BadInput

log = logging.getLogger(__name__)

RUNTIMES = ("ai_edge_litert", "tflite_runtime", "tensorflow")
_MODULES = {
    "ai_edge_litert": "ai_edge_litert.interpreter",
    "tflite_runtime": "tflite_runtime.interpreter",
    "tensorflow": "tensorflow.lite.python.interpreter",
}
EDGETPU_LIBRARY = "libedgetpu.so.1"


@dataclass
class Runtime:
    name: str
    module: object

    @property
    def Interpreter(self):  # noqa: N802 - mirrors the runtime's own class name
        return self.module.Interpreter

    def load_delegate(self, library: str, options: dict | None = None):
        return self.module.load_delegate(library, options or {})


def pick_runtime(preference: str = "auto") -> Runtime:
    names = RUNTIMES if preference == "auto" else (preference,)
    if preference != "auto" and preference not in RUNTIMES:
        raise BadInput(f"model.runtime: unknown runtime {preference!r} "
                       f"(auto, {', '.join(RUNTIMES)})")
    errors = []
    for name in names:
        try:
            return Runtime(name, importlib.import_module(_MODULES[name]))
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
    raise BadInput("model.runtime: no TFLite runtime could be imported (" + "; ".join(errors)
                   + "); install ai-edge-litert")


class Graph:
    """One .tflite graph with its signature's tensors addressed by NAME, checked against the
    manifest, and inputs (de)quantized with the interpreter's own parameters."""

    def __init__(self, runtime: Runtime, path: Path, spec: dict, threads: int | None = None,
                 delegates: list | None = None):
        try:
            self.interpreter = runtime.Interpreter(
                model_path=str(path), num_threads=threads, experimental_delegates=delegates)
            self.interpreter.allocate_tensors()
        except ValueError as exc:
            raise BadInput(f"{path}: not a valid TFLite model: {str(exc).splitlines()[0]}") from None
        signatures = self.interpreter._get_full_signature_list()
        if "serving_default" not in signatures:
            raise BadInput(f"{path}: no 'serving_default' signature")
        signature = signatures["serving_default"]
        details = {d["index"]: d for d in self.interpreter.get_tensor_details()}
        self.inputs = {n: details[i] for n, i in signature["inputs"].items()}
        self.outputs = {n: details[i] for n, i in signature["outputs"].items()}
        self._check(path, spec)
        self.input_index = {n: d["index"] for n, d in self.inputs.items()}
        self.output_index = {n: d["index"] for n, d in self.outputs.items()}

    def _check(self, path: Path, spec: dict) -> None:
        for kind, actual in (("inputs", self.inputs), ("outputs", self.outputs)):
            expected = spec.get(kind, {})
            if set(expected) != set(actual):
                raise BadInput(f"{path}: {kind} {sorted(actual)} do not match the manifest's "
                               f"{sorted(expected)}")
            for name, want in expected.items():
                got = actual[name]
                shape = [int(x) for x in got["shape"]]
                dtype = np.dtype(got["dtype"]).name
                if shape != want.get("shape") or dtype != want.get("dtype"):
                    raise BadInput(f"{path}: tensor '{name}' is {dtype}{shape}, the manifest "
                                   f"says {want.get('dtype')}{want.get('shape')}")

    def quantize(self, name: str, value: np.ndarray) -> np.ndarray:
        """Bring a float (or raw uint8 image) value to the input tensor's dtype."""
        detail = self.inputs[name]
        dtype = detail["dtype"]
        if np.issubdtype(dtype, np.floating):
            return np.asarray(value, dtype)
        scale, zero_point = detail["quantization"]
        if value.dtype == dtype and scale == 1.0 and zero_point == 0:
            return value  # uint8 pixels straight in
        info = np.iinfo(dtype)
        q = np.round(np.asarray(value, np.float32) / scale) + zero_point
        return np.clip(q, info.min, info.max).astype(dtype)

    def dequantize(self, name: str, value: np.ndarray) -> np.ndarray:
        detail = self.outputs[name]
        if np.issubdtype(detail["dtype"], np.floating):
            return value
        scale, zero_point = detail["quantization"]
        return (value.astype(np.float32) - zero_point) * scale

    def set(self, name: str, value: np.ndarray) -> None:
        self.interpreter.set_tensor(self.input_index[name], value)

    def get(self, name: str) -> np.ndarray:
        return self.interpreter.get_tensor(self.output_index[name])

    def invoke(self) -> None:
        self.interpreter.invoke()


def edgetpu_delegate(runtime: Runtime, fallback_cpu: bool):
    """The Edge TPU delegate for the encoder, or None (CPU) when allowed to fall back."""
    try:
        # Look for the library first: when it is missing, the runtimes' load_delegate leaves a
        # half-built Delegate whose __del__ prints a traceback to stderr.
        ctypes.CDLL(EDGETPU_LIBRARY)
        return _quietly(runtime.load_delegate, EDGETPU_LIBRARY)
    except (ValueError, OSError, AttributeError) as exc:
        message = (f"model.delegate: edgetpu: cannot load {EDGETPU_LIBRARY} or open the device "
                   f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
        if fallback_cpu:
            log.warning("%s; falling back to the CPU", message)
            return None
        raise BadInput(message + "; install libedgetpu and plug the Coral in, or set "
                       "model.fallback: cpu") from None


def _quietly(func, *args):
    """Call func; a failure's half-built objects are collected with their __del__ noise muted."""
    try:
        return func(*args)
    except Exception:
        hook, sys.unraisablehook = sys.unraisablehook, lambda _: None
        try:
            gc.collect()
        finally:
            sys.unraisablehook = hook
        raise
