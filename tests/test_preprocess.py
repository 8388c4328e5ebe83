"""Frame -> model input: colour order, odd sizes, grayscale and 4-channel frames."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_captioner.preprocess import fit_square, prepare_image, to_rgb


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
