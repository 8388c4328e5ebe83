"""What `train` feeds the network: the data set's images and captions loaded for training
(`prepare_data`), the captions as padded token ids, and the batches Keras fits on (reshuffled every
epoch from a seed, a random half mirrored with `--augment flip`)."""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from edge_captioner.bundle.vocab import Vocabulary
from edge_captioner.errors import BadInput
from edge_captioner.model.preprocess import prepare_image

from .entries import CaptionDataset, ImageEntry

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    captions: list[list[str]]  # per image, the captions trained on
    entries: list[ImageEntry]
    is_val: np.ndarray  # (N,) bool


def select_captions(entry: ImageEntry, language: str, mode: str) -> list[str]:
    """`canonical`: the first caption only (our synthetic sets put the canonical one first)."""
    captions = entry.captions.get(language, [])
    return captions[:1] if mode == "canonical" else captions


def load_images(entries: list[ImageEntry], size: int, resize: str) -> np.ndarray:
    images = np.empty((len(entries), size, size, 3), np.uint8)

    def read(k: int) -> None:
        frame = cv2.imread(str(entries[k].path), cv2.IMREAD_COLOR)
        if frame is None:
            raise BadInput(f"{entries[k].path}: cannot read image (declared at {entries[k].source})")
        images[k] = prepare_image(frame, size, resize)

    # cv2 releases the GIL while decoding: threads make this I/O+decode bound step ~2x faster.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(read, range(len(entries))))
    return images


def prepare_data(ds: CaptionDataset, language: str, size: int, resize: str, caption_mode: str,
                 val_fraction: float, seed: int, max_images: int | None,
                 skip_missing: bool = False) -> TrainingData:
    if language not in ds.languages:
        raise BadInput(f"{ds.root}: no {language} captions in this data set "
                       f"(it has: {', '.join(ds.languages) or 'none'})")
    entries = [e for e in ds.images if e.split != "test" and select_captions(e, language,
                                                                             caption_mode)]
    if max_images:
        entries = entries[:max_images]
    missing = [e for e in entries if not e.path.is_file()]
    if missing and skip_missing:
        log.warning("skipping %d images whose files are missing, first: %s (%s)", len(missing),
                    missing[0].path, missing[0].source)
        entries = [e for e in entries if e.path.is_file()]
    elif missing:
        raise BadInput(f"{missing[0].source}: {len(missing)} of {len(entries)} images missing, "
                       f"first: {missing[0].path} (run `edge-captioner-convert stats`)")
    if len(entries) < 2:
        raise BadInput(f"{ds.root}: need at least 2 images with {language} captions to train")
    has_val_split = any(e.split == "val" for e in entries)
    if has_val_split:
        is_val = np.array([e.split == "val" for e in entries])
    else:
        rng = np.random.default_rng([seed, 2])
        is_val = np.zeros(len(entries), bool)
        n_val = max(1, int(round(len(entries) * val_fraction)))
        is_val[rng.choice(len(entries), n_val, replace=False)] = True
    log.info("loading %d images at %dx%d", len(entries), size, size)
    images = load_images(entries, size, resize)
    captions = [select_captions(e, language, caption_mode) for e in entries]
    return TrainingData(images, captions, entries, is_val)


def flip_half(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror left-right a random half (each image with probability 1/2) of a batch of images
    (N, H, W, C), in place on the batch copy. Our captions never say left or right, so a mirrored
    scene keeps its caption and its scene record; it doubles the scenes the CNN sees, against the
    overfitting measured on the shipped bundle's training (loss 0.05 against validation 0.13)."""
    mirrored = rng.random(len(images)) < 0.5
    images[mirrored] = images[mirrored, :, ::-1]
    return images


MAX_CAPTION_TOKENS = 48


def caption_length_limit(lengths: list[int]) -> int:
    """The decoder's max_length (tokens incl. <start> and <end>) for captions of these token
    counts: room for the longest one, up to MAX_CAPTION_TOKENS (a rare run-on caption of a real
    data set should not double every training step). Not a percentile: the longest synthetic
    captions are the three-group scenes, the ones the count metric fails most, and the 99th
    percentile (the rule before) cut a quarter of the Chinese ones."""
    return min(MAX_CAPTION_TOKENS, max(lengths, default=2))


def encode_captions(vocab: Vocabulary, captions: list[list[str]], max_length: int):
    """(image index, padded token ids) per caption; long captions are cut, keeping <end>."""
    index, seqs = [], []
    for k, caps in enumerate(captions):
        for cap in caps:
            ids = vocab.encode(cap)
            if len(ids) > max_length:
                ids = ids[: max_length - 1] + [vocab.end_id]
            seqs.append(ids + [vocab.pad_id] * (max_length - len(ids)))
            index.append(k)
    return np.array(index, np.int64), np.array(seqs, np.int32)


def batches_class():
    import keras

    class CaptionBatches(keras.utils.PyDataset):
        """Batches of (image, tokens[:-1]) -> tokens[1:], reshuffled every epoch from a seed."""

        def __init__(self, images, index, seqs, batch_size, seed, shuffle=True, scene=None,
                     flip=False, tokens=True):
            super().__init__()
            self.flip = flip  # mirror a random half of each batch (training images only)
            # with a frozen backbone `images` are its features: then these are the features of
            # the mirrored images (an array, or a list like `images`), swapped in instead
            self.mirrored = None
            self.images, self.index, self.seqs = images, index, seqs
            self.scene = scene  # scene_arrays(): the scene heads' targets by output, or None
            self.tokens = tokens  # False: images only, no caption (a --scene-only run)
            self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
            self.epoch = 0
            self._order = self._make_order()

        def _make_order(self):
            if not self.shuffle:
                return np.arange(len(self.index))
            return np.random.default_rng([self.seed, 3, self.epoch]).permutation(len(self.index))

        def __len__(self):
            return math.ceil(len(self.index) / self.batch_size)

        def __getitem__(self, k):
            rows = self._order[k * self.batch_size: (k + 1) * self.batch_size]
            seqs = self.seqs[rows]
            # `images` is one array, or a list of arrays (a frozen attention backbone's
            # features and locations): each is indexed by image
            arrays = self.images if isinstance(self.images, list) else [self.images]
            arrays = [a[self.index[rows]] for a in arrays]
            if self.flip:
                rng = np.random.default_rng([self.seed, 4, self.epoch, k])
                if self.mirrored is None:
                    arrays[0] = flip_half(arrays[0], rng)
                else:
                    chosen = rng.random(len(rows)) < 0.5
                    mirrored = (self.mirrored if isinstance(self.mirrored, list)
                                else [self.mirrored])
                    for array, other in zip(arrays, mirrored, strict=True):
                        array[chosen] = other[self.index[rows][chosen]]
            if not self.tokens:
                images = self.index[rows]
                return arrays[0], {k: v[images] for k, v in self.scene.items()}
            inputs = (*arrays, seqs[:, :-1])
            if self.scene is None:
                return inputs, seqs[:, 1:]
            images = self.index[rows]
            return inputs, {"logits": seqs[:, 1:], **{k: v[images] for k, v in self.scene.items()}}

        def on_epoch_end(self):
            self.epoch += 1
            self._order = self._make_order()

    return CaptionBatches
