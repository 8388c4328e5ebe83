"""`edge-captioner-convert evaluate-facts BUNDLE [--split held_out] [--all-frames]`: a facts bundle
on the real photos and real clip frames of tests/data/real_photos.json and real_clips.json.

The splits (docs/real-photos.md): `tune` (thresholds and prompts are tuned on it), `held_out`
(version 1's report half), `fresh` (version 2: 63 photos labelled after the held-out results were
seen and before any model ran on them; photos only, no clip frames; for measuring only, never
tuned on) and `all` (every labelled image, fresh included).

For each image it runs the bundle as the device does (`Captioner.caption`), reads the published
caption back (scene/read.py) and scores it against the hand labels (score.py): images whose
caption states a kind, count or posture that is not there, per-kind precision and recall, counts
of 4-9 people within one, "lying" said wrongly, and how often the decoder's sentence had to be
replaced by the canonical one. --all-frames also captions every frame of every clip, for the
faithfulness and fallback figures (no labels needed). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass

from edge_captioner.errors import EXIT_OK, BadInput
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.evidence import facts_vector
from edge_captioner.scene.read import read
from edge_captioner.scene.support import supported

from .score import Score, add_image

log = logging.getLogger(__name__)


def _kinds(captioner: Captioner, labelled: list[str]) -> list[str]:
    return [k for k in captioner.evidence_spec.kinds if k in labelled]


def free_sentence(captioner: Captioner, facts) -> str:
    """What the decoder writes for these facts with its search left unconstrained."""
    vector = facts_vector(facts, captioner.evidence_spec)
    return captioner.bundle.vocab.decode(captioner.search(vector)[0].tokens)


def score_frames(captioner: Captioner, frames, labels: dict, kinds: list[str]) -> tuple[Score, list]:
    score, rows = Score(), []
    lang = captioner.bundle.language
    for name, frame in frames:
        result = captioner.caption(frame)
        stated = read(result.text, lang)
        add_image(score, name, result.facts, stated, labels[name], kinds, result.fallback)
        free = free_sentence(captioner, result.facts)
        score.free_unsupported += not supported(free, result.facts, lang)
        rows.append({"name": name, "caption": result.text, "fallback": result.fallback,
                     "free_decoder": free, "found": dict(result.facts.counts),
                     "labelled": labels[name].get("counts", {})})
    return score, rows


_POSTURE_WORDS = ("standing", "sitting", "lying", "other", "unclear")


def _clip_label(frame: dict) -> dict:
    """A clip frame's label as a photo's: its posture note as a list of people ("everyone
    standing or walking": that many standing; "man standing (on the box), woman other (jumping)":
    one posture per comma-separated part)."""
    label = dict(frame)
    people = frame.get("counts", {}).get("person", 0)
    high = people[1] if isinstance(people, list) else people
    note = str(frame.get("posture", ""))
    if note.startswith("everyone standing"):
        label["persons"] = [{"posture": "standing"}] * high
    else:
        label["persons"] = [{"posture": word} for part in note.split(",")
                            for word in part.split() if word in _POSTURE_WORDS]
    return label


def facts_captioner(bundle: str) -> Captioner:
    """The bundle's captioner (all threads: a workstation); BadInput unless a facts bundle."""
    captioner = Captioner(bundle, threads=None)
    if not captioner.facts_bundle:
        raise BadInput(f"{bundle}: not a facts bundle (its manifest's evidence type)")
    return captioner


@dataclass
class Labelled:
    """The labelled real photos and clip frames of one split: each image's name -> its label
    (a clip frame's as a photo's: `_clip_label`), and the kinds the labels count."""
    kinds: list[str]
    photos: dict[str, dict]
    clip_frames: dict[str, dict]  # "clip#index" -> label
    clips: dict[str, list[int]]  # clip -> its labelled frame indices, in order
    clip_lengths: dict[str, int]  # clip -> how many frames it has

    def photo_images(self):
        """(name, BGR frame) of each labelled photo."""
        from conversion.pretrained import real_photos

        return real_photos.load_real_photos(list(self.photos))

    def clip_images(self):
        """("clip#index", BGR frame) of each labelled clip frame."""
        from conversion.pretrained import real_photos

        for clip, indices in self.clips.items():
            for i, frame in real_photos.clip_frames(clip, indices):
                yield f"{clip}#{i}", frame


SPLITS = ("tune", "held_out", "fresh", "all")


def labelled(split: str) -> Labelled:
    """tune, held_out, fresh or all of tests/data/real_photos.json and real_clips.json (fresh
    has photos only: the clips' frames are all tune or held_out)."""
    from conversion.pretrained import real_photos

    if split not in SPLITS:
        raise BadInput(f"no split {split!r} in the real-photo labels (one of {', '.join(SPLITS)})")
    photo_doc = json.loads(real_photos.PHOTO_LABELS.read_text(encoding="utf-8"))
    clip_doc = json.loads(real_photos.CLIP_LABELS.read_text(encoding="utf-8"))
    frames = [f for f in clip_doc.get("frames", []) if split in ("all", f.get("split"))]
    clips = {clip: sorted(f["frame"] for f in frames if f["clip"] == clip)
             for clip in dict.fromkeys(f["clip"] for f in frames)}
    return Labelled(
        kinds=photo_doc["info"]["kinds"],
        photos={im["name"]: im for im in photo_doc["images"] if split in ("all", im.get("split"))},
        clip_frames={f"{f['clip']}#{f['frame']}": _clip_label(f) for f in frames},
        clips=clips,
        clip_lengths={clip: entry["frames"] for clip, entry in clip_doc["info"]["clips"].items()})


def cmd_evaluate_facts(args: argparse.Namespace) -> int:
    from conversion.pretrained import real_photos

    captioner = facts_captioner(args.bundle)
    data = labelled(args.split)
    labelled_kinds = _kinds(captioner, data.kinds)
    started = time.perf_counter()
    photo_score, photo_rows = score_frames(captioner, data.photo_images(), data.photos,
                                           labelled_kinds)
    report = {"bundle": captioner.bundle.name, "split": args.split,
              "photos": photo_score.to_json()}
    clip_score, clip_rows = score_frames(captioner, data.clip_images(), data.clip_frames,
                                         labelled_kinds)
    report["clip_frames"] = clip_score.to_json()
    if args.all_frames:
        total = fallbacks = unsupported = free_unsupported = 0
        lang = captioner.bundle.language
        for clip, length in data.clip_lengths.items():
            for _, frame in real_photos.clip_frames(clip, list(range(length))):
                result = captioner.caption(frame)
                total += 1
                fallbacks += int(result.fallback)
                unsupported += int(not supported(result.text, result.facts, lang))
                free_unsupported += int(not supported(free_sentence(captioner, result.facts),
                                                      result.facts, lang))
        report["all_clip_frames"] = {"frames": total, "fallbacks": fallbacks,
                                     "published_unsupported": unsupported,
                                     "free_decoder_unsupported": free_unsupported}
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.rows:
        report["rows"] = photo_rows + clip_rows
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return EXIT_OK
