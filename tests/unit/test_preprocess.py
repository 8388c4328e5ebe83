"""Frame -> model input: colour order, odd sizes, grayscale and 4-channel frames."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_captioner.model.preprocess import (
    Pyramid,
    fit_square,
    mirror_first,
    prepare_image,
    shrink_square,
    to_rgb,
)


def test_bgr_frames_become_rgb():
    frame = np.zeros((4, 6, 3), np.uint8)
    frame[..., 0] = 255  # blue in OpenCV's BGR
    rgb = to_rgb(frame)
    assert (rgb[..., 2] == 255).all() and (rgb[..., 0] == 0).all()
    assert (to_rgb(frame, "RGB") == frame).all()


def test_gray_and_bgra_frames():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = to_rgb(gray)
    assert rgb.shape == (3, 4, 3) and (rgb[..., 0] == gray).all() and (rgb[..., 2] == gray).all()
    assert to_rgb(gray[..., None]).shape == (3, 4, 3)
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 200, 17
    out = to_rgb(bgra)
    assert out.shape == (2, 2, 3) and (out[..., 2] == 200).all() and (out[..., 0] == 0).all()


def test_other_dtypes():
    assert to_rgb(np.ones((2, 2, 3), np.float32)).max() == 255  # 0..1 floats
    assert to_rgb(np.full((2, 2, 3), 65535, np.uint16)).max() == 255


def test_center_crop_keeps_the_middle():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, 50:150] = 255  # the middle square is white, the sides black
    out = fit_square(frame, 50, "center_crop")
    assert out.shape == (50, 50, 3) and out.min() == 255


def test_letterbox_pads_and_keeps_everything():
    frame = np.full((100, 200, 3), 255, np.uint8)
    out = fit_square(frame, 100, "letterbox")
    assert out.shape == (100, 100, 3)
    assert out[0].max() == 0 and out[-1].max() == 0  # bars top and bottom
    assert out[50].min() == 255


@pytest.mark.parametrize("side", [129, 240, 255, 256, 480, 1080])
def test_shrinking_is_anti_aliased_and_close_to_one_box_filter(side):
    """1-pixel stripes average to grey (a resize that skipped pixels would keep stripes or turn
    them black or white); a smooth image comes out as one INTER_AREA pass would make it."""
    stripes = np.zeros((side, side, 3), np.uint8)
    stripes[:, ::2] = 255
    out = shrink_square(stripes, 128)
    assert out.shape == (128, 128, 3)
    if side >= 192:  # (near 1:1 no resize can keep or average 1-pixel stripes)
        assert abs(float(out.mean()) - 127.5) < 3 and out.std() < 12
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    smooth = np.stack([np.add.outer(ramp, ramp) / 2, np.add.outer(ramp, 255 - ramp) / 2,
                       np.full((side, side), 90.0)], -1).astype(np.uint8)
    reference = cv2.resize(smooth, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(shrink_square(smooth, 128).astype(int) - reference).mean() < 2


def test_stretch_of_a_wide_frame_shrinks_both_sides():
    frame = np.zeros((360, 1000, 3), np.uint8)
    frame[:, 500:] = 200  # right half
    out = fit_square(frame, 64, "stretch")
    assert out.shape == (64, 64, 3)
    assert out[:, :30].max() == 0 and out[:, 34:].min() == 200


def test_unknown_mode():
    with pytest.raises(ValueError):
        fit_square(np.zeros((3, 5, 3), np.uint8), 4, "zoom")


@settings(max_examples=80, deadline=None)
@given(
    frame=st.one_of(
        arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))),
        arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4]))),
    ),
    size=st.sampled_from([8, 32, 64]),
    mode=st.sampled_from(["center_crop", "letterbox", "stretch"]),
)
def test_any_frame_gives_the_model_input_shape(frame, size, mode):
    out = prepare_image(frame, size, mode)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8 and out.flags.c_contiguous


def test_not_an_image():
    with pytest.raises(ValueError, match="not an image"):
        to_rgb(np.zeros((2, 2, 2), np.uint8))


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_floats_near_the_largest_are_clipped_without_overflow():
    # hypothesis found -7e305: scaled by 255 before the clip it overflowed to -inf
    assert to_rgb(np.array([[-7.05e305, 0.5]]))[..., 0].tolist() == [[0, 127]]  # 0..1 floats, truncated
    assert to_rgb(np.array([[-7.05e305, 1.7e308]]))[..., 0].tolist() == [[0, 255]]


def _doubled(image: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)


def test_the_pyramid_gives_the_smallest_halving_with_twice_what_each_input_reads():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (2160, 3840, 3), dtype=np.uint8)
    pyramid = Pyramid(frame)
    assert pyramid.at_least(416, "letterbox").shape == (540, 960, 3)  # 960 >= 832 > 480
    assert pyramid.at_least(300, "stretch").shape == (1080, 1920, 3)  # 1080 >= 600 > 540
    assert pyramid.at_least(64, "center_crop").shape == (135, 240, 3)  # 135 is odd: no further
    assert pyramid.at_least(2000, "letterbox") is frame  # never enlarged, never a new level
    assert len(pyramid.levels) == 5


def test_a_halving_is_exact_and_mirrors_exactly():
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    # a frame whose 2 x 2 blocks are one pixel each halves back to exactly that image
    assert np.array_equal(Pyramid(_doubled(small)).at_least(150, "letterbox"), small)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    level = Pyramid(frame).at_least(50, "letterbox")
    assert level.shape == (120, 160, 3)
    assert np.array_equal(Pyramid(cv2.flip(frame, 1)).at_least(50, "letterbox"),
                          cv2.flip(level, 1))


@pytest.mark.parametrize("frame", [
    np.zeros((481, 640, 3), np.uint8),  # an odd side would lose a row
    np.zeros((480, 640, 3), np.float32),  # only uint8 is halved
    np.zeros((1, 2), np.uint8),
])
def test_frames_the_pyramid_does_not_halve_are_used_whole(frame):
    assert Pyramid(frame).at_least(10, "stretch") is frame


def test_gray_and_bgra_frames_are_halved_too():
    for shape in ((480, 640), (480, 640, 4)):
        assert Pyramid(np.zeros(shape, np.uint8)).at_least(60, "stretch").shape[:2] == (120, 160)
    with pytest.raises(ValueError, match="unknown resize mode"):
        Pyramid(np.zeros((4, 4), np.uint8)).at_least(1, "zoom")


def test_a_cut_comes_from_the_smallest_halving_that_keeps_it_and_maps_back_to_the_frame():
    frame = np.zeros((2000, 3000, 3), np.uint8)
    frame[400:1200, 1000:1400] = 255  # a 400 x 800 white rectangle
    crop = (901, 301, 1501, 1301)  # 600 x 1000 round it
    image, cut, width, height = Pyramid(frame).cut(crop, 200, "letterbox")
    # halved once the crop's longer side is 500 >= 2 x 200; halved twice it would be 250
    assert (width, height) == (1500, 1000)
    assert cut == (450, 150, 751, 651)  # rounded outwards: it covers the crop
    assert image.shape == (501, 301, 3)
    ys, xs = np.nonzero(image[..., 0] == 255)
    # the rectangle, in the frame's fractions, through the level's rectangle and size
    assert ((cut[0] + xs.min()) / width, (cut[1] + ys.min()) / height) == (1000 / 3000, 400 / 2000)
    assert ((cut[0] + xs.max() + 1) / width, (cut[1] + ys.max() + 1) / height) == (1400 / 3000,
                                                                                 1200 / 2000)
    # a crop too small to halve is cut from the frame itself
    image, cut, width, height = Pyramid(frame).cut((0, 0, 300, 300), 200, "letterbox")
    assert cut == (0, 0, 300, 300) and (width, height) == (3000, 2000)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 700), st.integers(1, 700), st.integers(1, 120),
       st.sampled_from(["letterbox", "stretch", "center_crop"]), st.data())
def test_any_frame_and_crop_the_pyramid_cuts_cover_the_crop_and_keep_what_is_read(
        height, width, size, mode, data):
    frame = np.zeros((height, width, 3), np.uint8)
    x1 = data.draw(st.integers(0, width - 1))
    y1 = data.draw(st.integers(0, height - 1))
    crop = (x1, y1, data.draw(st.integers(x1 + 1, width)), data.draw(st.integers(y1 + 1, height)))
    image, cut, level_width, level_height = Pyramid(frame).cut(crop, size, mode)
    scale = width / level_width
    assert scale == height / level_height and scale in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    assert image.shape[:2] == (cut[3] - cut[1], cut[2] - cut[0])
    # rounded outwards: the cut holds the whole crop, and at most one level pixel more a side
    assert cut[0] * scale <= crop[0] < (cut[0] + 1) * scale
    assert (cut[2] - 1) * scale < crop[2] <= cut[2] * scale
    assert cut[1] * scale <= crop[1] < (cut[1] + 1) * scale
    assert (cut[3] - 1) * scale < crop[3] <= cut[3] * scale
    if scale > 1:  # halved only while the side `mode` reads keeps KEEP times the input
        read = max if mode == "letterbox" else min
        assert read(image.shape[:2]) >= Pyramid.KEEP * size


@settings(max_examples=80, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4])),
              elements=st.integers(0, 3)))
def test_of_an_image_and_its_mirror_exactly_one_is_looked_at_mirrored(image):
    mirror = np.ascontiguousarray(image[:, ::-1])
    if np.array_equal(image.sum(axis=(0, 2)), image.sum(axis=(0, 2))[::-1]):
        assert not mirror_first(image) and not mirror_first(mirror)
    else:
        assert mirror_first(image) != mirror_first(mirror)


def test_only_camera_pixels_are_ever_mirrored():
    wide = np.zeros((4, 6, 3), np.uint8)
    wide[:, 0] = 9  # brighter on the left: seen as it is; its mirror is seen mirrored
    assert not mirror_first(wide) and mirror_first(np.ascontiguousarray(wide[:, ::-1]))
    assert mirror_first(np.ascontiguousarray(wide[:, ::-1]).astype(np.uint16))
    for odd in (wide[:, ::-1].astype(np.float32), np.zeros((4, 0, 3), np.uint8),
                np.zeros((4, 6, 5), np.uint8), np.zeros((2, 2, 2, 2), np.uint8)):
        assert not mirror_first(odd)


def test_a_mirrored_pyramid_shows_the_mirrored_frame_without_copying_it():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    shown = Pyramid(frame).mirrored()
    flipped = Pyramid(np.ascontiguousarray(frame[:, ::-1]))
    assert shown.levels[0] is frame  # the frame itself, not a mirrored copy
    for size, mode in ((100, "letterbox"), (50, "stretch"), (500, "letterbox")):
        assert np.array_equal(shown.at_least(size, mode), flipped.at_least(size, mode))
    for crop in ((10, 20, 300, 200), (0, 0, 640, 480), (601, 3, 640, 9)):
        a, b = shown.cut(crop, 40, "stretch"), flipped.cut(crop, 40, "stretch")
        assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]
    assert np.array_equal(shown.mirrored().at_least(100, "letterbox"),
                          Pyramid(frame).at_least(100, "letterbox"))
