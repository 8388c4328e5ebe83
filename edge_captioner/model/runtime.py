"""TFLite interpreters: which runtime, which delegate, and tensors checked against the manifest.

Runtime order for `auto`: ai_edge_litert (the maintained LiteRT), tflite_runtime (the old wheel,
numpy<2), then tensorflow.lite (a workstation). `tensorflow` is imported only when asked for or
when nothing else exists, so the device never pays for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bundle.choices import RUNTIMES
from ..bundle.tensors import GraphTensors
from ..errors import BadInput

log = logging.getLogger(__name__)

_MODULES = {
    "ai_edge_litert": "ai_edge_litert.interpreter",
    "tflite_runtime": "tflite_runtime.interpreter",
    "tensorflow": "tensorflow.lite.python.interpreter",
}
EDGETPU_LIBRARY = "libedgetpu.so.1"
TRIAL_TIMEOUT_S = 120.0  # loading and running a graph once takes well under a second on a Pi


@dataclass
class Runtime:
    name: str
    module: object

    @property
    def Interpreter(self):  # noqa: N802 - mirrors the runtime's own class name
        return self.module.Interpreter

    def load_delegate(self, library: str, options: dict | None = None):
        return self.module.load_delegate(library, options or {})


# TensorFlow's start-up lines (oneDNN, CPU features, absl's "before InitializeLog" warning) go to
# stderr from C++ at import and at the first interpreter. TF_CPP_MIN_LOG_LEVEL=2 hides its INFO and
# WARNING lines but not the oneDNN notice, which TF 2.21 logs regardless; oneDNN speeds up
# TensorFlow's own graph ops, which the TFLite interpreter does not run (it has its own kernels
# and XNNPACK), so turning it off changes no caption. Both only where the environment says
# nothing, and not at -vv (DEBUG), where such lines are wanted.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def _import_tensorflow_quietly(module: str):
    if not log.isEnabledFor(logging.DEBUG):
        for key, value in QUIET_TENSORFLOW.items():
            os.environ.setdefault(key, value)
    imported = importlib.import_module(module)
    if not log.isEnabledFor(logging.DEBUG):
        with contextlib.suppress(ImportError):  # TensorFlow's Python side logs through absl
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)
    return imported


def pick_runtime(preference: str = "auto") -> Runtime:
    names = RUNTIMES if preference == "auto" else (preference,)
    if preference != "auto" and preference not in RUNTIMES:
        raise BadInput(f"model.runtime: unknown runtime {preference!r} "
                       f"(auto, {', '.join(RUNTIMES)})")
    errors = []
    for name in names:
        try:
            if name == "tensorflow":
                return Runtime(name, _import_tensorflow_quietly(_MODULES[name]))
            return Runtime(name, importlib.import_module(_MODULES[name]))
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
    raise BadInput("model.runtime: no TFLite runtime could be imported (" + "; ".join(errors)
                   + "); install ai-edge-litert")


class Graph:
    """One .tflite graph with its signature's tensors addressed by NAME, checked against the
    manifest, and inputs (de)quantized with the interpreter's own parameters."""

    def __init__(self, runtime: Runtime, path: Path, spec: GraphTensors,
                 threads: int | None = None,
                 delegates: list | None = None):
        # A corrupt model (one whose SHA-256 was updated with it, so the hash check passed) can
        # crash the runtime itself: it is tried in a child process first. Without a delegate
        # only: a delegate's custom ops (an Edge TPU's) are unknown to a plain interpreter.
        if not delegates:
            failure = _trial_in_child(runtime, path)
            if failure is not None:
                raise BadInput(_trial_failure(runtime, path, failure))
        # What the child survived fails here, if at all, with ValueError (not a flatbuffer: the
        # runtime's verifier) or RuntimeError (a kernel refused it at allocate_tensors).
        try:
            with _native_info_muted():
                self.interpreter = runtime.Interpreter(
                    model_path=str(path), num_threads=threads, experimental_delegates=delegates)
                self.interpreter.allocate_tensors()
            signatures = self.interpreter._get_full_signature_list()
            details = {d["index"]: d for d in self.interpreter.get_tensor_details()}
        except (ValueError, RuntimeError) as exc:
            raise BadInput(f"{path}: not a valid TFLite model: {_first_line(exc)}") from None
        if "serving_default" not in signatures:
            raise BadInput(f"{path}: no 'serving_default' signature")
        signature = signatures["serving_default"]
        try:
            self.inputs = {n: details[i] for n, i in signature["inputs"].items()}
            self.outputs = {n: details[i] for n, i in signature["outputs"].items()}
        except KeyError as exc:  # a corrupt signature pointing past the graph's tensors
            raise BadInput(f"{path}: not a valid TFLite model: the 'serving_default' signature "
                           f"names tensor {exc}, which the graph does not have") from None
        self._check(path, spec)
        self.input_index = {n: d["index"] for n, d in self.inputs.items()}
        self.output_index = {n: d["index"] for n, d in self.outputs.items()}
        # float outputs need no dequantizing; np.issubdtype costs ~1 us, so decided once here
        # rather than at every decoder step
        self._float_outputs = {n for n, d in self.outputs.items()
                               if np.issubdtype(d["dtype"], np.floating)}
        # The runtimes' invoke() first makes sure (sys.getrefcount) that no numpy view into the
        # tensors is alive; we never take one (set_tensor and get_tensor copy), so the wrapper's
        # own Invoke is called (all three runtimes wrap the same pybind class): ~1.5 us less on a
        # 5 us decoder step.
        raw = getattr(getattr(self.interpreter, "_interpreter", None), "Invoke", None)
        self._invoke = raw or self.interpreter.invoke

    def _check(self, path: Path, spec: GraphTensors) -> None:
        for kind, actual in (("inputs", self.inputs), ("outputs", self.outputs)):
            expected = getattr(spec, kind)
            if set(expected) != set(actual):
                raise BadInput(f"{path}: {kind} {sorted(actual)} do not match the manifest's "
                               f"{sorted(expected)}")
            for name, want in expected.items():
                got = actual[name]
                shape = [int(x) for x in got["shape"]]
                dtype = np.dtype(got["dtype"]).name
                if shape != list(want.shape) or dtype != want.dtype:
                    raise BadInput(f"{path}: tensor {name!r} is {dtype}{shape}, the manifest "
                                   f"says {want.dtype}{list(want.shape)}")

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
        if name in self._float_outputs:
            return value
        scale, zero_point = self.outputs[name]["quantization"]
        return (value.astype(np.float32) - zero_point) * scale

    def set(self, name: str, value: np.ndarray) -> None:
        self.interpreter.set_tensor(self.input_index[name], value)

    def get(self, name: str) -> np.ndarray:
        return self.interpreter.get_tensor(self.output_index[name])

    def invoke(self) -> None:
        self._invoke()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# made by conversion/export/known_good.py
KNOWN_GOOD_GRAPH = Path(__file__).resolve().parent.parent / "data" / "known_good.tflite"
_runtime_failure: dict[str, str | None] = {}  # runtime name -> why its own test graph fails


def _trial_failure(runtime: Runtime, path: Path, failure: str) -> str:
    """The one line for a graph that failed its trial: the bundle's fault, unless the runtime
    cannot run its own tiny test graph either (a broken runtime build, or a CPU it miscompiles
    for): then that is what the line says."""
    if runtime.name not in _runtime_failure:
        _runtime_failure[runtime.name] = _trial_in_child(runtime, KNOWN_GOOD_GRAPH)
    broken = _runtime_failure[runtime.name]
    if broken is not None:
        return (f"{path}: cannot be run here: the TFLite runtime {runtime.name} fails on its own "
                f"test graph too ({broken}): the runtime or this CPU is broken, not the bundle; "
                "try model.runtime tflite_runtime or another version of the runtime")
    return f"{path}: not a valid TFLite model: {failure}"


def _trial_in_child(runtime: Runtime, path: Path) -> str | None:
    """Load the graph and run it once in a forked child: None if that works, else why not (the
    child's error, or what killed it).

    The runtimes verify a model's flatbuffer, and their kernels check each op at allocate_tensors,
    but not everything: tests/device/test_fuzz_bundle.py found graphs one flipped byte away from a real
    one that SEGFAULT or abort the process: a SPLIT op whose num_splits does not match its
    outputs (in the XNNPACK delegate, at allocate_tensors), an operator table shared by two
    operators (a double free in XNNPACK), tensors flagged variable (in the core, at the first
    invoke). A crash in the child is a refused bundle; in the daemon it would end every camera.
    fork, not a fresh interpreter process: the runtime is already imported, so a trial costs
    milliseconds, not a second of imports per graph. The child builds its own interpreters, sends
    back at most one line, and leaves with os._exit, running none of the parent's cleanup.
    """
    if not hasattr(os, "fork"):
        return None
    try:
        read_end, write_end = os.pipe()
    except OSError as exc:
        log.warning("%s: cannot try the model in a child process (%s); loading it directly",
                    path, exc)
        return None
    try:
        pid = os.fork()
    except OSError as exc:  # out of processes, or a seccomp filter that refuses fork
        os.close(read_end)
        os.close(write_end)
        log.warning("%s: cannot try the model in a child process (%s); loading it directly",
                    path, exc)
        return None
    if pid == 0:  # the child: never returns
        status = 0
        try:
            os.close(read_end)
            quiet = os.open(os.devnull, os.O_WRONLY)  # the runtime's INFO lines: the parent's job
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            _load_and_run_once(runtime, path)
        except BaseException as exc:  # noqa: BLE001 - whatever it is, it is the answer
            status = 1
            os.write(write_end, _first_line(exc).encode("utf-8", "replace")[:1000])
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        status = _wait_for_child(pid, TRIAL_TIMEOUT_S)
        with os.fdopen(read_end, "rb", closefd=False) as pipe:
            message = pipe.read().decode("utf-8", "replace")
    finally:
        os.close(read_end)
    if status is None:
        return f"loading and running it once did not finish in {TRIAL_TIMEOUT_S:.0f} s"
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            killed_by = signal.Signals(-code).name
        except ValueError:
            killed_by = f"signal {-code}"
        return f"it crashes the TFLite runtime ({killed_by})"
    if code != 0:
        return message or "the trial run failed"
    return None


def _load_and_run_once(runtime: Runtime, path: Path) -> None:
    """In the trial child: what the parent will do, then one invoke on zeros.

    The builtin kernels prepare the graph first, alone: where XNNPACK would crash on a bad op, they
    refuse it with a message that names the op (a better line than "SIGSEGV")."""
    resolver = getattr(runtime.module, "OpResolverType", None)  # absent from old tflite_runtime
    if resolver is not None:
        runtime.Interpreter(model_path=str(path), num_threads=1,
                            experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
                            ).allocate_tensors()
    interpreter = runtime.Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    # A corrupt graph can run and still leave an output without data ("Tensor data is null"):
    # read every output too, so that it is refused here and not at the first frame.
    for detail in interpreter.get_output_details():
        interpreter.get_tensor(detail["index"])


def _wait_for_child(pid: int, timeout_s: float) -> int | None:
    """The child's wait status, or None once it ran past timeout_s (it is then killed)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


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


@contextlib.contextmanager
def _native_info_muted():
    """The runtime's C++ logs to stderr itself ("INFO: Created TensorFlow Lite XNNPACK delegate
    for CPU."); unless our own INFO logging is on (-v), its stderr is /dev/null while a graph
    loads. Its failures still reach us as exceptions, with their text. Graphs load before any
    thread of ours starts, so no line of ours is lost."""
    if logging.getLogger().isEnabledFor(logging.INFO):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    quiet = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(quiet, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(quiet)


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
