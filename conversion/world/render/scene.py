"""Render a synthetic home-camera frame from a Scene (see world/scenes.py) with OpenCV.

Pipeline of `render_scene`:

1. `make_backdrop`: the place's background (wall, door, sofa, fence, ...) drawn at 2x resolution
   with randomised colours, positions and sizes, a `Layout` that says where each spot of the place
   is, and the lighting maps (a per-pixel gain and an additive glow) for that place and lighting.
2. Objects are placed side by side at their group's spot and drawn with `draw_object` on a copy of
   the 2x canvas, back to front.
3. `Backdrop.frame`: the canvas is downscaled with INTER_AREA (the 2x drawing is our
   antialiasing) and lit: pixels times the gain map plus the glow map (porch light, lamp,
   headlights).
4. `apply_camera`: lens distortion, blur, vignette, gain and white balance, sensor noise, gamma and
   JPEG artefacts, so a model cannot learn from exact pixel values.

Determinism and video: everything random is drawn from the caller's `np.random.Generator`, so the
same scene and the same generator state give identical pixels. For a fixed camera filming moving
objects (the sample clip), build the parts once and reuse them on every frame::

    backdrop = make_backdrop("front_door", "day", rng, 320, 240)   # same background + lighting
    params = sample_camera_params(rng, "day")                      # same distortion + exposure
    for each frame:
        img, boxes = backdrop.frame([Placement(...), ...])          # objects move
        out = apply_camera(img, rng, "day", params=params)          # only the sensor noise is new

A `Placement` carries its own `seed`, so an object keeps its exact colours from frame to frame.
Boxes are [x, y, w, h] in output pixels; `CameraParams.map_boxes` moves boxes through the camera's
distortion, which `render_scene` does for the boxes it stores in the scene.
"""

from __future__ import annotations

import numpy as np

from conversion.world.scenes import SPOTS, Scene

from .backdrop import make_backdrop
from .camera import apply_camera, sample_camera_params
from .placing import place_groups


def render_scene(scene: Scene, rng: np.random.Generator, width: int = 128,
                 height: int = 128) -> np.ndarray:
    """Render `scene` as a camera frame: uint8 BGR (height, width, 3).

    Fills each group's `boxes` with one [x, y, w, h] per instance, in output pixels, mapped
    through the camera's distortion. Same scene and same generator state give identical pixels.
    """
    for g in scene.groups:
        if g.where not in SPOTS[scene.place]:
            raise ValueError(f"{g.where!r} is not a spot of {scene.place!r}")
    backdrop = make_backdrop(scene.place, scene.lighting, rng, width, height)
    placed = place_groups(scene, backdrop.layout, rng)
    img, boxes = backdrop.frame([p for _, p in placed])
    params = sample_camera_params(rng, scene.lighting)
    out = apply_camera(img, rng, scene.lighting, params=params)
    for g in scene.groups:
        g.boxes = []
    for (gi, _), box in zip(placed, params.map_boxes(boxes, width, height), strict=True):
        scene.groups[gi].boxes.append(box)
    return out
