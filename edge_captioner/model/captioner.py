"""Frame in, caption out: the bundle's two graphs (the model wrapper) and the search around them.

`BundleModel` is the only code that touches TFLite tensors: `encode(image)` returns the decoder's
initial state, `step(token, state)` runs one decoder step. It runs every decoder type the same way,
from the manifest's wiring (wiring.py): the state is a dict of the decoder's inputs by name, filled
from the encoder's outputs; after each step the inputs named in the wiring's "state" take the
step's outputs, the others (image gates, attention keys and values) stay as they are. `Captioner`
adds preprocessing and the search (edge_captioner.model.search, which knows nothing of TFLite).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..bundle.choices import DECODER_FILE, ENCODER_FILE, MANIFEST_FILE
from ..bundle.loader import Bundle, load_bundle
from ..bundle.sections import FactsSpec
from ..bundle.wiring import check_against_graphs
from ..errors import BadInput
from ..scene.facts import Facts, place_key
from ..scene.from_findings import facts_of, kept, least_sure
from ..scene.phrase import sentences
from ..scene.support import faithful
from .evidence import evidence, facts_vector
from .perception import Findings, Perception
from .preprocess import model_input
from .runtime import Graph, edgetpu_delegate, pick_runtime
from .search import Caption, beam_search, constrained, greedy, trie_of
from .self_check import verify

log = logging.getLogger(__name__)

DecoderState = dict[str, np.ndarray]  # decoder input name -> value, in the input's dtype
# A camera's steady state (service/tracks.py): the frame's objects over their thresholds, and its
# objects of the same kinds under them (which may only keep a confirmed track alive) -> the objects
# the caption states (the confirmed tracks', and the furniture) and the place to say
Steady = Callable[[list, list], tuple[list, "str | None"]]


def _shapes(tensors: dict) -> dict[str, list[int]]:
    return {name: [int(x) for x in detail["shape"]] for name, detail in tensors.items()}


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
        tensors = bundle.manifest.tensors
        self.input_name = bundle.manifest.encoder_input
        # The Edge TPU takes the encoder only: the decoder step is microseconds on the CPU and a
        # USB round trip per token would cost more than it saves.
        self.encoder = Graph(self.runtime, bundle.file(ENCODER_FILE), tensors.encoder, threads,
                             encoder_delegates)
        self.decoder = Graph(self.runtime, bundle.file(DECODER_FILE), tensors.decoder, threads)
        self.wiring = w = bundle.wiring
        check_against_graphs(w, _shapes(self.encoder.outputs), _shapes(self.decoder.inputs),
                             _shapes(self.decoder.outputs), bundle.file(MANIFEST_FILE))
        # delegate "none" means the encoder runs on the CPU (TFLite's own kernels or XNNPACK)
        log.info("bundle %s (%s decoder): runtime %s, encoder on %s, decoder on CPU, %s thread(s)",
                 bundle.name, w.type, self.runtime.name,
                 "the Edge TPU" if self.delegate == "edgetpu" else "CPU", threads)
        vocab_size = len(bundle.vocab)
        # One-hot rows for every token, quantized once: a step then only picks a row.
        self._token_rows = self.decoder.quantize(w.token, np.eye(vocab_size, dtype=np.float32))
        # (input, output, raw): an output goes back in as it is when the input tensor has the
        # same dtype and quantization (the converter keeps state I/O float, so always for ours);
        # otherwise it is requantized in numpy.
        self._feedback = [
            (name, out, _same_encoding(self.decoder.inputs[name], self.decoder.outputs[out]))
            for name, out in w.state.items()
        ]
        # A decoder step is ~5 us of invoke: the Python around it must stay as small. Input
        # tensors keep their values between invokes, so an input whose value is the same array
        # object as last time (the image gates, attention keys and values: constant over a
        # caption and shared by every beam) is not set again.
        self._fed: dict[str, np.ndarray] = {}

    def encode(self, image: np.ndarray) -> DecoderState:
        """image: (H, W, 3) uint8 in the bundle's colour order and size; for a grounded bundle
        the findings vector (evidence.py) instead."""
        e, name = self.encoder, self.input_name
        e.set(name, e.quantize(name, image[np.newaxis]))
        e.invoke()
        return {name: self.decoder.quantize(name, e.dequantize(source, e.get(source)))
                for name, source in self.wiring.initial.items()}

    def step(self, token: int, state: DecoderState) -> tuple[np.ndarray, DecoderState]:
        """One decoder step: (log-probabilities over the vocabulary, the next state). Neither
        argument is modified; the returned arrays are the caller's to keep (get_tensor copies)."""
        d, w, fed = self.decoder, self.wiring, self._fed
        d.set(w.token, self._token_rows[token: token + 1])
        for name, value in state.items():
            if fed.get(name) is not value:
                d.set(name, value)
                fed[name] = value
        d.invoke()
        scores = d.dequantize(w.logits, d.get(w.logits))[0]
        new = dict(state)
        for name, out, raw in self._feedback:
            value = d.get(out)
            new[name] = value if raw else d.quantize(name, d.dequantize(out, value))
        return (scores if w.normalised else _log_softmax32(scores)), new

    def forget_inputs(self) -> None:
        """Make the next step set every input (after anything else set the decoder's tensors)."""
        self._fed.clear()

    @property
    def has_attention(self) -> bool:
        return self.wiring.attention is not None

    def attention(self, state: DecoderState, tokens: list[int]) -> list[np.ndarray]:
        """The attention weights (rows x cols) behind each of `tokens`, from the initial state.

        The search does not collect them: it stays ignorant of what a state holds, and keeping
        per-step weights on every beam would cost every caption for the rare one explained.
        Replaying the chosen tokens is one decoder step per word (a caption is ~10 steps), and
        the step is deterministic, so these are the weights the search saw."""
        if self.wiring.attention is None:
            raise ValueError(f"{self.bundle.name}: a {self.wiring.type} bundle has no attention")
        d, name = self.decoder, self.wiring.attention
        grid = self.wiring.attention_grid
        weights, token = [], self.bundle.vocab.start_id
        for next_token in tokens:
            _, state = self.step(token, state)
            weights.append(d.dequantize(name, d.get(name)).reshape(grid).astype(np.float32))
            token = next_token
        return weights


def _same_encoding(a: dict, b: dict) -> bool:
    return (np.dtype(a["dtype"]) == np.dtype(b["dtype"])
            and tuple(a.get("quantization") or (0.0, 0)) == tuple(b.get("quantization") or (0.0, 0)))


def _log_softmax32(logits: np.ndarray) -> np.ndarray:
    """For bundles whose decoder outputs raw logits (16x8 decoders: TFLite has no 16x8
    LOG_SOFTMAX; bundles converted before it was added)."""
    top = logits.max()
    return logits - (top + math.log(np.exp(logits - top).sum()))


@dataclass
class CaptionResult:
    text: str
    confidence: float
    tokens: list[int]
    latency_ms: float
    encoder_ms: float
    # what the bundle's real-world detector and classifier found (bundles with a perception
    # section); their time is part of latency_ms
    findings: Findings | None = None
    # the search stopped at the length limit, not at <end>: the caption may end mid-phrase
    truncated: bool = False
    # a facts bundle's: what the caption may state, and whether the decoder's sentence did not
    # state exactly that and the canonical sentence was published instead
    facts: Facts | None = None
    fallback: bool = False


class Captioner:
    def __init__(self, bundle: str | Bundle | None = None, runtime: str = "auto",
                 threads: int | None = 1, delegate: str = "none", fallback_cpu: bool = False,
                 beam_size: int = 1, max_length: int | None = None, length_alpha: float = 0.0):
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        self.model = BundleModel(self.bundle, runtime, threads, delegate, fallback_cpu)
        spec = self.bundle.perception
        self.perception = (Perception(spec, self.bundle.path, self.model.runtime, threads)
                           if spec is not None else None)
        self.evidence_spec = self.bundle.evidence
        self.beam_size = beam_size
        self.max_length = min(max_length or self.bundle.max_length, self.bundle.max_length)
        self.length_alpha = length_alpha
        # a facts bundle's search writes only sentences stating exactly the frame's facts; off,
        # the decoder writes freely and an unsupported sentence is replaced by the canonical one
        # (how often: `evaluate-facts`)
        self.constrain = True
        image = self.bundle.manifest.image
        self.size = image.size[0]
        self.resize = image.resize
        self.colour_order = image.colour_order
        check = self.bundle.manifest.self_check
        if check is not None:
            verify(self, check)  # this runtime on this CPU computes what the bundle did

    @classmethod
    def from_config(cls, model) -> Captioner:
        """The captioner a configuration's `model` section (config.ModelConfig) describes."""
        return cls(model.bundle, runtime=model.runtime, threads=model.threads,
                   delegate=model.delegate, fallback_cpu=model.fallback == "cpu",
                   beam_size=model.beam_size, max_length=model.max_length)

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """An OpenCV frame (BGR, gray or BGRA, any size) -> the encoder's input image."""
        return model_input(frame, self.size, self.resize, self.colour_order)

    def encoder_input(self, frame: np.ndarray, findings: Findings | None = None,
                      place: str | None = None) -> np.ndarray:
        """What the encoder graph reads for a frame: the prepared image, or for a grounded
        bundle the findings vector (the perception graphs run here unless `findings` are given)."""
        if not self.grounded:
            return self.prepare(frame)
        if findings is None:
            findings = self.perception.see(frame)
        if self.facts_bundle:
            return facts_vector(self.facts(findings, place), self.evidence_spec)
        return evidence(findings, self.evidence_spec, (place and self.known_place(place)) or place)

    @property
    def facts_bundle(self) -> bool:
        """Whether the decoder reads the frame's facts (scene/facts.py) and its captions are
        checked against them."""
        return isinstance(self.evidence_spec, FactsSpec)

    def steady_objects(self, findings: Findings, place: str | None,
                       steady: Steady) -> tuple[list, str | None]:
        """The objects and place a caption of the camera's steady state states: `steady` takes the
        frame's objects over their kind's threshold (the steady objects are such objects, so the
        facts keep them all), and the frame's other objects of the caption's kinds, which the
        tracker may only use to keep a track it has alive (never a fact of the caption)."""
        spec = self.evidence_spec
        sure = kept(findings.objects, spec.kinds, spec.thresholds, spec.default_threshold)
        stated = {id(o) for o in sure}
        under = [o for o in findings.objects if o.kind in spec.kinds and id(o) not in stated]
        return steady(sure, under)

    def facts(self, findings: Findings, place: str | None, objects: list | None = None) -> Facts:
        """What a facts bundle's caption of these findings (or of `objects`) may state."""
        spec = self.evidence_spec
        objects = findings.objects if objects is None else objects
        known = self.known_place(place) if place else None
        return facts_of(objects, place=known, kinds=spec.kinds,
                        pose_groups=spec.pose_groups, thresholds=spec.thresholds,
                        default=spec.default_threshold)

    def known_place(self, place: str) -> str | None:
        """The bundle's name for a configured place ("Front door" -> "front_door"), or None for
        a place it has no words for."""
        key = place_key(place)
        return key if self.grounded and key in self.evidence_spec.places else None

    @property
    def grounded(self) -> bool:
        """Whether the captions are read from what the real-world encoder found (evidence.py)."""
        return self.evidence_spec is not None

    def search(self, image: np.ndarray, beam_size: int | None = None,
               facts: Facts | None = None) -> tuple[Caption, float]:
        """The best caption of an encoder input (greedy, or beam search), and the encoder's ms.
        facts: the search may only write a sentence stating exactly these (the decoder still
        chooses the words and their order among those: scene/phrase.py `sentences`)."""
        started = time.perf_counter()
        state = self.model.encode(image)
        encoder_ms = (time.perf_counter() - started) * 1000
        vocab = self.bundle.vocab
        beam = beam_size or self.beam_size
        step = self.model.step
        if facts is not None:
            step, wrap = constrained(step, self._allowed(facts), vocab.start_id)
            state = wrap(state)
        if beam == 1:
            best = greedy(step, state, vocab.start_id, vocab.end_id, self.max_length)
        else:
            best = beam_search(step, state, vocab.start_id, vocab.end_id,
                               self.max_length, beam, self.length_alpha)[0]
        return best, encoder_ms

    def _allowed(self, facts: Facts) -> dict:
        """The token sequences of every sentence stating exactly these facts, as a trie; a
        sentence with a word the vocabulary lacks is left out (then the check falls back)."""
        vocab, lang = self.bundle.vocab, self.bundle.language
        sequences = [[*ids, vocab.end_id] for text in sentences(facts, lang)
                     for ids in (vocab.encode(text, add_start_end=False),)
                     if vocab.unk_id not in ids and len(ids) < self.max_length]
        return trie_of(sequences)

    def caption(self, frame: np.ndarray, place: str | None = None, *,
                beam_size: int | None = None, steady: Steady | None = None,
                regions: Sequence[tuple[float, float, float, float]] = ()) -> CaptionResult:
        """A frame's caption. place: where the camera looks (a known place, or free text), for
        grounded bundles: a known place goes into the caption through the decoder, free text is
        put before it ("shed: a person"). beam_size: the search's width, if not the configured one.
        steady: a facts bundle's caption states the camera's steady state (service/tracks.py)
        instead of this frame's objects, through the same constrained search and check.
        regions: 0..1 rectangles (the camera's zones) where the box detector looks closer
        (Perception.see)."""
        started = time.perf_counter()
        # the real-world graphs need the frame itself, at their own size
        findings = self.perception.see(frame, regions) if self.perception is not None else None
        objects = None
        if self.facts_bundle and steady is not None:
            objects, place = self.steady_objects(findings, place, steady)
        facts = self.facts(findings, place, objects) if self.facts_bundle else None
        known = place and self.known_place(place)
        image = (facts_vector(facts, self.evidence_spec) if facts is not None
                 else self.encoder_input(frame, findings, place))
        best, encoder_ms = self.search(image, beam_size,
                                       facts if facts is not None and self.constrain else None)
        text = self.bundle.vocab.decode(best.tokens)
        fallback = False
        if facts is not None:
            # Never more than was found: a sentence the reader does not take back to exactly
            # these facts is replaced by the canonical one (and counted by the caller).
            text, fallback = faithful(text, facts, self.bundle.language)
        if self.grounded and place and not known:
            text = f"{place}{'：' if self.bundle.language == 'zh' else ': '}{text}"
        confidence = best.confidence if not fallback else 1.0
        if self.grounded:
            # A grounded decoder transcribes the findings, surely: how sure the caption is, is
            # how sure the detector was of the least sure thing it names (1 for "no one").
            # (with a steady state, of the objects it states: a track's last sure detection)
            spec = self.evidence_spec
            stated = findings.objects if objects is None else objects
            confidence *= (least_sure(stated, spec.kinds, spec.thresholds,
                                      spec.default_threshold) if facts is not None
                           else min((o.score for o in findings.objects if o.kind in spec.kinds),
                                    default=1.0))
        result = self._result(best, text, confidence, started, encoder_ms, findings)
        result.facts, result.fallback = facts, fallback
        if facts is not None:
            findings.facts, findings.fallback = facts, fallback
        return result

    # -- the render model's (an image CNN, not grounded): prepared images, attention -----------------
    def caption_prepared(self, image: np.ndarray, beam_size: int | None = None) -> CaptionResult:
        """The caption of an image already at the encoder's input (`prepare`), as the toolkit's
        evaluation feeds it; not for grounded bundles, which read frames."""
        if self.grounded:
            raise ValueError("a grounded bundle captions frames, not prepared images")
        started = time.perf_counter()
        best, encoder_ms = self.search(image, beam_size)
        return self._result(best, self.bundle.vocab.decode(best.tokens), best.confidence, started,
                            encoder_ms, None)

    def attention(self, frame: np.ndarray, tokens: list[int],
                  prepared: bool = False) -> list[np.ndarray] | None:
        """Where the attention decoder looked for each of `tokens` (a caption of this frame):
        per token the (rows, cols) weights; None for a bundle without attention."""
        if not self.model.has_attention:
            return None
        image = frame if prepared else self.encoder_input(frame)
        return self.model.attention(self.model.encode(image), tokens)

    def _result(self, best: Caption, text: str, confidence: float, started: float, encoder_ms: float,
                findings: Findings | None) -> CaptionResult:
        latency_ms = (time.perf_counter() - started) * 1000
        return CaptionResult(
            text=text,
            confidence=confidence,
            tokens=best.tokens,
            latency_ms=latency_ms,
            encoder_ms=encoder_ms,
            findings=findings,
            # every step spent on a word: none was left for <end>
            truncated=len(best.tokens) >= self.max_length - 1,
        )
