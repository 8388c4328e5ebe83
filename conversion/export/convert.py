"""`edge-captioner-convert convert MODEL OUT --representative DATA`: full-integer TFLite bundles.

Two graphs per bundle (see network/model.py): the encoder (uint8 image -> h0, c0, image_gates[, keys,
values]) and ONE decoder step (token one-hot, h, c, image_gates[, keys, values] -> logits, h', c'
[, attention]), both with static batch-1 shapes. The manifest's "decoder" section (the wiring,
network.model.CaptionNetwork.decoder_wiring) says which encoder output feeds which decoder input and which
outputs are fed back; the runtime needs nothing else to run either decoder type.

Calibration uses real images of DATA and REAL decoder inputs: the float model greedily captions
those images and every step's decoder inputs (token, h, c, image_gates, and the attention
decoder's keys and values) are recorded. Representative samples are dicts keyed by the SavedModel
signature's input NAMES, because the converter may reorder inputs and calibrating h with c's data
would fail silently. The graphs go through a SavedModel export
(`from_saved_model`); `from_concrete_functions` on a Keras model converts without its weights.

The state I/O of the decoder stays float at the graph boundary (one QUANTIZE per input, one
DEQUANTIZE per output inside the graph): numpy then passes h and c back in without any Python-side
(de)quantization. The int8/16x8 arithmetic inside is unchanged by this choice.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from conversion.datasets.load import load_dataset
from conversion.datasets.training_data import load_images
from edge_captioner.bundle.choices import BUNDLE_FILES, FORMAT_VERSION, GRAPHS, MANIFEST_FILE
from edge_captioner.bundle.loader import file_sha256, write_manifest
from edge_captioner.bundle.manifest import Manifest
from edge_captioner.bundle.vocab import SPECIAL_TOKENS, Vocabulary
from edge_captioner.errors import BadInput

from . import agreement
from .checks import graph_report

log = logging.getLogger(__name__)

DECODER_MODES = {"int8": "int8", "16x8": "int16x8"}


def load_trained(model_dir: Path):
    """Rebuild the CaptionNetwork from a `train` output directory and load its weights."""
    from conversion.network.model import CaptionNetwork, NetworkConfig

    config_path = model_dir / "config.json"
    weights = model_dir / "model.weights.h5"
    for path in (config_path, weights, model_dir / "vocab.txt"):
        if not path.is_file():
            raise BadInput(f"{path}: missing (MODEL must be an `edge-captioner-convert train` "
                           "output directory)")
    try:
        train_config = json.loads(config_path.read_text())
        config = NetworkConfig(**train_config["model"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{config_path}: not a training configuration: {exc}") from None
    if train_config.get("scene_only"):
        raise BadInput(f"{model_dir}: a CNN without a caption decoder (train --scene-only); train "
                       f"a decoder on it first: train DATA OUT --init-from {model_dir} "
                       "--freeze-backbone")
    network = CaptionNetwork(config)
    network.training_model.load_weights(weights)
    return network, train_config, Vocabulary.load(model_dir / "vocab.txt")


def calibration_data(network, images: np.ndarray, vocab: Vocabulary, max_steps: int, seed: int,
                     mirror: bool = False):
    """Float encoder outputs and real greedy decoder inputs for the representative images (from
    the encoder the bundle will have: with `mirror`, the test-time mirroring one)."""
    from conversion.network.float_decode import float_greedy

    steps: list[dict[str, np.ndarray]] = []
    float_greedy(network, images, vocab, collect=steps, mirror=mirror)
    # every decoder input by name: token, h, c, image_gates (+ keys, values)
    inputs = {name: np.concatenate([s[name] for s in steps]) for name in steps[0]}
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(inputs["token"]))[:max_steps]
    samples = {name: values[pick] for name, values in inputs.items()}
    samples["token"] = np.eye(network.config.vocab_size, dtype=np.float32)[samples["token"]]
    return samples


def _representative(samples: dict[str, np.ndarray]) -> Callable[[], Iterator[dict]]:
    n = len(next(iter(samples.values())))

    def gen():
        for k in range(n):
            yield {name: values[k: k + 1].astype(np.float32) for name, values in samples.items()}

    return gen


def convert_graph(keras_model, workdir: Path, name: str, mode: str,
                  samples: dict[str, np.ndarray] | None, uint8_input: bool = False) -> bytes:
    """Keras model -> TFLite bytes. mode: float | int8 | int16x8."""

    saved = workdir / name
    keras_model.export(str(saved), format="tf_saved_model", verbose=False)
    return convert_saved_model(saved, mode, samples, uint8_input)


def convert_saved_model(saved: Path, mode: str, samples: dict[str, np.ndarray] | None,
                        uint8_input: bool = False) -> bytes:
    """A SavedModel directory (its serving_default signature) -> TFLite bytes; mode as above.
    samples: calibration inputs by the signature's input names, one row per example."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if mode != "float":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(samples)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if mode == "int8"
            else tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
        if uint8_input:
            converter.inference_input_type = tf.uint8
    return converter.convert()


def write_bundle(out: Path, name: str, files: dict[str, bytes], vocab: Vocabulary,
                 train_config: dict, quantization: dict, wiring: dict,
                 extra: dict | None = None) -> Manifest:
    """Write the bundle directory: the graphs, the vocabulary and a manifest with hashes."""
    out.mkdir(parents=True, exist_ok=True)
    for file_name, content in files.items():
        (out / file_name).write_bytes(content)
    vocab.save(out / "vocab.txt")
    model = train_config["model"]
    graphs = {g: graph_report(out / f"{g}.tflite") for g in GRAPHS}
    document = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "language": vocab.language,
        "decoder_type": wiring["type"],  # kept for readers of format 1 before "decoder"
        "decoder": wiring,
        "image": {
            "size": [model["image_size"], model["image_size"]],
            "colour_order": train_config.get("colour_order", "RGB"),
            "resize": train_config.get("resize", "center_crop"),
            "dtype": "uint8",
        },
        "special_tokens": {tok: i for i, tok in enumerate(SPECIAL_TOKENS)},
        "max_length": model["max_length"],
        "vocab_size": len(vocab),
        "quantization": quantization,
        "tensors": {g: {"inputs": r["inputs"], "outputs": r["outputs"]} for g, r in graphs.items()},
        "ops": {g: r["ops"] for g, r in graphs.items()},
        "files": {f: file_sha256(out / f) for f in BUNDLE_FILES},
        "metrics": {},
        "training": {k: train_config.get(k) for k in ("seed", "data", "caption_mode")}
        | {"model": model}
        # a model that `recover` read back out of a bundle says which
        | ({"recovered_from": train_config["recovered_from"]}
           if "recovered_from" in train_config else {}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra or {}),
    }
    manifest = Manifest.from_json(document, out / MANIFEST_FILE)
    write_manifest(out, manifest)
    return manifest


def measure_agreement(out: Path, network, encoder, decoder, images: np.ndarray,
                      decoder_samples: dict[str, np.ndarray]) -> agreement.Agreement:
    """The bundle in OUT (through the runtime) against the Keras models it was converted from,
    on a sample of the calibration data (agreement.py)."""
    inputs = np.asarray(images[: agreement.MAX_ENCODER_INPUTS], np.float32)
    float_encoder = encoder.predict(inputs, batch_size=1, verbose=0)
    steps = {name: values[: agreement.MAX_DECODER_STEPS]
             for name, values in decoder_samples.items()}
    state = {name: values for name, values in steps.items() if name != "token"}
    float_step = network.decoder_type.numpy_step(decoder)
    float_scores, _, _ = float_step(steps["token"].argmax(axis=-1), state)
    return agreement.measure(out, inputs, float_encoder, steps, np.asarray(float_scores))


def cmd_convert(args: argparse.Namespace) -> int:
    model_dir = Path(args.model)
    out = Path(args.out)
    network, train_config, vocab = load_trained(model_dir)
    size = network.config.image_size
    if args.mirror and not network.mirrorable:
        raise BadInput(f"{model_dir}: --mirror needs a Show-and-Tell model on the small CNN "
                       f"(this one: {network.config.decoder} on {network.config.backbone})")

    grounded = not network.backbone_type.reads_images
    if grounded:
        # the encoder's input is the findings vector: calibrate on the model's own (simulated)
        images = np.load(model_dir / "evidence.npy")[: args.calibration_images]
    else:
        if not args.representative:
            raise BadInput(f"{model_dir}: --representative DATA is needed to calibrate an "
                           "image encoder")
        ds = load_dataset(args.representative, images_dir=args.images)
        entries = [e for e in ds.images if e.split in (None, "train", "restval")] or ds.images
        entries = [e for e in entries if e.path.is_file()][: args.calibration_images]
        if not entries:
            raise BadInput(f"{args.representative}: no readable images for calibration")
        images = load_images(entries, size, train_config.get("resize", "center_crop"))
    log.info("calibrating on %d %s", len(images), "evidence vectors" if grounded else "images")
    decoder_samples = calibration_data(network, images, vocab, args.calibration_steps,
                                       train_config.get("seed", 0), mirror=args.mirror)
    decoder_mode = DECODER_MODES[args.decoder]
    # int8 decoders end in LOG_SOFTMAX (one integer op instead of numpy on the device); TFLite
    # has no 16x8 LOG_SOFTMAX. The float twin has the same outputs as its int8 bundle.
    log_probs = decoder_mode == "int8"
    encoder, decoder = network.export_models(batch_size=1, log_probs=log_probs,
                                               mirror=args.mirror)
    # informational: the runtime needs nothing (the mirroring is inside encoder.tflite)
    extra = {"test_time_mirror": bool(args.mirror)}
    if grounded:
        extra["evidence"] = train_config["evidence"]
    name = args.name or f"{model_dir.name}-{vocab.language}"

    with tempfile.TemporaryDirectory(prefix="edge-captioner-convert-") as tmp:
        work = Path(tmp)
        int8_files = {
            "encoder.tflite": convert_graph(encoder, work, "encoder", "int8",
                                            {network.backbone_type.input_name:
                                             images.astype(np.float32)},
                                            uint8_input=not grounded),
            "decoder.tflite": convert_graph(decoder, work, "decoder", decoder_mode,
                                            decoder_samples),
        }
        float_files = None
        if args.float:
            float_files = {
                "encoder.tflite": convert_graph(encoder, work, "encoder_f", "float", None),
                "decoder.tflite": convert_graph(decoder, work, "decoder_f", "float", None),
            }

    wiring = network.decoder_wiring(log_probs=log_probs)
    manifest = write_bundle(out, name, int8_files, vocab, train_config,
                            {"encoder": "int8", "decoder": decoder_mode}, wiring, extra)
    bad = {g: graph_report(out / f"{g}.tflite")["float_ops"] for g in ("encoder", "decoder")}
    if any(bad.values()):
        raise RuntimeError(f"{out}: the int8 graphs still hold float ops: {bad}")
    log.info("int8 bundle %s: encoder %s, decoder %s", out, manifest.ops["encoder"],
             manifest.ops["decoder"])
    measured = measure_agreement(out, network, encoder, decoder, images, decoder_samples)
    write_manifest(out, replace(manifest, metrics={**(manifest.metrics or {}),
                                                   agreement.METRICS_KEY: measured.to_json()}))
    log.info("int8 vs float32: %s", measured.to_json())
    agreement.check(out, measured)
    written = [out]
    if float_files is not None:
        float_out = Path(args.float) if isinstance(args.float, str) else out.with_name(
            out.name + "-float")
        write_bundle(float_out, name + "-float", float_files, vocab, train_config,
                     {"encoder": "float32", "decoder": "float32"}, wiring, extra)
        written.append(float_out)

    if args.encoder:
        from conversion.pretrained.attach import attach

        for path in written:
            attach(Path(args.encoder), path)
    elif grounded:
        log.warning("%s: a grounded bundle loads only with the real-world encoder it reads: "
                    "`attach ENCODER %s` (or convert with --encoder)", out, out)
    if args.evaluate:
        from conversion.evaluation.evaluate import evaluate_bundles

        evaluate_bundles(written, args.evaluate, beam=1, limit=args.evaluate_images,
                         store_in_manifest=True)
    for path in written:
        size_kb = sum(p.stat().st_size for p in path.iterdir()) / 1024
        print(f"wrote {path} ({size_kb:.0f} KB)")
    return 0
