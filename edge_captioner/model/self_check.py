"""A bundle's self-check: at load, this runtime on this CPU must compute what it computed when
the bundle was built.

A TFLite runtime can compute wrongly without an error: under an emulated Arm CPU with SME,
ai-edge-litert 2.3 turns every caption into "an the the the ..." (issue 21). A bundle with a
real-world encoder therefore carries a reference image and what the device should make of it: the
caption and the detector's objects with their scores. The Captioner runs it once at load; a
different caption, a missing object, or a score off by more than the tolerance is refused with
exit 2 and one line. The bundle's files have passed their hashes by then, so a failure points at
the runtime or the CPU, and the line says so.
"""

from __future__ import annotations

from pathlib import Path

from ..bundle.sections import SelfCheck
from ..errors import BadInput


def read_image(path: Path):
    import cv2
    import numpy as np

    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    frame = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if frame is None:
        raise BadInput(f"{path}: the self-check image is not a readable image")
    return frame


def record(captioner, image: str, tolerance: float = 0.1,
           source: str | None = None) -> SelfCheck:
    """The manifest entry: what this captioner (a freshly converted bundle) makes of `image`."""
    result = captioner.caption(read_image(captioner.bundle.path / image), beam_size=1)
    objects = result.findings.objects if result.findings is not None else []
    return SelfCheck(image=image, caption=result.text,
                     objects=tuple((o.label, round(o.score, 4)) for o in objects),
                     tolerance=tolerance, source=source)


def verify(captioner, check: SelfCheck) -> None:
    """BadInput (exit 2) when this machine does not reproduce the bundle's own result."""
    bundle = captioner.bundle
    result = captioner.caption(read_image(bundle.path / check.image), beam_size=1)
    found = [(o.label, o.score) for o in (result.findings.objects if result.findings else [])]
    problem = None
    if result.text != check.caption:
        problem = f"captions {check.image} {result.text[:60]!r}, not {check.caption!r}"
    else:
        for label, score in check.objects:
            near = [s for other, s in found if other == label and abs(s - score) <= check.tolerance]
            if not near:
                problem = (f"finds no {label} scored {score:.2f} (+-{check.tolerance}) in "
                           f"{check.image}: {found[:4]}")
                break
    if problem is not None:
        runtime = captioner.model.runtime
        version = getattr(runtime.module, "__version__", None) or _version(runtime.name)
        raise BadInput(f"{bundle.path}: self-check failed: this machine {problem}; the bundle's "
                       f"files match their hashes, so the TFLite runtime ({runtime.name} "
                       f"{version}) computes wrongly on this CPU: try model.runtime "
                       "tflite_runtime, or another version of the runtime")


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return "(version unknown)"
