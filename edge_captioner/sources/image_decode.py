"""Decode an image with bounded memory, and only when the decoder found nothing wrong with it.

The one place where bytes from outside (a frame pushed over MQTT or by Frigate, a file given to
`caption`) become pixels; the callers are jpeg_payload.py and cli/caption.py.

1. Size first: the header says how large the image is (image_header.py, no decoding); over the
   pixel limit, or wider or taller than MAX_SIDE, it is refused before a byte is allocated for it.
   For formats without a parser there, OpenCV's own header check is the backstop
   (OPENCV_IO_MAX_IMAGE_PIXELS, set before cv2 is imported: cli/support.py), then the limit is
   applied to what was decoded.
2. Then the decoder's word: libjpeg decodes damaged data to a picture (grey or smeared blocks) and
   says so only as a warning line ("Corrupt JPEG data: 2 extraneous bytes before marker 0xd9",
   "Premature end of JPEG file"), which it writes to the C stderr, file descriptor 2. OpenCV does
   not hook libjpeg's message handler and reports nothing to Python: no exception, no flag
   (imdecode's flags have no strict mode, cv2.redirectError sees only OpenCV's own errors, and
   cv2.utils.logging.setLogLevel does not reach libjpeg's fprintf; checked on
   opencv-python-headless 5.1.0). Checking the stream's structure in Python cannot replace it:
   a bit flip in the entropy-coded data is found only by Huffman-decoding it. So the decode runs
   with descriptor 2 pointed at an in-memory file (memfd), and a libjpeg warning there refuses
   the image. This also keeps libjpeg's, libpng's and OpenCV's own lines about a bad file off the
   terminal: `caption` prints its one line per file instead.

   Descriptor 2 belongs to the whole process, so the capture is behind a lock (decodes run one at
   a time: a 1080p JPEG takes milliseconds) and any other line written there meanwhile (another
   thread's log line) is written back to the real stderr as soon as the decode is done.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from .image_header import DEFAULT_MAX_PIXELS, MalformedHeader, read_header, size_problem

log = logging.getLogger(__name__)

# libjpeg-turbo's warnings (JWRN_* in jerror.h): every one means the stream is not what it should
# be. libjpeg prints the first warning of a decode only, as one line.
LIBJPEG_WARNING = re.compile(
    r"(Corrupt JPEG data|Premature end of JPEG file|Invalid SOS parameters|Inconsistent progression"
    r"|Unknown Adobe color transform|Warning: unknown JFIF revision|Application transferred too many"
    r"|Invalid restart interval)")
# Lines that the image decoders write: libjpeg's, libpng's, and OpenCV's own imgcodecs log lines
# ("[ERROR:0@0.039] global grfmt_png.cpp:296 readHeader IHDR chunk shall be first ...").
DECODER_LINE = re.compile(
    rf"(?:{LIBJPEG_WARNING.pattern}|libpng (?:warning|error)"
    r"|\[ ?[A-Z]+:\d+@[\d.]+\] global (?:grfmt_\w+|loadsave|exif|bitstrm)\.cpp)")

_STDERR_LOCK = threading.Lock()
T = TypeVar("T")


@dataclass(frozen=True)
class Rejection:
    """Why a frame or file is not used, in one line."""

    kind: str  # "empty" | "not_jpeg" | "too_large" | "truncated" | "too_many_pixels" |
    #            "undecodable" | "corrupt" | "bad_image" (the reject log counts each kind apart)
    detail: str  # one line, for the log or the console


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, flags: int = cv2.IMREAD_COLOR,
                 limit_name: str = "") -> tuple[np.ndarray | None, Rejection | None]:
    """(image, None), or (None, why not) for an image over `max_pixels` (`limit_name`, the option
    or key that sets it, goes into the line), one the decoder cannot read, or one it reports as
    damaged."""
    try:
        header = read_header(data)
    except MalformedHeader as exc:
        return None, Rejection("undecodable", str(exc))
    if header is not None:
        problem = size_problem(header.width, header.height, max_pixels, limit_name)
        if problem:
            return None, Rejection("too_many_pixels", problem)
    try:
        image, said = capture_stderr(lambda: cv2.imdecode(np.frombuffer(data, np.uint8), flags))
    except cv2.error as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else "OpenCV error"
        if "CV_IO_MAX_IMAGE" in message:  # OpenCV's backstop, for formats we do not measure first
            return None, Rejection("too_many_pixels", f"over OpenCV's own size limit: {message}")
        return None, Rejection("undecodable", message)
    for line in said:
        log.debug("decoder: %s", line)
    warning = next((line for line in said if LIBJPEG_WARNING.match(line)), None)
    if warning is not None and image is not None:
        return None, Rejection("corrupt", f"damaged JPEG data (libjpeg: {warning})")
    if image is None:
        return None, Rejection("undecodable", said[-1] if said else "the decoder cannot read it")
    if header is None:  # decoded under OpenCV's backstop only: the limit applies now
        problem = size_problem(image.shape[1], image.shape[0], max_pixels, limit_name)
        if problem:
            return None, Rejection("too_many_pixels", problem)
    return image, None


def capture_stderr(call: Callable[[], T]) -> tuple[T, list[str]]:
    """call()'s result and the decoder lines written to file descriptor 2 while it ran; lines that
    are not a decoder's are written back to stderr. Where descriptor 2 cannot be captured (closed,
    no scratch file), call() runs as is and its lines go where they would have gone."""
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()  # Python's own buffered text is written before, not into, the capture
        except (AttributeError, OSError, ValueError):
            pass
        try:
            saved = os.dup(2)
        except OSError:
            return call(), []
        try:
            scratch = _scratch_file()
        except OSError:
            os.close(saved)
            return call(), []
        try:
            os.dup2(scratch, 2)
            try:
                result = call()
            finally:
                os.dup2(saved, 2)
            text = _read_all(scratch)
        finally:
            os.close(scratch)
            os.close(saved)
    ours, others = [], []
    for line in text.splitlines():
        if line.strip():
            (ours if DECODER_LINE.match(line) else others).append(line)
    if others:
        try:
            os.write(2, ("\n".join(others) + "\n").encode("utf-8", "replace"))
        except OSError:
            pass  # stderr on a full disk or gone: the lines would have been lost there too
    return result, ours


def _scratch_file() -> int:
    if hasattr(os, "memfd_create"):
        return os.memfd_create("edge-captioner-decoder-stderr", os.MFD_CLOEXEC)
    fd, path = tempfile.mkstemp(prefix="edge-captioner-stderr-")
    os.unlink(path)
    return fd


def _read_all(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")
