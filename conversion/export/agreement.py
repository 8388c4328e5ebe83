"""int8 against float32 for a bundle `convert` just wrote: what quantization changed, measured
through the runtime that will run the bundle (edge_captioner's manifest reader and interpreter;
TensorFlow only computes the float reference).

Two figures, on the calibration data: the encoder's outputs (the decoder's initial state and
image gates) as a relative error, and the decoder step's next token (argmax of its scores) fed
the same float inputs as the float decoder. A conversion beyond either tolerance is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_captioner.bundle.choices import DECODER_FILE, ENCODER_FILE, MANIFEST_FILE
from edge_captioner.bundle.loader import read_manifest
from edge_captioner.errors import BadInput
from edge_captioner.model.runtime import Graph, pick_runtime

# ||int8 - float|| / ||float|| of the worst encoder output. One int8 step is ~0.4 % of a tensor's
# calibrated range and a few layers compound it to about a per cent; what quantization breaks (a
# range calibrated on the wrong data clips or zeroes an output) shows as tens of per cent. 0.1
# sits between the two, with room for a deeper encoder than the tests' tiny one.
ENCODER_MAX_RELATIVE_ERROR = 0.1
# The share of decoder steps whose next token is the float decoder's. The argmax flips only where
# the best two tokens are nearly tied: a few per cent of a trained decoder's steps with int8
# activations, fewer with 16x8. A state clipped or a scale off agrees on far fewer.
DECODER_MIN_TOP1_AGREEMENT = 0.9
MAX_ENCODER_INPUTS = 64  # the check runs on a sample of the calibration data: seconds, not minutes
MAX_DECODER_STEPS = 500
METRICS_KEY = "int8_vs_float32"  # where the manifest's metrics keep the figures
PERCEPTION_METRICS_KEY = "perception_int8_vs_float32"  # the encoder's (pretrained/build.py)


@dataclass(frozen=True)
class Agreement:
    encoder_relative_error: float  # the worst encoder output's
    decoder_top1_agreement: float
    encoder_inputs: int
    decoder_steps: int

    def to_json(self) -> dict:
        return {"encoder_relative_error": round(self.encoder_relative_error, 4),
                "encoder_inputs": self.encoder_inputs,
                "decoder_top1_agreement": round(self.decoder_top1_agreement, 4),
                "decoder_steps": self.decoder_steps}

    def problems(self) -> list[str]:
        """What is beyond the tolerances, in words; empty when the conversion is good."""
        found = []
        if not self.encoder_relative_error <= ENCODER_MAX_RELATIVE_ERROR:
            found.append(f"encoder relative error {self.encoder_relative_error:.3f} > "
                         f"{ENCODER_MAX_RELATIVE_ERROR}")
        if not self.decoder_top1_agreement >= DECODER_MIN_TOP1_AGREEMENT:
            found.append(f"decoder next-token agreement {self.decoder_top1_agreement:.3f} < "
                         f"{DECODER_MIN_TOP1_AGREEMENT}")
        return found


def relative_error(quantized: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    """The worst ||q - f|| / ||f|| over the tensors of `reference` (an all-zero reference counts
    its q's size)."""
    worst = 0.0
    for name, f in reference.items():
        f = np.asarray(f, np.float64)
        diff = float(np.linalg.norm(np.asarray(quantized[name], np.float64) - f))
        worst = max(worst, diff / max(float(np.linalg.norm(f)), 1e-12) if diff else 0.0)
    return worst


def top1_agreement(scores: np.ndarray, reference: np.ndarray) -> float:
    """The share of rows whose argmax is the reference's."""
    if len(reference) == 0:
        return 1.0
    return float(np.mean(np.argmax(scores, axis=-1) == np.argmax(reference, axis=-1)))


def _run(graph: Graph, inputs: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
    """Each row of `inputs` through the batch-1 graph; its `outputs`, dequantized, stacked."""
    rows = len(next(iter(inputs.values())))
    got: dict[str, list[np.ndarray]] = {name: [] for name in outputs}
    for k in range(rows):
        for name, values in inputs.items():
            graph.set(name, graph.quantize(name, values[k: k + 1]))
        graph.invoke()
        for name in outputs:
            got[name].append(graph.dequantize(name, graph.get(name))[0])
    return {name: np.stack(values) for name, values in got.items()}


def measure(bundle_dir: Path, encoder_inputs: np.ndarray, float_encoder: dict[str, np.ndarray],
            decoder_inputs: dict[str, np.ndarray], float_scores: np.ndarray) -> Agreement:
    """The bundle's int8 graphs (through the runtime) against the float model's outputs on the
    same inputs: `float_encoder` by encoder output name, `float_scores` the decoder's next-token
    scores for each row of `decoder_inputs` (by decoder input name, the token one-hot)."""
    manifest = read_manifest(bundle_dir)
    runtime = pick_runtime("auto")
    encoder = Graph(runtime, bundle_dir / ENCODER_FILE, manifest.tensors.encoder)
    decoder = Graph(runtime, bundle_dir / DECODER_FILE, manifest.tensors.decoder)
    wiring = manifest.wiring
    int8_encoder = _run(encoder, {manifest.encoder_input: encoder_inputs}, list(float_encoder))
    scores = _run(decoder, decoder_inputs, [wiring.logits])[wiring.logits]
    return Agreement(encoder_relative_error=relative_error(int8_encoder, float_encoder),
                     decoder_top1_agreement=top1_agreement(scores, float_scores),
                     encoder_inputs=len(encoder_inputs), decoder_steps=len(float_scores))


def check(bundle_dir: Path, agreement: Agreement) -> None:
    """BadInput (exit 2, one line) when the int8 graphs disagree beyond the tolerances."""
    problems = agreement.problems()
    if problems:
        raise BadInput(f"{bundle_dir / MANIFEST_FILE}: the int8 graphs disagree with the float "
                       f"model beyond tolerance: {'; '.join(problems)} (on "
                       f"{agreement.encoder_inputs} calibration inputs, "
                       f"{agreement.decoder_steps} decoder steps)")
