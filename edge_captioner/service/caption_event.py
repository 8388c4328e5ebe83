"""What a camera publishes and when: the `CaptionEvent` (whose `payload()` is the MQTT JSON, in
one place) and the pure `publish_rule` the worker applies to every frame.

Publishing rule (docs/contract.md): a caption is published when its text changes, and the last one
is re-published at least every heartbeat_s; an unchanged scene is not re-captioned at all, so a
static scene costs a thumbnail difference per frame and nothing else. Two pure functions decide,
each asked at most once per frame: `frame_action` (from the gate's reason: run the model, repeat
the last caption, or nothing) and `publish_rule` (for a captioned frame: published, withheld,
unchanged or superseded by a pool member's newer caption).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from .gate import GateReason

if TYPE_CHECKING:  # the integration is optional: a caption only carries its event
    from ..frigate.events import FrigateEvent


class ReportedFindings(Protocol):
    """What the bundle's detector and classifier found (`model.perception.Findings`)."""

    def to_json(self) -> dict: ...


# -- what is published ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptionEvent:
    """A camera's caption (or, with `withheld`, one not sure enough to be its caption)."""

    camera: str
    caption: str
    confidence: float  # 0..1
    language: str
    timestamp: datetime  # when the frame was taken
    model: str
    latency_ms: float
    seq: int  # numbers the camera's published captions; a withheld one keeps the last one's
    findings: ReportedFindings | None = None  # what the bundle's detector and classifier found
    truncated: bool = False  # cut at the length limit: it may end mid-phrase
    withheld: str | None = None  # why it is not the camera's caption
    frame_id: str | None = None  # the frame's id as its sender gave it (MQTT sources)
    frigate: FrigateEvent | None = None  # the Frigate event whose snapshot this is
    worker: str | None = None  # the pool member that captioned it (`workers.member_id`)

    def payload(self) -> dict:
        """The MQTT JSON payload (docs/contract.md): this key order and rounding are the wire format."""
        payload = {
            "camera": self.camera,
            "caption": self.caption,
            "confidence": round(float(self.confidence), 4),
            "language": self.language,
            "timestamp": self.timestamp.astimezone(UTC).isoformat(timespec="milliseconds"),
            "model": self.model,
            "latency_ms": round(self.latency_ms, 1),
            "seq": self.seq,
        }
        if self.findings is not None:
            # as in `caption --json`; Home Assistant shows it among the caption sensor's attributes
            payload["found"] = self.findings.to_json()
        if self.truncated:
            payload["truncated"] = True
        if self.withheld is not None:
            payload["withheld"] = self.withheld
        if self.frame_id is not None:
            payload["frame_id"] = self.frame_id
        if self.frigate is not None:
            payload["frigate"] = self.frigate.caption_fields()
        if self.worker is not None:
            payload["worker"] = self.worker
        return payload


def withheld_reason(confidence: float, min_confidence: float) -> str:
    # from the confidence as the payload rounds it, so that the reason agrees with the payload
    return (f"confidence {round(float(confidence), 4):.2f} is below min_confidence "
            f"{min_confidence:.2f}")


# -- the publishing rule -------------------------------------------------------------------------
@dataclass(frozen=True)
class CameraSoFar:
    """What the camera has published, as far as its worker knows: its own captions, or in a pool
    (pool.py) the newest any member published."""

    last_caption: str | None  # the text last published (None before the first)
    since_publish_s: float  # since the last caption or heartbeat went out (inf before the first)
    pooled: bool = False  # in a pool the last caption may be of a newer frame than the next one
    newer_published: bool = False  # in a pool: a caption of a NEWER frame than this one is out


class Outcome(enum.StrEnum):
    # before the model (frame_action)
    RUN_MODEL = "run_model"  # caption the frame, then ask publish_rule
    REPEAT_LAST = "repeat_last"  # the gate's heartbeat: the last caption again, without the model
    TOO_SOON = "too_soon"  # within interval_s of the last caption: nothing
    UNCHANGED = "unchanged"  # the scene, or the caption, is unchanged: nothing (and counted)
    # after the model (publish_rule)
    SUPERSEDED = "superseded"  # a pool member published a newer frame's caption first: nothing
    WITHHELD = "withheld"  # under min_confidence: to the withheld topic, not the camera's caption
    CHANGED = "changed"  # published: a new text (or the camera's first caption)
    FORCED = "forced"  # published: caption_now asked for it
    HEARTBEAT = "heartbeat"  # published: the same text, but heartbeat_s have passed


PUBLISHED = (Outcome.CHANGED, Outcome.FORCED, Outcome.HEARTBEAT)


def frame_action(reason: GateReason, so_far: CameraSoFar) -> Outcome:
    """Whether a frame is captioned, given the gate's `reason` for it: RUN_MODEL, REPEAT_LAST
    (the heartbeat, without the model), or nothing (TOO_SOON, UNCHANGED)."""
    if reason is GateReason.UNCHANGED:
        return Outcome.UNCHANGED
    if reason is GateReason.TOO_SOON:
        return Outcome.TOO_SOON
    if reason is GateReason.HEARTBEAT and so_far.last_caption is not None and not so_far.pooled:
        # in a pool the camera's last caption may be another member's, of a newer frame than
        # ours: the frame is captioned rather than an older text repeated
        return Outcome.REPEAT_LAST
    return Outcome.RUN_MODEL


def publish_rule(reason: GateReason, so_far: CameraSoFar, caption: str, confidence: float,
                 min_confidence: float, heartbeat_s: float) -> Outcome:
    """What becomes of a frame's caption, asked once for each captioned frame: published
    (CHANGED, FORCED, HEARTBEAT), WITHHELD, UNCHANGED, or SUPERSEDED (pool.py)."""
    if so_far.newer_published:
        return Outcome.SUPERSEDED
    if confidence < min_confidence:
        return Outcome.WITHHELD
    if so_far.last_caption is None or caption != so_far.last_caption:
        return Outcome.CHANGED
    if reason is GateReason.FORCED:
        return Outcome.FORCED
    # A scene that keeps moving without changing its caption resets the gate's heartbeat clock at
    # every run: the heartbeat then comes from here.
    if so_far.since_publish_s >= heartbeat_s:
        return Outcome.HEARTBEAT
    return Outcome.UNCHANGED
