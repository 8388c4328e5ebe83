"""From an OpenCV frame to the model's input image: pure functions, no interpreter.

Training (conversion/render_model/train.py) and the device use these same functions, so the model sees on the
device exactly what it saw in training: OpenCV gives BGR (or grayscale, or BGRA); the model wants
RGB at a fixed square size.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..bundle.choices import RESIZE_MODES


def to_rgb(frame: np.ndarray, colour_order: str = "BGR") -> np.ndarray:
    """Any OpenCV image (H,W) gray, (H,W,1), (H,W,3) BGR/RGB or (H,W,4) BGRA -> (H,W,3) RGB uint8.

    Pixels are uint8, uint16 (the high byte is kept) or floating point (0..1 when none is above
    1, else 0..255; NaN and infinities are black). Anything else, and an image with no pixels,
    is ValueError("not an image: ...").
    """
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"not an image: {type(frame).__name__}")
    if frame.dtype != np.uint8:
        if np.issubdtype(frame.dtype, np.floating):
            # NaN would survive the clip and its cast to uint8 is undefined (a RuntimeWarning)
            frame = np.where(np.isfinite(frame), frame, 0)
            scale = 255.0 if frame.max(initial=0) <= 1.0 else 1.0
            # clipped before scaling: a huge value times 255 would overflow to inf
            frame = np.clip(frame, 0, 255.0 / scale) * scale
        elif frame.dtype == np.uint16:
            frame = frame >> 8
        else:
            # signed, wider or non-numeric pixels would wrap around or fail in astype
            raise ValueError(f"not an image: pixels of type {frame.dtype}")
        frame = frame.astype(np.uint8)
    if frame.ndim in (2, 3) and 0 in frame.shape[:2]:
        # OpenCV's cvtColor asserts on an empty image (cv2.error, not a ValueError)
        raise ValueError(f"not an image: shape {frame.shape}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2RGB)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ValueError(f"not an image: shape {frame.shape}")
    if frame.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB if colour_order == "BGR" else cv2.COLOR_RGBA2RGB
        return cv2.cvtColor(frame, code)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if colour_order == "BGR" else frame


def fit_square(image: np.ndarray, size: int, mode: str = "center_crop") -> np.ndarray:
    """Resize to (size, size): crop the centre square, pad to a square (letterbox), or stretch."""
    h, w = image.shape[:2]
    if mode == "center_crop" and h != w:
        side = min(h, w)
        y, x = (h - side) // 2, (w - side) // 2
        image = image[y: y + side, x: x + side]
    elif mode == "letterbox" and h != w:
        side = max(h, w)
        padded = np.zeros((side, side, image.shape[2]), image.dtype)
        y, x = (side - h) // 2, (side - w) // 2
        padded[y: y + h, x: x + w] = image
        image = padded
    elif mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r}")
    return shrink_square(image, size)


def shrink_square(image: np.ndarray, size: int) -> np.ndarray:
    """A square (or stretched) image -> (size, size).

    Shrinking is anti-aliased as a box filter, in two steps: a linear resize UP to k * size
    (k = ceil(side / size): the factor is at most (k) / (k - 1) up, so nothing is lost), then
    INTER_AREA by the whole factor k, OpenCV's fast path (each output pixel is the mean of a k x k
    block). One INTER_AREA at a fractional factor (OpenCV's generic path) gives the same image
    (a mean difference under half a grey level) but cost 0.27 ms from a 240 px square and 3.6 ms
    from a 1080 px one on our x86 workstation, against 0.11 and 2.0 ms: more than the encoder and
    the whole decode together. Enlarging is linear."""
    h, w = image.shape[:2]
    if h == size and w == size:
        return image
    if h <= size or w <= size:  # enlarging, or a stretch that shrinks one side only
        shrinking = max(h, w) > size
        return cv2.resize(image, (size, size),
                          interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    k = -(-max(h, w) // size)  # ceil
    if h != k * size or w != k * size:
        image = cv2.resize(image, (k * size, k * size), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def prepare_image(frame: np.ndarray, size: int, mode: str = "center_crop",
                  colour_order: str = "BGR") -> np.ndarray:
    """OpenCV frame -> (size, size, 3) uint8 RGB, the model's input before quantization."""
    return np.ascontiguousarray(fit_square(to_rgb(frame, colour_order), size, mode))


def model_input(frame: np.ndarray, size: int, mode: str, model_order: str) -> np.ndarray:
    """OpenCV frame -> (size, size, 3) uint8 in the channel order the graph was trained on."""
    rgb = prepare_image(frame, size, mode)
    return rgb if model_order == "RGB" else np.ascontiguousarray(rgb[..., ::-1])


class Pyramid:
    """A camera frame and its halvings, each made once and only when a graph asks for one.

    A 1080p frame resized to a 416 or 300 square costs 9-12 ms on one core (the linear resize of
    fit_square's first step touches every pixel of a padded square), and a caption makes three
    such resizes of the whole frame. A halving with INTER_AREA (each pixel the mean of a 2 x 2
    block: OpenCV's fastest path) costs 0.5 ms at 1080p. A graph's input then comes from the
    smallest halving that still has KEEP times the pixels the input reads: fit_square's own
    anti-aliasing still averages blocks of at least KEEP x KEEP, and the input is nearly the one
    the whole frame gives (docs/model-card.md, "Cost"). The halving is exact: a box as a fraction
    of a halving is the same fraction of the frame, and the halving of a mirrored frame is the
    mirrored halving, so the mirrored look stays exactly a mirror. Only uint8 frames with even
    sides are halved (an odd side would lose a column and the exactness); anything else is used
    whole.

    A mirrored pyramid (`mirrored()`) shows the mirror image of the frame without copying it:
    each level or rectangle is mirrored when it is taken, so a 12 MP frame seen mirrored costs
    the flips of what the graphs read, not a second frame."""

    KEEP = 2

    def __init__(self, frame: np.ndarray, mirror: bool = False):
        self.levels = [frame]  # as the camera gave them, never mirrored
        self.mirror = mirror
        self._shown: dict[int, np.ndarray] = {}  # mirrored whole levels, made once

    @property
    def width(self) -> int:
        return self.levels[0].shape[1]

    @property
    def height(self) -> int:
        return self.levels[0].shape[0]

    @staticmethod
    def _halvable(image: np.ndarray) -> bool:
        h, w = image.shape[:2]
        return image.dtype == np.uint8 and h % 2 == 0 and w % 2 == 0 and h >= 2 and w >= 2

    def mirrored(self) -> Pyramid:
        """The pyramid of the mirrored frame, sharing this one's levels (exact: the halving of
        a mirrored frame is the mirrored halving)."""
        other = Pyramid(self.levels[0], not self.mirror)
        other.levels = self.levels
        return other

    def _level(self, index: int) -> np.ndarray | None:
        """Level `index` (0: the frame) as the camera gave it, made now if need be; None past
        the last halvable one."""
        while len(self.levels) <= index:
            image = self.levels[-1]
            if not self._halvable(image):
                return None
            h, w = image.shape[:2]
            self.levels.append(cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
        return self.levels[index]

    def region(self, index: int, rect: tuple[int, int, int, int]) -> np.ndarray:
        """Pixels x1..x2, y1..y2 (inside level `index`) of the level as shown: a view of it, or,
        mirrored, a mirrored copy of the rectangle it mirrors."""
        level = self._level(index)
        x1, y1, x2, y2 = rect
        if not self.mirror:
            return level[y1:y2, x1:x2]
        width = level.shape[1]
        if (x1, y1, x2, y2) == (0, 0, width, level.shape[0]):
            if index not in self._shown:
                self._shown[index] = cv2.flip(level, 1)
            return self._shown[index]
        return cv2.flip(level[y1:y2, width - x2: width - x1], 1)

    @staticmethod
    def _reads(size: int, mode: str):
        """The side of an image that fit_square(image, size, mode) shrinks to `size`."""
        if mode not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode {mode!r}")
        return max if mode == "letterbox" else min

    def at_least(self, size: int, mode: str) -> np.ndarray:
        """The smallest level whose side that fit_square(level, size, mode) reads at `size` is
        still at least KEEP * size: the longer side for "letterbox", the shorter for "stretch"
        and "center_crop"."""
        return self.cut(None, size, mode)[0]

    def cut(self, crop: tuple[int, int, int, int] | None, size: int,
            mode: str) -> tuple[np.ndarray, tuple[int, int, int, int], int, int]:
        """A pixel rectangle (x1, y1, x2, y2) of the frame (None: all of it), cut from the
        smallest level where it keeps at least KEEP * size pixels on the side `mode` reads:
        (the cut image, the rectangle in that level's pixels, rounded outwards, and the level's
        width and height). A box as a fraction of the cut maps back to the frame through the
        level's rectangle and size (detections.from_crop)."""
        read = self._reads(size, mode)
        x1, y1, x2, y2 = crop if crop is not None else (0, 0, self.width, self.height)
        index, inside = 0, (x1, y1, x2, y2)
        while True:
            shift = index + 1
            halved = (x1 >> shift, y1 >> shift, -(-x2 >> shift), -(-y2 >> shift))
            if (read(halved[3] - halved[1], halved[2] - halved[0]) < self.KEEP * size
                    or self._level(shift) is None):
                break
            index, inside = shift, halved
        level = self.levels[index]
        if crop is None and not self.mirror:
            return level, inside, level.shape[1], level.shape[0]
        return self.region(index, inside), inside, level.shape[1], level.shape[0]

def mirror_first(image: np.ndarray) -> bool:
    """Whether to look at an image as its mirror: of an image and its mirror exactly one is
    (none when its column sums read the same both ways), so a graph that does not see left and
    right alike (a crop, a pose) still gives an image and its mirror the same findings,
    mirrored. The image seen is the one whose outermost columns that differ in brightness are
    brighter on the left. Only uint8 and uint16 images (what cameras give) are ever mirrored."""
    if (image.dtype not in (np.uint8, np.uint16) or 0 in image.shape
            or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4)))):
        return False
    # OpenCV's column sums: 0.2 ms at 1080p where numpy's take 2 ms
    w = image.shape[1]
    depth = cv2.CV_32S if image.dtype == np.uint8 else cv2.CV_64F  # exact for both
    sums = cv2.reduce(image, 0, cv2.REDUCE_SUM, dtype=depth).reshape(w, -1).sum(axis=1)
    differ = np.flatnonzero(sums != sums[::-1])
    return bool(differ.size) and bool(sums[differ[0]] < sums[w - 1 - differ[0]])
