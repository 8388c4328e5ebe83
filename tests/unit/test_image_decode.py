"""Decoding with bounded memory and the decoder's word (sources/image_decode.py), and what the
MQTT JPEG check (jpeg_payload.py) makes of it: an image over the pixel limit is refused before
OpenCV sees it; one that libjpeg reports as damaged is refused, its warning kept off stderr."""

from __future__ import annotations

import logging
import os

import cv2
import numpy as np
import pytest

from edge_captioner.sources import image_decode
from edge_captioner.sources.image_decode import capture_stderr, decode_image
from edge_captioner.sources.jpeg_payload import RejectLog, decode_jpeg
from support.hostile_images import (
    cut_with_end_marker,
    jpeg,
    jpeg_claiming,
    noisy_jpeg,
    png,
    png_claiming,
    with_extraneous_bytes,
)


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("decoded an image that its header already refused")

    monkeypatch.setattr(image_decode.cv2, "imdecode", refuse)


# -- the pixel limit --------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "detail"), [
    (jpeg_claiming(16000, 16000), "16000x16000 pixels, wider or taller than 8192"),
    (png_claiming(20000, 20000), "20000x20000 pixels, wider or taller than 8192"),
    (png_claiming(9000, 10), "9000x10 pixels, wider or taller than 8192"),
    (jpeg_claiming(8000, 8000), "8000x8000 pixels, over the limit of 16777216 (--max-pixels)"),
    (png_claiming(4097, 4096), "4097x4096 pixels, over the limit of 16777216 (--max-pixels)"),
])
def test_an_image_over_the_limit_is_refused_by_its_header_without_decoding(no_decoding, data, detail):
    image, rejection = decode_image(data, limit_name="--max-pixels")
    assert image is None and rejection.kind == "too_many_pixels" and rejection.detail == detail


def test_the_limit_is_the_callers():
    image, rejection = decode_image(jpeg(64, 48), max_pixels=64 * 48)
    assert rejection is None and image.shape == (48, 64, 3)
    image, rejection = decode_image(jpeg(64, 48), max_pixels=64 * 48 - 1)
    assert image is None and rejection.detail == "64x48 pixels, over the limit of 3071"


def test_a_format_without_a_header_reader_is_checked_once_decoded():
    bmp = cv2.imencode(".bmp", np.zeros((100, 100, 3), np.uint8))[1].tobytes()
    assert decode_image(bmp)[1] is None
    image, rejection = decode_image(bmp, max_pixels=5000)
    assert image is None and rejection.detail == "100x100 pixels, over the limit of 5000"


def test_malformed_and_undecodable_data_say_why():
    assert decode_image(b"\xff\xd8 not really a jpeg")[1].detail == "JPEG: no marker at byte 2"
    image, rejection = decode_image(png()[:60])
    assert image is None and rejection.kind == "undecodable"


# -- the decoder's word --------------------------------------------------------------------------------
@pytest.mark.parametrize(("damage", "warning"), [
    (with_extraneous_bytes, "Corrupt JPEG data: 58 extraneous bytes before marker 0xd9"),
    (cut_with_end_marker, "Corrupt JPEG data: premature end of data segment"),
])
def test_a_jpeg_that_libjpeg_reports_damaged_is_refused_and_its_line_kept_quiet(capfd, damage, warning):
    good = noisy_jpeg()
    assert decode_image(good)[1] is None
    image, rejection = decode_image(damage(good))
    assert image is None and rejection.kind == "corrupt"
    assert rejection.detail == f"damaged JPEG data (libjpeg: {warning})"
    assert capfd.readouterr().err == ""  # OpenCV alone would have printed the warning


def test_lines_other_threads_write_during_a_decode_are_written_back(capfd):
    def decode_while_others_write():
        os.write(2, b"INFO edge_captioner.worker: another camera's line\n")
        os.write(2, b"Corrupt JPEG data: bad Huffman code\n")
        os.write(2, b"libpng warning: iCCP: known incorrect sRGB profile\n")
        return 42

    result, decoder_lines = capture_stderr(decode_while_others_write)
    assert result == 42
    assert decoder_lines == ["Corrupt JPEG data: bad Huffman code",
                             "libpng warning: iCCP: known incorrect sRGB profile"]
    assert capfd.readouterr().err == "INFO edge_captioner.worker: another camera's line\n"


def test_stderr_is_back_in_place_when_the_decode_raises(capfd):
    def fails():
        raise cv2.error("boom")

    with pytest.raises(cv2.error):
        capture_stderr(fails)
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


# -- MQTT payloads -------------------------------------------------------------------------------------
def test_mqtt_payloads_over_the_limit_or_damaged_are_dropped_with_their_kind(no_decoding):
    image, rejection = decode_jpeg(jpeg_claiming(16000, 16000))
    assert image is None and rejection.kind == "too_many_pixels"
    image, rejection = decode_jpeg(jpeg_claiming(3000, 3000), max_pixels=1000 * 1000)
    assert rejection.detail == "3000x3000 pixels, over the limit of 1000000 (max_frame_pixels)"


def test_a_damaged_mqtt_frame_is_dropped_as_corrupt_with_the_rate_limited_line(caplog):
    log = RejectLog("porch", logging.getLogger("test.rejects"), clock=lambda: 0.0)
    damaged = with_extraneous_bytes(noisy_jpeg())
    with caplog.at_level(logging.WARNING, "test.rejects"):
        for _ in range(3):
            image, rejection = decode_jpeg(damaged)
            assert image is None and rejection.kind == "corrupt"
            log.note(rejection, "cams/porch/jpeg")
    assert [r.getMessage() for r in caplog.records] == [
        "camera porch: frame on cams/porch/jpeg dropped: damaged JPEG data (libjpeg: Corrupt JPEG "
        "data: 58 extraneous bytes before marker 0xd9)"]


def test_each_camera_source_gets_its_cameras_pixel_limit():
    from edge_captioner.config import CameraConfig, demo_config
    from edge_captioner.sources.factory import open_source

    config = demo_config()
    for source in ("mqtt:esp/porch/jpeg", "frigate:front_door/person"):
        opened = open_source(CameraConfig("porch", source, max_frame_pixels=640 * 480), config)
        assert opened.frames.max_pixels == 640 * 480, source
