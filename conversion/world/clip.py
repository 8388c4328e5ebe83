"""A short synthetic front-door video for demos and for testing the device's video path.

A fixed camera watches a front door by day: the porch is empty, a person walks up to the door,
puts a package down, walks away, and the package stays. Background, lens distortion and exposure
are the same on every frame (one `Backdrop`, one `CameraParams`); only the sensor noise is new each
frame, so frame differences are small while nothing moves, as with a real camera.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from conversion.world.render.backdrop import Placement, make_backdrop
from conversion.world.render.camera import apply_camera, sample_camera_params

from .scenes import COLOURS, ObjectGroup, Scene

# (seconds, caption) per phase: the timeline make_sample_clip describes.
_PHASES = (
    (3.0, "an empty front porch"),
    (3.0, "a person at the front door"),
    (2.0, "a person and a package at the front door"),
    (2.0, "a person walking away from a package at the front door"),
    (3.0, "a package at the front door"),
)
# Share of the arrival phase spent walking; the rest the person stands at the door.
_WALK_SHARE = 0.6
# Steps per second of the walk cycle (one stride = two steps).
_STEPS_PER_S = 2.0


def make_sample_clip(path: str | Path, width: int = 320, height: int = 240, fps: int = 10,
                     seed: int = 7) -> dict:
    """Write the clip as mp4 (fourcc 'mp4v') to `path` and describe it.

    Phases: empty porch (3 s), a person walks in from the side to the door and stands (3 s), a
    package appears at the door beside them (2 s), the person walks out of the frame (2 s), the
    package stays alone (3 s). Returns {"path", "frames", "fps", "width", "height", "phases"}, each
    phase {"start_frame", "end_frame" (exclusive), "caption_en", "scene"}, where "scene" is the
    Scene.to_record() of the phase with boxes from its middle frame.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    backdrop = make_backdrop("front_door", "day", rng, width, height)
    # A decent camera: mild distortion and exposure jitter, no per-image JPEG or blur (the video
    # codec compresses), and mild noise that keeps the file small.
    params = replace(sample_camera_params(rng, "day", strength=0.6), blur="none",
                     jpeg_quality=None, noise=_u(rng, 1.0, 1.6))

    door = backdrop.layout.spots["door"]
    porch = backdrop.layout.spots["porch"]
    door_x = (door.x0 + door.x1) / 2
    # Enter and leave on the porch side: the open side of the door.
    side = 1.0 if (porch.x0 + porch.x1) / 2 > door_x else -1.0
    person_colour = COLOURS["person"][int(rng.integers(len(COLOURS["person"])))]
    person_size = door.scale * height * _u(rng, 0.92, 1.0)
    person_seed = int(rng.integers(2**31))
    edge_x = width if side > 0 else 0.0
    # Entering: the first frame of the phase already shows a sliver of the person at the edge.
    # Leaving: the walk ends fully outside the frame.
    enter_x = edge_x + side * 0.12 * person_size
    exit_x = edge_x + side * 0.3 * person_size
    package_colour = COLOURS["package"][int(rng.integers(len(COLOURS["package"])))]
    package_size = max(20 * height / 128, door.scale * height * _u(rng, 0.26, 0.32))
    package_seed = int(rng.integers(2**31))
    # The package goes down on the far side of the person, so the person never walks past it.
    package_x = door_x - side * (0.2 * person_size + 0.8 * package_size)
    package_base = door.base_y + 0.02 * height

    bounds = []
    start = 0
    for seconds, _ in _PHASES:
        n = int(round(seconds * fps))
        bounds.append((start, start + n))
        start += n
    n_frames = start

    def person_at(frame: int) -> Placement | None:
        t = frame / fps
        arrive0, arrive1 = bounds[1]
        leave0, leave1 = bounds[3]
        walk = (arrive1 - arrive0) * _WALK_SHARE
        gait = math.sin(math.pi * _STEPS_PER_S * t)
        if frame < arrive0 or frame >= leave1:
            return None
        if frame < arrive0 + walk:
            k = (frame - arrive0) / walk
            x, pose, facing = enter_x + (door_x - enter_x) * k, "walking", -int(side)
        elif frame < leave0:
            x, pose, facing = door_x, "standing", 1
        else:
            # Out of the frame a few frames before the phase ends.
            k = min(1.0, (frame - leave0 + 1) / max(1.0, (leave1 - leave0) * 0.8))
            x, pose, facing = door_x + (exit_x - door_x) * k, "walking", int(side)
        return Placement("person", person_colour, pose, x, door.base_y, person_size, facing,
                         person_seed, gait if pose == "walking" else 1.0)

    package = Placement("package", package_colour, "placed", package_x, package_base, package_size,
                        -int(side), package_seed)

    def placements_at(frame: int) -> list[Placement]:
        out = []
        person = person_at(frame)
        if person is not None:
            out.append(person)
        if frame >= bounds[2][0]:
            out.append(package)
        return out

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot open a video writer for {path} (no mp4v encoder?)")
    middle_boxes: dict[int, tuple[list[Placement], list[list[int]]]] = {}
    middles = {(a + b) // 2: i for i, (a, b) in enumerate(bounds)}
    try:
        for frame in range(n_frames):
            placements = placements_at(frame)
            img, boxes = backdrop.frame(placements)
            writer.write(apply_camera(img, rng, "day", params=params))
            if frame in middles:
                middle_boxes[middles[frame]] = (placements,
                                                params.map_boxes(boxes, width, height))
    finally:
        writer.release()

    cap = cv2.VideoCapture(str(path))
    ok, _ = cap.read()
    cap.release()
    if not ok:
        raise RuntimeError(f"{path} was written but cannot be read back")

    phases = []
    for i, ((first, end), (_, caption)) in enumerate(zip(bounds, _PHASES, strict=True)):
        placements, boxes = middle_boxes[i]
        groups = [
            ObjectGroup(kind=p.kind, colour=p.colour, count=1, where="door", pose=p.pose,
                        boxes=[box])
            for p, box in sorted(zip(placements, boxes, strict=True),
                                 key=lambda pb: pb[0].kind != "person")
        ]
        scene = Scene(place="front_door", lighting="day", groups=groups)
        phases.append({"start_frame": first, "end_frame": end, "caption_en": caption,
                       "scene": scene.to_record()})
    return {"path": str(path), "frames": n_frames, "fps": fps, "width": width, "height": height,
            "phases": phases}


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))
