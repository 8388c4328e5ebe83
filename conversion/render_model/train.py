"""`edge-captioner-convert train DATA OUT`: train the CNN-LSTM captioner with teacher forcing
(`--decoder show_and_tell` or `attention`, see network/model.py).

OUT receives:
    config.json          model and preprocessing configuration (what `convert` rebuilds from)
    vocab.txt            the vocabulary (edge_captioner.vocab format)
    model.weights.h5     the trained weights (written at the end, and after every epoch)
    checkpoint.keras     weights + optimizer state after the last finished epoch (for --resume)
    state.json           epochs done, history (loss, val_loss, accuracy), sample captions
    train.log            one line per epoch

Deterministic for a seed: one seed drives Keras/TF, the shuffling and the validation split, and TF's
op determinism is switched on (costs a little speed).

The run, step by step (`cmd_train`): check_output_dir, the data (datasets.training_data.prepare_data),
the plan (plan.py: plan_new_run with build_vocab, or plan_resumed_run) and write_run_config, make_batches,
build_network and compile_model, restore_checkpoint when resuming, fit_with_checkpoints (an
EpochReport checkpoints and logs every epoch). Options may come from a recipe (`--recipe FILE`,
conversion/recipes.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from conversion.datasets.load import load_dataset
from conversion.datasets.training_data import TrainingData, batches_class, encode_captions, prepare_data

from .plan import (
    RunPlan,
    caption_mode_for,
    check_output_dir,
    plan_new_run,
    plan_resumed_run,
    read_train_config,
    take_backbone_shape,
    write_run_config,
)
from .scene_targets import scene_arrays, scene_only_accuracy

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """One seed for Keras, TF and numpy, and TF's deterministic ops (costs a little speed)."""
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        # Keras 3 also trains on JAX (KERAS_BACKEND=jax, e.g. on a lent GPU); weights files are the
        # same either way, and `convert` always reads them with TensorFlow
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def make_batches(data: TrainingData, plan: RunPlan, args: argparse.Namespace):
    """(training batches, validation batches, which rows train): one row per caption, or per
    image in a --scene-only run (the heads read the image alone, whatever its captions)."""
    if plan.scene_only:
        index = np.arange(len(data.images))
        seqs = np.zeros((len(index), 2), np.int32)
    else:
        index, seqs = encode_captions(plan.vocab, data.captions, plan.config.max_length)
    train_rows = ~data.is_val[index]
    Batches = batches_class()
    targets = scene_arrays(plan.scene, plan.details) if plan.scene is not None else None
    train_batches = Batches(data.images, index[train_rows], seqs[train_rows], args.batch_size,
                            args.seed, scene=targets, flip=plan.augment == "flip",
                            tokens=not plan.scene_only)
    val_batches = Batches(data.images, index[~train_rows], seqs[~train_rows], args.batch_size,
                          args.seed, shuffle=False, scene=targets, tokens=not plan.scene_only)
    return train_batches, val_batches, train_rows


def freeze_backbone(network, data: TrainingData, train_batches, val_batches):
    """Features once, then a decoder-only model: the CNN's forward pass dominates an epoch. The
    batches then yield the backbone's outputs instead of images; returns the model to train."""
    network.backbone.trainable = False
    for head in network.scene_heads or ():
        head.trainable = False  # they read the frozen feature for the decoder (scene_input)
    log.info("frozen backbone: computing image features once")
    features = network.backbone.predict(data.images, batch_size=128, verbose=0)
    train_batches.images = val_batches.images = features  # a list where it outputs locations
    if train_batches.flip:
        # the decoder still sees mirrored scenes: their features are computed once too
        train_batches.mirrored = network.backbone.predict(
            np.ascontiguousarray(data.images[:, :, ::-1]), batch_size=128, verbose=0)
    return network.feature_training_model()


def build_network(plan: RunPlan, args: argparse.Namespace, resume: bool, data: TrainingData,
                  train_batches, val_batches):
    """(the network, the Keras model to fit, its losses, loss weights and metrics): the caption
    model, with the scene heads' outputs where it has them, or the CNN and heads alone."""
    import keras

    from conversion.network.model import CaptionNetwork, masked_accuracy, masked_loss

    network = CaptionNetwork(plan.config)
    model = network.training_model
    if args.init_from and not resume:
        _copy_backbone(network, Path(args.init_from))
    if args.freeze_backbone:
        model = freeze_backbone(network, data, train_batches, val_batches)
    scene, details = plan.scene, plan.details
    loss, loss_weights, metrics = masked_loss, None, [masked_accuracy]
    if plan.scene_only:
        model = network.scene_only_model(len(scene.kinds), scene.count_classes,
                                         len(scene.places), len(details.colours) + 1,
                                         len(details.wheres) + 1, len(details.lightings))
        scene_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        loss = {name: scene_loss for name in scene_arrays(scene, details)}
        loss_weights, metrics = None, None
        log.info("scene-only: the CNN and its heads (%d kinds x %d counts, %d places, %d colours, "
                 "%d spots, %d lightings), no decoder", len(scene.kinds), scene.count_classes,
                 len(scene.places), len(details.colours), len(details.wheres),
                 len(details.lightings))
    elif scene is not None:
        model = network.scene_training_model(len(scene.kinds), scene.count_classes,
                                             len(scene.places))
        scene_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        loss = {"logits": masked_loss, "scene_counts": scene_loss, "scene_place": scene_loss}
        loss_weights = {"logits": 1.0, "scene_counts": plan.scene_weight,
                        "scene_place": plan.scene_weight}
        metrics = {"logits": [masked_accuracy]}
        log.info("scene heads: %d kinds x %d counts, %d places, loss weight %g", len(scene.kinds),
                 scene.count_classes, len(scene.places), plan.scene_weight)
    return network, model, loss, loss_weights, metrics


def compile_model(model, loss, loss_weights, metrics, lr: float, steps: int) -> None:
    """Adam on a cosine decay from `lr` over `steps`, gradients clipped."""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        lr, decay_steps=steps, alpha=0.01, warmup_target=None)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=5.0), loss=loss,
                  loss_weights=loss_weights, metrics=metrics)


def restore_checkpoint(out: Path, model, network, train_batches, frozen: bool) -> dict:
    """A resumed run's state.json, with the model and optimizer as the last finished epoch left
    them and the batches at the next epoch's shuffle order, as in an uninterrupted run."""
    state = json.loads((out / "state.json").read_text())
    model.optimizer.build(model.trainable_variables)
    model.load_weights(out / "checkpoint.keras")
    if frozen:
        network.training_model.load_weights(out / "model.weights.h5")
    train_batches.epoch = state["epochs_done"]
    train_batches._order = train_batches._make_order()
    log.info("resuming after epoch %d", state["epochs_done"])
    return state


class EpochReport:
    """After each epoch: what the epoch did (sample captions of three validation images, or in
    a --scene-only run how often the heads are right), one log line, and the checkpoint:
    model.weights.h5, checkpoint.keras and state.json in OUT."""

    def __init__(self, out: Path, state: dict, network, model, plan: RunPlan,
                 data: TrainingData, epochs: int):
        self.out, self.state, self.network, self.model = out, state, network, model
        self.plan, self.data, self.epochs = plan, data, epochs
        self.val_images = np.flatnonzero(data.is_val)

    def __call__(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        record = {"epoch": epoch + 1, **{k: round(float(v), 5) for k, v in logs.items()}}
        if self.plan.scene_only:
            self._heads(record, logs)
        else:
            self._captions(record, logs)

    def _heads(self, record: dict, logs: dict) -> None:
        # no captions to sample: how often the heads are right on the validation images
        rows = self.val_images
        outputs = self.model.predict(self.data.images[rows], batch_size=128, verbose=0)
        targets = scene_arrays(self.plan.scene, self.plan.details)
        figures = scene_only_accuracy(outputs, {k: v[rows] for k, v in targets.items()})
        record["val_heads"] = {k: round(v, 5) for k, v in figures.items()}
        self.save(record, [])
        log.info("epoch %d/%d loss %.4f val_loss %.4f | heads right: %s", record["epoch"],
                 self.epochs, logs.get("loss", float("nan")), logs.get("val_loss", float("nan")),
                 ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))

    def _captions(self, record: dict, logs: dict) -> None:
        from conversion.network.float_decode import float_greedy

        data, vocab = self.data, self.plan.vocab
        sample_rows = self.val_images[:3]
        ids = float_greedy(self.network, data.images[sample_rows], vocab)
        samples = [{"image": data.entries[r].file_name, "caption": vocab.decode(i),
                    "reference": data.captions[r][0]}
                   for r, i in zip(sample_rows, ids, strict=True)]
        self.save(record, samples)
        # with scene heads, Keras names the caption output's figures logits_*
        caption_loss = logs.get("val_logits_loss", logs.get("val_loss", float("nan")))
        accuracy = logs.get("val_logits_masked_accuracy",
                            logs.get("val_masked_accuracy", float("nan")))
        log.info("epoch %d/%d loss %.4f val_loss %.4f acc %.3f | %s", record["epoch"],
                 self.epochs, logs.get("loss", float("nan")), caption_loss, accuracy,
                 samples[0]["caption"] if samples else "")

    def save(self, record: dict, samples: list) -> None:
        state = self.state
        state["epochs_done"] = record["epoch"]
        state["history"].append(record)
        state["samples"] = samples
        # the whole network (with the frozen backbone, if any) is what `convert` reads
        self.network.training_model.save_weights(self.out / "model.weights.h5")
        self.model.save(self.out / "checkpoint.keras")
        (self.out / "state.json").write_text(json.dumps(state, indent=2, ensure_ascii=False))


def fit_with_checkpoints(model, train_batches, val_batches, epochs: int, report: EpochReport
                         ) -> None:
    """Fit from the epoch after the last finished one, the report checkpointing every epoch."""
    import keras

    started = time.perf_counter()
    model.fit(train_batches, validation_data=val_batches, epochs=epochs,
              initial_epoch=report.state["epochs_done"],
              callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=report)],
              verbose=1 if sys.stderr.isatty() else 2)
    log.info("trained in %.0f s; weights in %s", time.perf_counter() - started,
             report.out / "model.weights.h5")


def log_run(plan: RunPlan, data: TrainingData, train_rows: np.ndarray, epochs: int) -> None:
    """One line saying what the run trains on."""
    if plan.scene_only:
        log.info("training on %d images (%d for validation), %d epochs, no decoder",
                 int(train_rows.sum()), int(data.is_val.sum()), epochs)
    else:
        log.info("training on %d captions of %d images (%d for validation), vocabulary %d, "
                 "max length %d, %d epochs, %s decoder", int(train_rows.sum()), len(data.images),
                 int(data.is_val.sum()), len(plan.vocab), plan.config.max_length, epochs,
                 plan.config.decoder)


def cmd_train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    resume = check_output_dir(args)
    ds = load_dataset(args.data, images_dir=args.images)
    caption_mode = caption_mode_for(ds, args.captions)
    out.mkdir(parents=True, exist_ok=True)
    _log_to_file(out / "train.log")
    seed_everything(args.seed)
    inherited_scene_input = take_backbone_shape(args) if args.init_from and not resume else None
    data = prepare_data(ds, args.lang, args.image_size, args.resize, caption_mode,
                        args.val_fraction, args.seed, args.max_images, args.skip_missing)
    if resume:
        plan = plan_resumed_run(out, data)
    else:
        plan = plan_new_run(args, data, inherited_scene_input)
        write_run_config(out, plan, args, caption_mode)

    train_batches, val_batches, train_rows = make_batches(data, plan, args)
    network, model, loss, loss_weights, metrics = build_network(plan, args, resume, data,
                                                                train_batches, val_batches)
    compile_model(model, loss, loss_weights, metrics, args.lr, len(train_batches) * args.epochs)
    state = {"epochs_done": 0, "history": [], "samples": []}
    if resume:
        state = restore_checkpoint(out, model, network, train_batches, args.freeze_backbone)
    if state["epochs_done"] >= args.epochs:
        log.info("already trained %d epochs", state["epochs_done"])
        return 0
    log_run(plan, data, train_rows, args.epochs)
    report = EpochReport(out, state, network, model, plan, data, args.epochs)
    fit_with_checkpoints(model, train_batches, val_batches, args.epochs, report)
    return 0


def _copy_backbone(network, model_dir: Path) -> None:
    """Start from the CNN of another trained model (e.g. the English one for Chinese)."""
    from conversion.network.model import CaptionNetwork, NetworkConfig

    other = CaptionNetwork(NetworkConfig(**read_train_config(model_dir)["model"]))
    other.training_model.load_weights(model_dir / "model.weights.h5")
    network.backbone.set_weights(other.backbone.get_weights())
    if network.scene_heads and other.scene_heads:
        # scene_input ([kinds, count classes, places]) is what shapes the heads
        if network.config.scene_input == other.config.scene_input:
            for mine, theirs in zip(network.scene_heads, other.scene_heads, strict=True):
                mine.set_weights(theirs.get_weights())
        else:
            # another data set's kinds or places: the heads start afresh, the CNN still transfers
            log.info("scene heads not copied from %s: its kinds or places differ", model_dir)
    log.info("backbone initialised from %s", model_dir)


def _log_to_file(path: Path) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger(__name__.partition(".")[0])  # the toolkit's: every module logs to it
    logger.addHandler(handler)
    # the file gets the progress (INFO) whatever stderr shows (set_log_level filters that there)
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
