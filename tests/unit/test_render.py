"""Tests of the synthetic renderer (conversion/world/render/) and sample clip (conversion/world/clip.py)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from conversion.world.clip import make_sample_clip
from conversion.world.render.backdrop import make_backdrop, render_background
from conversion.world.render.camera import apply_camera, sample_camera_params
from conversion.world.render.objects import draw_object
from conversion.world.render.scene import render_scene
from conversion.world.scenes import (
    COLOURS,
    LIGHTINGS,
    PLACES,
    POSES,
    SPOT_POSES,
    SPOTS,
    ObjectGroup,
    Scene,
    sample_scene,
)


def _scene(place="front_door", lighting="day", *groups) -> Scene:
    return Scene(place=place, lighting=lighting, groups=list(groups))


def _person_at_door(lighting="day") -> Scene:
    return _scene("front_door", lighting, ObjectGroup("person", "red", 1, "door", "standing"))


def test_same_seed_same_pixels_different_seed_different_pixels():
    scene_rng = np.random.default_rng(3)
    for _ in range(5):
        scene = sample_scene(scene_rng)
        a = render_scene(scene, np.random.default_rng(11))
        boxes_a = [list(map(list, g.boxes)) for g in scene.groups]
        b = render_scene(scene, np.random.default_rng(11))
        boxes_b = [list(map(list, g.boxes)) for g in scene.groups]
        c = render_scene(scene, np.random.default_rng(12))
        assert np.array_equal(a, b)
        assert boxes_a == boxes_b
        assert not np.array_equal(a, c)
        assert np.abs(a.astype(int) - c.astype(int)).mean() > 2.0


@pytest.mark.parametrize("width,height", [(128, 128), (320, 240), (96, 64), (64, 96)])
def test_shape_and_dtype(width, height):
    rng = np.random.default_rng(width * 1000 + height)
    for _ in range(3):
        img = render_scene(sample_scene(rng), rng, width, height)
        assert img.shape == (height, width, 3)
        assert img.dtype == np.uint8


@pytest.mark.parametrize("width,height", [(128, 128), (320, 240)])
def test_one_box_per_instance_inside_the_image(width, height):
    rng = np.random.default_rng(5)
    n_boxes = 0
    for _ in range(40):
        scene = sample_scene(rng)
        render_scene(scene, rng, width, height)
        for g in scene.groups:
            assert len(g.boxes) == g.count
            for box in g.boxes:
                assert len(box) == 4 and all(isinstance(v, int) for v in box)
                x, y, w, h = box
                assert w > 0 and h > 0
                assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
                n_boxes += 1
    assert n_boxes > 40


def test_person_box_covers_the_person():
    """Inside the person's box the frame differs from the empty background far more than outside
    it. The camera step changes exposure, white balance and vignetting of every pixel and moves
    edges a little, so both images are blurred and the background is matched to the frame with a
    per-channel fit (gain, vignette, offset) outside the box before comparing."""
    height = width = 128
    yy, xx = np.mgrid[0:height, 0:width]
    r2 = ((xx - (width - 1) / 2) ** 2 + (yy - (height - 1) / 2) ** 2) / (
        (width**2 + height**2) / 4)
    for seed in range(6):
        scene = _person_at_door()
        img = render_scene(scene, np.random.default_rng(seed), width, height)
        background, _ = render_background("front_door", "day", np.random.default_rng(seed),
                                          width, height)
        img = cv2.GaussianBlur(img.astype(np.float64), (0, 0), 1.5)
        background = cv2.GaussianBlur(background.astype(np.float64), (0, 0), 1.5)
        (x, y, w, h), = scene.groups[0].boxes
        assert h > 0.4 * height, "a person at the door is large"
        inside = np.zeros((height, width), bool)
        inside[y:y + h, x:x + w] = True
        outside = ~inside
        # Leave a margin around the box out: distortion moves edges by a pixel or two.
        outside[max(0, y - 4):y + h + 4, max(0, x - 4):x + w + 4] = False
        residual = np.zeros((height, width))
        for c in range(3):
            bg = background[..., c]
            design = np.stack([bg, bg * r2, np.ones_like(bg)], axis=-1)
            coef, *_ = np.linalg.lstsq(design[outside], img[..., c][outside], rcond=None)
            residual += np.abs(img[..., c] - design @ coef) / 3
        assert residual[inside].mean() > 2.5 * residual[outside].mean(), seed
        assert residual[inside].mean() > residual[outside].mean() + 12, seed


def test_draw_object_box_bounds_the_drawing():
    for kind, poses in POSES.items():
        for pose in poses + (("sitting",) if kind == "person" else ()):
            img = np.zeros((200, 300, 3), np.uint8)
            size = 120 if kind in ("car", "bicycle") else 80
            x, y, w, h = draw_object(img, kind, COLOURS[kind][0], pose, 150, 160, size, -1,
                                     np.random.default_rng(0))
            ys, xs = np.nonzero((img > 0).any(axis=2))
            assert len(xs) > 100, (kind, pose)
            # The box holds the drawing (ground shadows excluded: they only darken).
            assert xs.min() >= x - 1 and xs.max() <= x + w and ys.min() >= y - 1
            assert ys.max() <= y + h + 0.12 * size, (kind, pose)
            # ...and is not much bigger than it.
            assert w <= (xs.max() - xs.min()) + 4 and h <= (ys.max() - ys.min()) + 4


def _mean_brightness(lighting: str, n: int = 24) -> float:
    rng = np.random.default_rng(99)
    means = []
    for i in range(n):
        scene = dataclasses.replace(sample_scene(rng), lighting=lighting)
        means.append(render_scene(scene, np.random.default_rng(i)).mean())
    return float(np.mean(means))


def test_night_darker_than_lights_on_darker_than_day():
    day, night, lights_on = (_mean_brightness(lt) for lt in ("day", "night", "lights_on"))
    assert night < 0.6 * day
    assert night + 8 < lights_on < day - 15


def test_night_is_bluish_and_lights_on_is_warm():
    def blue_minus_red(lighting):
        img = render_scene(_scene("living_room", lighting), np.random.default_rng(4))
        return float(img[..., 0].mean() - img[..., 2].mean())

    assert blue_minus_red("night") > blue_minus_red("lights_on")


def test_every_place_spot_kind_pose_renders():
    rng = np.random.default_rng(0)
    for place, spots in SPOTS.items():
        for spot, kinds in spots.items():
            for kind in kinds:
                poses = SPOT_POSES.get((place, spot), {}).get(kind, POSES[kind])
                for pose in poses:
                    colour = COLOURS[kind][int(rng.integers(len(COLOURS[kind])))]
                    lighting = LIGHTINGS[int(rng.integers(len(LIGHTINGS)))]
                    count = 3 if kind in ("person", "cat", "package") else 1
                    scene = _scene(place, lighting, ObjectGroup(kind, colour, count, spot, pose))
                    img = render_scene(scene, rng, 128, 128)
                    assert img.shape == (128, 128, 3)
                    assert len(scene.groups[0].boxes) == count
                    for _, _, w, h in scene.groups[0].boxes:
                        # Mostly inside the frame and not degenerate.
                        assert w >= 6 and h >= 6, (place, spot, kind, pose)


def test_small_kinds_stay_readable():
    rng = np.random.default_rng(8)
    for place, spot in (("backyard", "fence"), ("kitchen", "counter"), ("driveway", "garage")):
        for kind in ("cat", "package"):
            if kind not in SPOTS[place][spot]:
                continue
            scene = _scene(place, "day", ObjectGroup(kind, COLOURS[kind][0], 1, spot,
                                                     POSES[kind][0]))
            render_scene(scene, rng)
            (_, _, _, h), = scene.groups[0].boxes
            assert h >= 17, (place, spot, kind)


def test_layout_has_every_spot_inside_the_image():
    for place in PLACES:
        for seed in range(3):
            img, layout = render_background(place, "day", np.random.default_rng(seed), 160, 120)
            assert img.shape == (120, 160, 3) and img.dtype == np.uint8
            assert set(layout.spots) == set(SPOTS[place])
            for region in layout.spots.values():
                assert 0 <= region.x0 < region.x1 <= 160
                assert 0 < region.base_y < 120
                assert 0.2 < region.scale < 0.8
            back = min(layout.spots.values(), key=lambda r: r.base_y)
            front = max(layout.spots.values(), key=lambda r: r.base_y)
            assert back.scale <= front.scale, "further away is smaller"


def test_fixed_camera_frames_differ_by_noise_only():
    rng = np.random.default_rng(21)
    backdrop = make_backdrop("backyard", "day", rng, 128, 96)
    params = sample_camera_params(rng, "day")
    frame, _ = backdrop.frame([])
    a = apply_camera(frame, np.random.default_rng(1), "day", params=params).astype(np.float32)
    b = apply_camera(frame, np.random.default_rng(2), "day", params=params).astype(np.float32)
    other = apply_camera(frame, np.random.default_rng(1), "day").astype(np.float32)
    assert 0 < np.abs(a - b).mean() < 8.0
    assert np.abs(a - b).mean() < np.abs(a - other).mean()


def test_apply_camera_strength_zero_keeps_the_image():
    img = render_background("kitchen", "day", np.random.default_rng(0))[0]
    out = apply_camera(img, np.random.default_rng(0), "day", strength=0.0)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.abs(out.astype(int) - img.astype(int)).max() <= 1


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "front_door.mp4"
    return make_sample_clip(path)


def _read_frames(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def test_clip_is_written_readable_and_small(clip):
    import os

    assert os.path.getsize(clip["path"]) < 1_000_000
    frames = _read_frames(clip["path"])
    assert len(frames) == clip["frames"] == 130
    assert frames[0].shape == (clip["height"], clip["width"], 3) == (240, 320, 3)
    phases = clip["phases"]
    assert [p["caption_en"] for p in phases][0] == "an empty front porch"
    assert phases[0]["start_frame"] == 0 and phases[-1]["end_frame"] == clip["frames"]
    for a, b in zip(phases, phases[1:], strict=False):
        assert a["end_frame"] == b["start_frame"]
    kinds = [[o["kind"] for o in p["scene"]["objects"]] for p in phases]
    assert kinds == [[], ["person"], ["person", "package"], ["person", "package"], ["package"]]
    assert all(Scene.from_record(p["scene"]).place == "front_door" for p in phases)


def test_clip_frames_change_only_when_something_moves(clip):
    frames = [f.astype(np.float32) for f in _read_frames(clip["path"])]
    empty = clip["phases"][0]
    with_person = clip["phases"][2]
    e0, e1 = empty["start_frame"] + 3, empty["end_frame"] - 3
    p = (with_person["start_frame"] + with_person["end_frame"]) // 2
    still = np.abs(frames[e0] - frames[e1]).mean()
    changed = np.abs(frames[e0] - frames[p]).mean()
    assert still < 3.0
    assert changed > 3 * still
    # Inside the person's box the change is large.
    (x, y, w, h), = with_person["scene"]["objects"][0]["boxes"]
    assert np.abs(frames[e0] - frames[p])[y:y + h, x:x + w].mean() > 10 * still
