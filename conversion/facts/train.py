"""`edge-captioner-convert train-facts OUT --lang en|zh`: the facts decoder.

A Show-and-Tell LSTM decoder whose "image" is a frame's facts (edge_captioner/scene/facts.py, as
the one-hot vector of model/evidence.py `facts_vector`): how many of each kind, the people's
posture groups, the configured place. Its targets are the canonical sentences of those facts
(scene/phrase.py), so it is trained to write exactly what the facts hold; on the device every
sentence it writes is read back and checked against them (scene/support.py). No image and no
captioned photo is needed: the facts are drawn at random (sample.py). Whether the facts are true
is the perception's part, measured on real photos.

OUT is a `train` model directory (config.json, vocab.txt, model.weights.h5) plus evidence.npy
(calibration vectors), which `convert` reads like any other.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from edge_captioner.bundle.sections import FactsSpec
from edge_captioner.errors import EXIT_OK
from edge_captioner.model.evidence import facts_vector
from edge_captioner.scene.facts import KINDS, MAX_EXACT, PLACES, POSE_GROUPS
from edge_captioner.scene.phrase import canonical

from .sample import sample_many
from .thresholds import DEFAULT_THRESHOLD, THRESHOLDS

log = logging.getLogger(__name__)

CALIBRATION_FILE = "evidence.npy"
SPEC = FactsSpec(kinds=KINDS, pose_groups=POSE_GROUPS, places=PLACES, max_exact=MAX_EXACT,
                 thresholds=THRESHOLDS, default_threshold=DEFAULT_THRESHOLD)


def training_data(count: int, seed: int, lang: str,
                  spec: FactsSpec = SPEC) -> tuple[np.ndarray, list[list[str]]]:
    """(facts vectors, one canonical sentence each)."""
    facts = sample_many(count, seed, spec)
    return (np.stack([facts_vector(f, spec) for f in facts]),
            [[canonical(f, lang)] for f in facts])


def cmd_train_facts(args: argparse.Namespace) -> int:
    import keras

    from conversion.datasets.tokenizer import build_vocabulary
    from conversion.datasets.training_data import caption_length_limit, encode_captions
    from conversion.network.model import CaptionNetwork, NetworkConfig, masked_accuracy, masked_loss

    keras.utils.set_random_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    vectors, captions = training_data(args.count, args.seed, args.lang)
    flat = [c for caps in captions for c in caps]
    vocab = build_vocabulary(flat, args.lang, min_count=1)
    lengths = [len(vocab.encode(c)) for c in flat]
    max_length = caption_length_limit(lengths)
    log.info("%d facts (%.0f s), vocabulary %d, max length %d; e.g. %r", len(vectors),
             time.perf_counter() - started, len(vocab), max_length, flat[0])
    config = NetworkConfig(vocab_size=len(vocab), max_length=max_length,
                           embedding_dim=args.embedding_dim, units=args.units,
                           feature_dim=args.feature_dim, backbone="evidence",
                           evidence_dim=SPEC.length, dropout=0.0)
    index, seqs = encode_captions(vocab, captions, max_length)
    network = CaptionNetwork(config)
    model = network.training_model
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr, decay_steps=args.epochs * (len(index) // args.batch_size + 1), alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=masked_loss,
                  metrics=[masked_accuracy])
    x = {"evidence": vectors[index], "tokens": seqs[:, :-1]}
    model.fit(x, seqs[:, 1:], batch_size=args.batch_size, epochs=args.epochs,
              validation_split=0.02, verbose=2)
    vocab.save(out / "vocab.txt")
    model.save_weights(out / "model.weights.h5")
    np.save(out / CALIBRATION_FILE, vectors[: 2000])
    (out / "config.json").write_text(json.dumps({
        "model": config.to_dict(),
        "language": args.lang,
        "seed": args.seed,
        "data": f"facts: {args.count} drawn at random (conversion/facts/sample.py)",
        "caption_mode": "facts canonical",
        "evidence": SPEC.to_json(),  # the manifest's section, which convert copies
    }, indent=2))
    log.info("trained in %.0f s: %s", time.perf_counter() - started, out)
    return EXIT_OK
