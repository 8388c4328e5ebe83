"""What a camera publishes and when: the `CaptionEvent` (whose `payload()` is the MQTT JSON, in
one place) and the pure `publish_rule` the worker applies to every frame.

Publishing rule (docs/contract.md): a caption is published when its text changes, and the last one
is re-published at least every heartbeat_s; an unchanged scene is not re-captioned at all, so a
static scene costs a thumbnail difference per frame and nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class ReportedFindings(Protocol):
    """What the bundle's detector and classifier found (`perception.Findings`)."""

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
    frigate: dict | None = None  # the Frigate event whose snapshot this is (frigate.caption_fields)
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
            payload["frigate"] = self.frigate
        if self.worker is not None:
            payload["worker"] = self.worker
        return payload


def withheld_reason(confidence: float, min_confidence: float) -> str:
    # from the confidence as the payload rounds it, so that the reason agrees with the payload
    return (f"confidence {round(float(confidence), 4):.2f} is below min_confidence "
            f"{min_confidence:.2f}")


# -- the publishing rule -------------------------------------------------------------------------
class Outcome(enum.StrEnum):
    RUN_MODEL = "run_model"  # caption the frame, then ask again with its caption
    REPEAT_LAST = "repeat_last"  # the gate's heartbeat: the last caption again, without the model
    TOO_SOON = "too_soon"  # within interval_s of the last caption: nothing
    UNCHANGED = "unchanged"  # the scene, or the caption, is unchanged: nothing (and counted)
    WITHHELD = "withheld"  # under min_confidence: to the withheld topic, not the camera's caption
    CHANGED = "changed"  # published: a new text (or the camera's first caption)
    FORCED = "forced"  # published: caption_now asked for it
    HEARTBEAT = "heartbeat"  # published: the same text, but heartbeat_s have passed


PUBLISHED = (Outcome.CHANGED, Outcome.FORCED, Outcome.HEARTBEAT)


def publish_rule(reason: str, last_caption: str | None, caption: str | None, confidence: float,
                 min_confidence: float, since_publish_s: float, heartbeat_s: float) -> Outcome:
    """What to do with a frame, given the gate's `reason` (gate.GateDecision) for it.

    `caption` is None until the model has run on the frame (RUN_MODEL asks for it); `last_caption`
    is the text last published for the camera (None before the first); `since_publish_s` is the
    time since the last caption or heartbeat went out (infinite before the first)."""
    if reason == "unchanged":
        return Outcome.UNCHANGED
    if reason == "too_soon":
        return Outcome.TOO_SOON
    if caption is None:
        if reason == "heartbeat" and last_caption is not None:
            return Outcome.REPEAT_LAST
        return Outcome.RUN_MODEL
    if confidence < min_confidence:
        return Outcome.WITHHELD
    if last_caption is None or caption != last_caption:
        return Outcome.CHANGED
    if reason == "forced":
        return Outcome.FORCED
    # A scene that keeps moving without changing its caption resets the gate's heartbeat clock at
    # every run: the heartbeat then comes from here.
    if since_publish_s >= heartbeat_s:
        return Outcome.HEARTBEAT
    return Outcome.UNCHANGED
