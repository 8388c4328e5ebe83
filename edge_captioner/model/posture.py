"""A person's posture from 17 COCO keypoints: "standing", "sitting", "lying" or None (unsure).

Pure geometry, no model. Precision first: a caption may only say a posture the keypoints show
plainly, and "lying" least readily of all (a caption saying a person lies on the floor is an
alarm). So each posture asks for the joints it is read from to be confident and inside the
frame, and anything between the postures (a person bending down, crouching, leaning back) is
None rather than a guess. In image coordinates y grows downwards; lengths are in units of the
frame's height (x fractions are scaled by the frame's aspect ratio) so angles are true ones.

A fall is more than one frame of "lying" (docs: people lie on sofas, sit on floors): this
function says what one frame shows; deciding an alarm from a sequence is not its business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pose import KEYPOINTS

_K = {name: i for i, name in enumerate(KEYPOINTS)}
SHOULDERS = (_K["left_shoulder"], _K["right_shoulder"])
HIPS = (_K["left_hip"], _K["right_hip"])
KNEES = (_K["left_knee"], _K["right_knee"])
ANKLES = (_K["left_ankle"], _K["right_ankle"])
HEAD = tuple(_K[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
POSTURES = ("standing", "sitting", "lying")


@dataclass(frozen=True)
class PostureRules:
    """The thresholds (docs/pose.md): written before looking at any output; the hanging-shin rule
    for sitting added after a tuning photo, the sure-whole-leg rule for lying after photos turned
    90 degrees (a proxy); no threshold chosen on the held-out confusion table."""
    keypoint: float = 0.3  # a keypoint counts when its score is at least this
    min_keypoints: int = 8  # fewer confident keypoints: too little of the body seen
    upright: float = 30.0  # torso within this many degrees of vertical: upright
    # standing: a thigh within this many degrees of vertical, the knee at least this many torso
    # lengths below the hip (a thigh pointing at the camera looks short: sitting)
    thigh_vertical: float = 35.0
    knee_drop: float = 0.55
    # sitting: the knee at most this many torso lengths below the hip
    sit_knee_drop: float = 0.35
    shin_vertical: float = 40.0  # sitting: a seen shin within this many degrees of vertical
    # lying: torso at least this many degrees from vertical, every confident keypoint within
    # this fraction of the body's horizontal extent vertically, the box this much wider than high
    lying_torso: float = 65.0
    lying_flatness: float = 0.45
    lying_box: float = 1.3
    # lying: one whole leg (hip, knee and ankle of one side) at least this sure: on photos turned
    # 90 degrees, head-and-shoulders portraits read as lying on legs guessed at 0.3 past the
    # frame's edge
    lying_leg: float = 0.4


RULES = PostureRules()


def _mean(xy: np.ndarray, ok: np.ndarray, idx: tuple[int, ...]) -> np.ndarray | None:
    pick = [i for i in idx if ok[i]]
    return xy[pick].mean(axis=0) if pick else None


def _degrees_from_vertical(v: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(abs(v[0]), abs(v[1]))))


def posture(xy, scores, box, aspect: float = 1.0,
            rules: PostureRules = RULES) -> str | None:
    """xy [17, 2] (x, y as fractions of the frame), scores [17], box (x1, y1, x2, y2 fractions of
    the frame) the person's box, aspect the frame's width / height -> "standing" | "sitting" |
    "lying" | None. Never raises on odd numbers (NaN, out-of-frame points: not confident)."""
    try:
        xy = np.asarray(xy, np.float64).reshape(len(KEYPOINTS), 2)
        scores = np.asarray(scores, np.float64).reshape(len(KEYPOINTS))
        x1, y1, x2, y2 = (float(v) for v in box)
        aspect = float(aspect)
    except (TypeError, ValueError):
        return None
    # no camera frame is a million times wider than tall: such an aspect would only overflow
    if not (np.isfinite(aspect) and 1e-6 < aspect < 1e6 and all(np.isfinite([x1, y1, x2, y2]))):
        return None
    inside = np.all(np.isfinite(xy) & (xy >= 0.0) & (xy <= 1.0), axis=1)
    ok = inside & np.isfinite(scores) & (scores >= rules.keypoint)
    if int(ok.sum()) < rules.min_keypoints:
        return None
    pts = xy * np.array([aspect, 1.0])  # both axes in frame heights
    shoulder, hip = _mean(pts, ok, SHOULDERS), _mean(pts, ok, HIPS)
    if shoulder is None or hip is None:
        return None  # no torso: nothing to read a posture from
    torso = shoulder - hip
    length = float(np.hypot(*torso))
    if length <= 1e-6:
        return None
    tilt = _degrees_from_vertical(torso)
    box_w, box_h = (x2 - x1) * aspect, y2 - y1

    if tilt >= rules.lying_torso:
        # Lying: the whole body flat, not just the torso (bending down to the floor tilts the
        # torso as much, but the legs stand: the body's vertical extent gives it away), a whole
        # leg seen surely, and a box wider than high.
        sure = ok & (scores >= rules.lying_leg)
        legs = [side for side in zip(HIPS, KNEES, ANKLES, strict=True) if sure[list(side)].all()]
        body = pts[ok]
        extent_x = float(np.ptp(body[:, 0]))
        extent_y = float(np.ptp(body[:, 1]))
        if (legs and extent_x > 0 and extent_y <= rules.lying_flatness * extent_x
                and box_h > 0 and box_w >= rules.lying_box * box_h):
            return "lying"
        return None
    if tilt > rules.upright or torso[1] >= 0:
        return None  # leaning, bending, or shoulders below the hips: unsure

    # Upright torso: the thighs decide. Per leg with a confident hip and knee (its own hip).
    drops, angles = [], []
    for hip_i, knee_i in zip(HIPS, KNEES, strict=True):
        if ok[hip_i] and ok[knee_i]:
            thigh = pts[knee_i] - pts[hip_i]
            drops.append(float(thigh[1]) / length)
            angles.append(_degrees_from_vertical(thigh) if thigh[1] > 0 else 90.0)
    if not drops:
        return None  # knees not seen (cut off, behind a table): unsure
    ankles_ok = any(ok[i] for i in ANKLES)
    if (all(d >= rules.knee_drop for d in drops) and all(a <= rules.thigh_vertical for a in angles)
            and ankles_ok and box_h > box_w):
        # ankles below the knees too: a standing person's whole leg is seen
        knee = _mean(pts, ok, KNEES)
        ankle = _mean(pts, ok, ANKLES)
        if knee is not None and ankle is not None and ankle[1] > knee[1]:
            return "standing"
        return None
    if all(d <= rules.sit_knee_drop for d in drops) and _shins_hang(pts, ok, rules):
        return "sitting"
    return None


def _shins_hang(pts: np.ndarray, ok: np.ndarray, rules: PostureRules) -> bool:
    """At least one leg's knee and ankle are seen, and every such leg has its ankle below the knee
    and the shin near vertical: a seated person's feet are under the knees, while a lunge or a
    kick (a knee as high as the hip, like sitting) stretches a leg out sideways. A football
    player's kick read as sitting while his ankles were not confident: so no ankle, no sitting
    (a person behind a table stays None)."""
    seen = 0
    for knee_i, ankle_i in zip(KNEES, ANKLES, strict=True):
        if ok[knee_i] and ok[ankle_i]:
            seen += 1
            shin = pts[ankle_i] - pts[knee_i]
            if shin[1] <= 0 or _degrees_from_vertical(shin) > rules.shin_vertical:
                return False
    return seen > 0
