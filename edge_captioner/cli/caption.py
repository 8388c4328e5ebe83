"""`edge-captioner caption PATH...`: caption images and videos from the command line.

Images are read with OpenCV (sources/image_decode.py); anything OpenCV cannot read as an image is
tried as a video (the first frame, or every Nth frame with --every N). A directory is walked
(sorted, recursively). Files that cannot be read are reported on stderr, one line each, and
skipped; the others are still captioned, and the exit code is 2 at the end. So are images over
--max-pixels (by their header: nothing is decoded; a larger file than such an image can be is not
even read), videos whose frames are (by the size the capture reports on opening, then frame by
frame), and images whose data the decoder reports as damaged (libjpeg's "Corrupt JPEG data"):
their line names the file, and the decoder's own line is not printed.

--explain: for a bundle with an attention decoder, the strongest attention cell and its region for
every word (`cat@(r3,c0) lower-left`), on a line after the caption, or as an "attention" list in
the JSON (null for a bundle without attention, which -v says once on stderr). For a bundle with
real-world graphs (a perception section), --explain also prints what they found, and --json always
includes it as "found": the detector's objects (label, score, box as fractions of the frame) and
the classifier's top classes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ..config.checks import valid_place
from ..errors import EXIT_BAD_INPUT, EXIT_OK
from ..model.captioner import Captioner
from ..model.explain import explain_words, format_explanation
from ..model.perception import Findings
from ..sources.frames import reported_size_problem
from ..sources.image_decode import decode_image
from ..sources.image_header import DEFAULT_MAX_PIXELS, size_problem
from ..sources.spec import is_image_file, is_video_file
from .support import one_line

log = logging.getLogger(__name__)

LIMIT_OPTION = "--max-pixels"
# The costliest image file of a given size: 16-bit RGBA, 8 bytes a pixel, uncompressed.
MAX_FILE_BYTES_PER_PIXEL = 8
FILE_HEADROOM_BYTES = 1 << 20  # metadata, an embedded thumbnail


class Unreadable(Exception):
    pass


def read_image(path: Path, max_pixels: int) -> np.ndarray | None:
    """An image file as a BGR uint8 frame; None when it is not an image OpenCV can read (maybe a
    video); Unreadable for one that is too large or damaged."""
    try:
        size = path.stat().st_size
        if size > max_pixels * MAX_FILE_BYTES_PER_PIXEL + FILE_HEADROOM_BYTES:
            raise Unreadable(f"{size} bytes: larger than an image of {max_pixels} pixels can be "
                             f"({LIMIT_OPTION})")
        data = path.read_bytes()
    except OSError as exc:
        raise Unreadable(exc.strerror or str(exc)) from None
    if not data:
        return None
    # IMREAD_COLOR: 8-bit BGR whatever the file holds (3 bytes a pixel, however deep the file is);
    # the EXIF orientation is ignored, as it always was here (IMREAD_UNCHANGED ignores it too).
    image, rejection = decode_image(data, max_pixels, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION,
                                    limit_name=LIMIT_OPTION)
    if rejection is None:
        return image
    if rejection.kind == "undecodable":
        if is_image_file(path.name):
            raise Unreadable(f"not a readable image ({rejection.detail})")
        return None
    raise Unreadable(rejection.detail)


def expand_paths(paths: list[str]) -> Iterator[Path]:
    """Files as given; directories walked for images and videos, sorted."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and (is_image_file(child.name) or is_video_file(child.name)):
                    yield child
        else:
            yield path


def frames_of(path: Path, every: int | None, max_pixels: int = DEFAULT_MAX_PIXELS
              ) -> Iterator[tuple[int | None, float | None, np.ndarray]]:
    """(frame number, seconds, frame) for an image (None, None, frame) or a video."""
    if not path.exists():
        raise Unreadable("no such file")
    if not path.is_file():
        raise Unreadable("not a file")
    if not is_video_file(path.name):
        # from bytes, not imread: imread's failure cannot tell "unreadable" from "empty"
        frame = read_image(path, max_pixels)
        if frame is not None:
            yield None, None, frame
            return
        if is_image_file(path.name):
            raise Unreadable("not a readable image (empty)")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise Unreadable("neither an image nor a video OpenCV can read")
        # FFmpeg decodes the frames, not us: what it says their size is, before one is read
        problem = reported_size_problem(capture, max_pixels, LIMIT_OPTION)
        if problem:
            raise Unreadable(f"video frames of {problem}")
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        index, yielded = 0, 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            problem = size_problem(frame.shape[1], frame.shape[0], max_pixels, LIMIT_OPTION)
            if problem:
                raise Unreadable(f"video frame {index} of {problem}")
            if index == 0 or (every and index % every == 0):
                yielded += 1
                yield index, (index / fps if fps else None), frame
                if not every:
                    break
            index += 1
        if not yielded:
            raise Unreadable("video has no readable frame")
    finally:
        capture.release()


def format_findings(findings: Findings) -> str:
    """`person 0.76 [0.12,0.05,0.64,1.00] standing, cat 0.61 [...] (classifier: tabby), dog 0.6
    [...] (classifier: hare; not said); classes: Egyptian cat 0.78, ...`"""
    objects = ", ".join(f"{o.label} {o.score:.2f} [{','.join(f'{v:.2f}' for v in o.box)}]"
                        + (f" {o.posture}" if o.posture else "")
                        + (f" (classifier: {o.classified}{'; not said' if o.kind is None else ''})"
                           if o.classified else "")
                        for o in findings.objects) or "no objects"
    classes = ", ".join(f"{name} {p:.2f}" for name, p in findings.classes)
    return f"{objects}; classes: {classes}" if classes else objects


def cmd_caption(args: argparse.Namespace) -> int:
    # a camera's `place` tried out: the configuration's check, before the bundle loads
    place = None if args.place is None else valid_place(args.place, "--place")
    captioner = Captioner(args.bundle, runtime=args.runtime, threads=args.threads,
                          delegate=args.delegate, fallback_cpu=args.fallback == "cpu",
                          beam_size=args.beam)
    explain = getattr(args, "explain", False)
    if explain and not captioner.model.has_attention:
        # not news for most bundles (the shipped ones explain with what they found): -v only
        log.info("%s: a %s bundle has no attention to explain", captioner.bundle.name,
                 captioner.model.wiring.type)
    tokens = captioner.bundle.vocab.tokens
    failures = 0
    for path in expand_paths(args.paths):
        try:
            for frame_no, seconds, frame in frames_of(path, args.every, args.max_pixels):
                result = captioner.caption(frame, place)
                # the attention's time is not part of the caption's latency_ms
                attention = captioner.attention(frame, result.tokens) if explain else None
                words = (explain_words([tokens[t] for t in result.tokens], attention)
                         if attention is not None else None)
                if args.json:
                    record = {
                        "file": str(path),
                        "caption": result.text,
                        "confidence": round(result.confidence, 4),
                        "language": captioner.bundle.language,
                        "model": captioner.bundle.name,
                        "latency_ms": round(result.latency_ms, 2),
                    }
                    if frame_no is not None:
                        record["frame"] = frame_no
                        record["time_s"] = None if seconds is None else round(seconds, 3)
                    if explain:
                        record["attention"] = words
                    if result.findings is not None:
                        record["found"] = result.findings.to_json()
                    if result.truncated:
                        record["truncated"] = True
                    print(json.dumps(record, ensure_ascii=False), flush=True)
                else:
                    where = str(path) if frame_no is None else f"{path}@{frame_no}"
                    print(f"{where}: {result.text}", flush=True)
                    if words is not None:
                        print(f"  attention: {format_explanation(words)}", flush=True)
                    if explain and result.findings is not None:
                        print(f"  found: {format_findings(result.findings)}", flush=True)
        except Unreadable as exc:
            failures += 1
            print(f"edge-captioner: error: {path}: {one_line(exc)}", file=sys.stderr, flush=True)
    if failures:
        log.info("%d file(s) could not be read", failures)  # each has said so in its line
        return EXIT_BAD_INPUT
    return EXIT_OK
