"""Frame in, caption out: the bundle's two graphs (the model wrapper) and the search around them.

`BundleModel` is the only code that touches TFLite tensors: `encode(image)` returns the decoder's
initial state, `step(token, state)` runs one decoder step. `Captioner` adds preprocessing and the
search (edge_captioner.search, which knows nothing of TFLite).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from .bundle import Bundle, load_bundle
from .errors import BadInput
from .interpreters import Graph, edgetpu_delegate, pick_runtime
from .preprocess import prepare_image
from .search import Caption, beam_search, greedy

log = logging.getLogger(__name__)


@dataclass
class DecoderState:
    h: np.ndarray
    c: np.ndarray
    image_gates: np.ndarray


class BundleModel:
    def __init__(self, bundle: Bundle, runtime: str = "auto", threads: int | None = 1,
                 delegate: str = "none", fallback_cpu: bool = False):
        self.bundle = bundle
        self.runtime = pick_runtime(runtime)
        encoder_delegates = None
        self.delegate = "none"
        if delegate == "edgetpu":
            tpu = edgetpu_delegate(self.runtime, fallback_cpu)
            if tpu is not None:
                encoder_delegates, self.delegate = [tpu], "edgetpu"
        elif delegate != "none":
            raise BadInput(f"model.delegate: unknown delegate {delegate!r} (none, edgetpu)")
        tensors = bundle.manifest["tensors"]
        # The Edge TPU takes the encoder only: the decoder step is microseconds on the CPU and a
        # USB round trip per token would cost more than it saves.
        self.encoder = Graph(self.runtime, bundle.file("encoder.tflite"),
                             tensors.get("encoder", {}), threads, encoder_delegates)
        self.decoder = Graph(self.runtime, bundle.file("decoder.tflite"),
                             tensors.get("decoder", {}), threads)
        log.info("bundle %s: runtime %s, encoder on %s, decoder on cpu, %s thread(s)",
                 bundle.name, self.runtime.name, self.delegate, threads)
        vocab_size = len(bundle.vocab)
        # One-hot rows for every token, quantized once: a step then only picks a row.
        self._token_rows = self.decoder.quantize("token", np.eye(vocab_size, dtype=np.float32))

    def encode(self, image: np.ndarray) -> DecoderState:
        """image: (H, W, 3) uint8 in the bundle's colour order and size."""
        self.encoder.set("image", self.encoder.quantize("image", image[np.newaxis]))
        self.encoder.invoke()
        out = {n: self.encoder.dequantize(n, self.encoder.get(n)) for n in ("h0", "c0",
                                                                           "image_gates")}
        return DecoderState(
            h=self.decoder.quantize("h", out["h0"]),
            c=self.decoder.quantize("c", out["c0"]),
            image_gates=self.decoder.quantize("image_gates", out["image_gates"]),
        )

    def step(self, token: int, state: DecoderState) -> tuple[np.ndarray, DecoderState]:
        d = self.decoder
        d.set("token", self._token_rows[token: token + 1])
        d.set("h", state.h)
        d.set("c", state.c)
        d.set("image_gates", state.image_gates)
        d.invoke()
        logits = d.dequantize("logits", d.get("logits"))[0]
        # Outputs are copies (get_tensor), so they are safe to keep as the next state.
        new = DecoderState(h=d.get("h_out"), c=d.get("c_out"), image_gates=state.image_gates)
        return _log_softmax32(logits), new


def _log_softmax32(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


@dataclass
class CaptionResult:
    text: str
    confidence: float
    tokens: list[int]
    latency_ms: float
    encoder_ms: float


class Captioner:
    def __init__(self, bundle: str | Bundle | None = None, runtime: str = "auto",
                 threads: int | None = 1, delegate: str = "none", fallback_cpu: bool = False,
                 beam_size: int = 1, max_length: int | None = None, length_alpha: float = 0.0):
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        self.model = BundleModel(self.bundle, runtime, threads, delegate, fallback_cpu)
        self.beam_size = beam_size
        self.max_length = min(max_length or self.bundle.max_length, self.bundle.max_length)
        self.length_alpha = length_alpha
        image = self.bundle.manifest["image"]
        self.size = int(image["size"][0])
        self.resize = image["resize"]
        self.colour_order = image["colour_order"]

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """An OpenCV frame (BGR, gray or BGRA, any size) -> the encoder's input image."""
        rgb = prepare_image(frame, self.size, self.resize)
        return rgb if self.colour_order == "RGB" else np.ascontiguousarray(rgb[..., ::-1])

    def search(self, image: np.ndarray, beam_size: int | None = None) -> tuple[Caption, float]:
        started = time.perf_counter()
        state = self.model.encode(image)
        encoder_ms = (time.perf_counter() - started) * 1000
        vocab = self.bundle.vocab
        beam = beam_size or self.beam_size
        if beam == 1:
            best = greedy(self.model.step, state, vocab.start_id, vocab.end_id, self.max_length)
        else:
            best = beam_search(self.model.step, state, vocab.start_id, vocab.end_id,
                               self.max_length, beam, self.length_alpha)[0]
        return best, encoder_ms

    def caption(self, frame: np.ndarray, beam_size: int | None = None,
                prepared: bool = False) -> CaptionResult:
        started = time.perf_counter()
        image = frame if prepared else self.prepare(frame)
        best, encoder_ms = self.search(image, beam_size)
        return CaptionResult(
            text=self.bundle.vocab.decode(best.tokens),
            confidence=best.confidence,
            tokens=best.tokens,
            latency_ms=(time.perf_counter() - started) * 1000,
            encoder_ms=encoder_ms,
        )
