"""`edge-captioner-convert train-grounded OUT --lang en|zh`: the grounded decoder.

A Show-and-Tell LSTM decoder whose "image" is the real-world encoder's findings
(edge_captioner/model/evidence.py), trained without any captioned real photo. Each example is a synthetic
scene (world.scenes.sample_scene), the findings the real encoder would plausibly report for it
(simulated_encoder.simulate: misses, duplicates, false positives, confusions), how the camera is
configured (a known place, free text, or none), and as the target the ONE canonical grounded
caption (captions.canonical) of what those findings say (`supported`): each home kind
the detector found, as many as it found (at most 3), and the place where it is configured or
where the classifier shows it. The decoder transcribes the encoder: it never adds what the
findings lack, never drops what they hold, and says so when they hold nothing. Whether the
findings are true is the encoder's part, measured on real photos (evaluate.py); the errors
simulated here give the decoder the inputs a real camera gives.

With `--data DATA --encoder ENCODER` it trains on a captioned data set instead (COCO captions,
Flickr8k/30k, Karpathy: conversion/datasets/): the real-world encoder (an `encoder` output directory) runs
on each image, its findings are the input, the data set's own captions the targets. That is the
workstation path for real photos (COCO's 118,000 images take hours on 2 cores, most of it in the
detector); its captions say what the data set's captions say, so they are only as grounded as the
findings make them: the simulated recipe above is what the default bundles use.

OUT is a `train` model directory (config.json, vocab.txt, model.weights.h5) plus evidence.npy
(calibration vectors), which `convert` reads like any other.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversion.world.scenes import KINDS, MAX_COUNT, PLACES, sample_scene
from edge_captioner.bundle.sections import EvidenceSpec
from edge_captioner.errors import EXIT_OK, BadInput
from edge_captioner.model.evidence import evidence
from edge_captioner.model.perception import Findings

from .captions import canonical
from .simulated_encoder import ANIMAL_CUES, PLACE_CUES, ErrorModel, simulate

log = logging.getLogger(__name__)

EVIDENCE_SPEC = EvidenceSpec(kinds=KINDS, slots=max(MAX_COUNT.values()), places=PLACES,
                             kind_cues=ANIMAL_CUES, place_cues=PLACE_CUES)
# Without a configured place a caption names one only where the classifier shows it this surely
# (the summed probability of the place's cue classes).
PLACE_CUE_NEEDED = 0.3
# How cameras are configured in training: a known place, free text, or nothing.
CONFIGURED_P = (0.5, 0.1, 0.4)
CALIBRATION_FILE = "evidence.npy"


def cue_mass(findings: Findings, labels: tuple[str, ...]) -> float:
    classes = dict(findings.classes)
    return sum(classes.get(label, 0.0) for label in labels)


def supported(findings: Findings, configured: str | None) -> tuple[dict[str, int], str | None]:
    """What a grounded caption of these findings says: (counts by kind, place). Every home kind
    detected, with its number of detections (canonical() caps and words it); the configured
    place (free text is put before the caption by the runtime, not said by the decoder), else the
    place whose cue classes the classifier gives the most probability, if at least
    PLACE_CUE_NEEDED (ties go to the first in PLACES)."""
    counts: dict[str, int] = {}
    for obj in findings.objects:
        if obj.kind in EVIDENCE_SPEC.kinds:
            counts[obj.kind] = counts.get(obj.kind, 0) + 1
    if configured is not None:
        return counts, configured if configured in PLACES else None
    mass = {place: cue_mass(findings, PLACE_CUES[place]) for place in PLACES}
    best = max(PLACES, key=lambda place: mass[place])
    return counts, best if mass[best] >= PLACE_CUE_NEEDED else None


@dataclass
class Example:
    vector: np.ndarray
    counts: dict[str, int]
    place: str | None
    configured: str | None


def sample_example(rng: np.random.Generator, model: ErrorModel | None = None) -> Example:
    scene = sample_scene(rng)
    how = rng.choice(3, p=CONFIGURED_P)
    configured = scene.place if how == 0 else ("somewhere else" if how == 1 else None)
    findings = simulate(scene, rng, model)
    counts, place = supported(findings, configured)
    return Example(evidence(findings, EVIDENCE_SPEC, configured), counts, place, configured)


def examples(count: int, seed: int) -> list[Example]:
    rng = np.random.default_rng(seed)
    return [sample_example(rng) for _ in range(count)]


def simulated_data(count: int, seed: int, lang: str) -> tuple[np.ndarray, list[list[str]], str]:
    """(evidence vectors, one canonical caption each, what the data are)."""
    data = examples(count, seed)
    return (np.stack([e.vector for e in data]), [[canonical(e.counts, e.place, lang)] for e in data],
            f"simulated: {count} synthetic scenes through simulated_encoder.ErrorModel()")


def data_set_data(data: str, images: str | None, encoder: Path, lang: str,
                  limit: int | None) -> tuple[np.ndarray, list[list[str]], str]:
    """(the real encoder's evidence vector of each image, its captions, what the data are)."""
    import cv2

    from conversion.datasets.load import load_dataset
    from conversion.pretrained.attach import ENCODER_JSON, read_encoder
    from edge_captioner.bundle.perception_section import parse_perception
    from edge_captioner.model.perception import Perception
    from edge_captioner.model.runtime import pick_runtime

    document = read_encoder(encoder)
    spec = parse_perception(document, encoder / ENCODER_JSON)
    perception = Perception(spec, encoder, pick_runtime("auto"), threads=None)
    ds = load_dataset(data, images_dir=images)
    entries = [e for e in ds.images if e.captions.get(lang) and e.split in (None, "train", "restval")]
    vectors, captions = [], []
    for entry in entries[:limit]:
        frame = cv2.imread(str(entry.path), cv2.IMREAD_COLOR)
        if frame is None:
            log.warning("%s: not a readable image, skipped", entry.path)
            continue
        vectors.append(evidence(perception.see(frame), EVIDENCE_SPEC, None))
        captions.append(entry.captions[lang])
    if not vectors:
        raise BadInput(f"{data}: no readable images with {lang} captions")
    return np.stack(vectors), captions, f"{data}: {len(vectors)} images, real-world encoder {encoder}"


def cmd_train_grounded(args: argparse.Namespace) -> int:
    import keras

    from conversion.datasets.tokenizer import build_vocabulary
    from conversion.datasets.training_data import caption_length_limit, encode_captions
    from conversion.network.model import CaptionNetwork, NetworkConfig, masked_accuracy, masked_loss

    keras.utils.set_random_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.data:
        if not args.encoder:
            raise BadInput("train-grounded --data needs --encoder DIR (an `encoder` output) to "
                           "read the images with")
        vectors, captions, described = data_set_data(args.data, args.images, Path(args.encoder),
                                                     args.lang, args.limit)
        min_count = None  # the tokenizer's default for real captions
    else:
        vectors, captions, described = simulated_data(args.count, args.seed, args.lang)
        min_count = 1  # every word of the small grounded vocabulary
    flat = [c for caps in captions for c in caps]
    vocab = build_vocabulary(flat, args.lang, min_count=min_count)
    lengths = [len(vocab.encode(c)) for c in flat]
    max_length = caption_length_limit(lengths)
    log.info("%d inputs, %d captions (%.0f s), vocabulary %d, max length %d; e.g. %r",
             len(vectors), len(flat), time.perf_counter() - started, len(vocab), max_length,
             flat[0])
    config = NetworkConfig(vocab_size=len(vocab), max_length=max_length,
                           embedding_dim=args.embedding_dim, units=args.units,
                           feature_dim=args.feature_dim, backbone="evidence",
                           evidence_dim=EVIDENCE_SPEC.length, dropout=0.1)
    index, seqs = encode_captions(vocab, captions, max_length)
    network = CaptionNetwork(config)
    model = network.training_model
    model.compile(optimizer=keras.optimizers.Adam(args.lr), loss=masked_loss,
                  metrics=[masked_accuracy])
    x = {"evidence": vectors[index], "tokens": seqs[:, :-1]}
    model.fit(x, seqs[:, 1:], batch_size=args.batch_size, epochs=args.epochs,
              validation_split=0.05, verbose=2)
    vocab.save(out / "vocab.txt")
    model.save_weights(out / "model.weights.h5")
    np.save(out / CALIBRATION_FILE, vectors[: 2000])
    (out / "config.json").write_text(json.dumps({
        "model": config.to_dict(),
        "language": args.lang,
        "seed": args.seed,
        "data": described,
        "caption_mode": "data set captions" if args.data else "grounded canonical",
        "evidence": EVIDENCE_SPEC.to_json(),  # the manifest's section, which convert copies
    }, indent=2))
    log.info("trained in %.0f s: %s", time.perf_counter() - started, out)
    return EXIT_OK
