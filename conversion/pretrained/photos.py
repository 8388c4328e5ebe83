"""Real photographs that ship inside Python packages: the only real images this toolkit can count on.

scikit-image's `skimage.data` (the files inside the wheel, never its pooch downloads),
scikit-learn's sample images and matplotlib's sample data. They calibrate the int8 encoders
(with renders), check the ports against what the weights are known to do, and serve the tests.
Each is returned as OpenCV would read it from a camera: a BGR uint8 frame.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from edge_captioner.errors import BadInput

# name -> (importable package, path inside it)
PHOTOS = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "camera": ("skimage", "data/camera.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "coins": ("skimage", "data/coins.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "motorcycle_left": ("skimage", "data/motorcycle_left.png"),
    "motorcycle_right": ("skimage", "data/motorcycle_right.png"),
    "brick": ("skimage", "data/brick.png"),
    "grass": ("skimage", "data/grass.png"),
    "gravel": ("skimage", "data/gravel.png"),
    "moon": ("skimage", "data/moon.png"),
    "page": ("skimage", "data/page.png"),
    "text": ("skimage", "data/text.png"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}


def photo_path(name: str) -> Path:
    package, inside = PHOTOS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BadInput(f"photo {name!r}: the package {package} is not installed "
                       "(pip install 'edge-captioner[convert]')")
    path = Path(next(iter(spec.submodule_search_locations))) / inside
    if not path.is_file():
        raise BadInput(f"{path}: missing from the installed {package}")
    return path


def load_photo(name: str) -> np.ndarray:
    """One package photo as a BGR uint8 frame (grey ones as three equal channels)."""
    path = photo_path(name)
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise BadInput(f"{path}: not a readable image")
    return frame


def load_photos(names: list[str] | None = None) -> dict[str, np.ndarray]:
    return {name: load_photo(name) for name in (names or PHOTOS)}


def synthetic_frames() -> dict[str, np.ndarray]:
    """Frames with nothing in them, as a camera may give: black, mid grey, noise."""
    rng = np.random.default_rng(0)
    return {
        "black": np.zeros((480, 640, 3), np.uint8),
        "grey": np.full((480, 640, 3), 128, np.uint8),
        "noise": rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
    }


def augmented(frames: list[np.ndarray], count: int, seed: int) -> list[np.ndarray]:
    """Random crops (40-100 % of each side), mirror images and brightness changes of frames: more
    calibration variety from a few photos."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        frame = frames[k % len(frames)]
        h, w = frame.shape[:2]
        ch, cw = int(h * rng.uniform(0.4, 1.0)), int(w * rng.uniform(0.4, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = frame[y: y + ch, x: x + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        gain = rng.uniform(0.6, 1.3)
        out.append(np.clip(crop.astype(np.float32) * gain, 0, 255).astype(np.uint8))
    return out
