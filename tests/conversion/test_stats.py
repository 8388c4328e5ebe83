"""`edge-captioner-convert stats`: the report (pure and printed), --json keys and the exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conversion.cli import main
from conversion.datasets.load import load_dataset
from conversion.datasets.stats import dataset_stats, histogram, length_stats
from support.datasets import ITEMS, ZH_ITEMS, write_dataset, write_synthetic
from support.paths import REPO

JSON_KEYS = {"name", "format", "root", "languages", "images", "captions", "missing_images",
             "vocabulary", "caption_length", "scenes"}

SCENES = [
    {"place": "front_door", "lighting": "day", "n_objects": 1,
     "objects": [{"kind": "person", "colour": "red", "count": 1, "where": "door",
                  "pose": "standing", "boxes": []}]},
    {"place": "living_room", "lighting": "night", "n_objects": 3,
     "objects": [{"kind": "cat", "colour": "black", "count": 2, "where": "sofa",
                  "pose": "lying", "boxes": []},
                 {"kind": "person", "colour": "blue", "count": 1, "where": "floor",
                  "pose": "standing", "boxes": []}]},
]
EN = [("a.jpg", ["a person in red at the door", "someone at the front door"]),
      ("b.jpg", ["two black cats on the sofa and a person"])]


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    return write_synthetic(tmp_path / "synth", EN, ZH_ITEMS, SCENES)


def test_dataset_stats_of_a_synthetic_set(synthetic: Path) -> None:
    stats = dataset_stats(load_dataset(synthetic))
    assert set(stats) == JSON_KEYS
    assert (stats["format"], stats["name"], stats["languages"]) == ("coco", "synth", ["en", "zh"])
    assert stats["images"] == {"total": 2, "by_split": {"none": 2}}
    assert stats["captions"]["en"] == {"total": 3, "per_image": {"min": 1, "mean": 1.5, "max": 2}}
    assert stats["captions"]["zh"]["total"] == 3
    assert stats["missing_images"] == {"count": 0, "first": []}
    en_vocab = stats["vocabulary"]["en"]
    assert en_vocab["unit"] == "word" and en_vocab["min_count"] == 3
    # "a" 2x + "person" 2x + "at" 2x, "the" 3x ... only "the" reaches 3
    assert en_vocab["at_min_count"] == 1
    assert en_vocab["seen"] == len({w for _, caps in EN for c in caps for w in c.split()})
    assert stats["vocabulary"]["zh"]["unit"] == "char"
    lengths = stats["caption_length"]["en"]
    assert (lengths["min"], lengths["max"], lengths["median"]) == (5, 9, 7.0)
    assert sum(b["count"] for b in lengths["histogram"]) == 3
    # zh is per character, punctuation dropped: "门口有一个人。" is 6 tokens
    assert stats["caption_length"]["zh"]["min"] == 6
    assert stats["scenes"] == {
        "images": 2,
        "places": {"front_door": 1, "living_room": 1},
        "lighting": {"day": 1, "night": 1},
        "object_kinds": {"person": 2, "cat": 2},
        "objects_per_image": {"1": 1, "3": 1},
    }


def test_stats_per_split_and_no_scenes(tmp_path: Path) -> None:
    splits = {ITEMS[0][0]: "train", ITEMS[1][0]: "test"}
    write_dataset(tmp_path, "flickr8k", ITEMS, splits)
    stats = dataset_stats(load_dataset(tmp_path))
    assert stats["images"]["by_split"] == {"train": 1, "test": 1, "none": 1}
    assert stats["scenes"] is None


def test_histogram_and_length_stats() -> None:
    assert histogram([3, 3, 4]) == [{"from": 3, "to": 3, "count": 2},
                                    {"from": 4, "to": 4, "count": 1}]
    bins = histogram(list(range(1, 26)))
    assert len(bins) <= 10 and sum(b["count"] for b in bins) == 25
    assert (bins[0]["from"], bins[-1]["to"]) == (1, 25)  # the last bin stops at the maximum
    assert length_stats([])["histogram"] == []
    assert length_stats([1, 2, 3, 4])["median"] == 2.5


def test_cli_stats_human_report(synthetic: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(synthetic)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "synth" in out and "coco" in out
    assert "missing    none" in out
    assert "caption length, zh (chars)" in out
    assert "front_door 1" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_cli_stats_json(synthetic: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(synthetic), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert set(stats) == JSON_KEYS
    assert stats["images"]["total"] == 2
    assert set(stats["caption_length"]["en"]) == {"min", "mean", "median", "p95", "max",
                                                  "histogram"}
    assert set(stats["vocabulary"]["zh"]) == {"unit", "seen", "min_count", "at_min_count"}


def test_cli_stats_missing_images_exit_2_after_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = write_dataset(tmp_path, "coco", ITEMS, skip_images=[ITEMS[1][0], ITEMS[2][0]])
    assert main(["stats", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert "missing    2 of 3 image files" in out
    image = tmp_path / "train2014" / ITEMS[1][0]
    assert f"{image}  (declared at {ann}:" in out
    assert err.count("\n") == 1
    source = load_dataset(tmp_path).images[1].source
    assert f"{source}: 2 of 3 images missing, first: {image}" in err

    assert main(["stats", str(tmp_path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["missing_images"]["count"] == 2
    assert err.count("\n") == 1


def test_cli_stats_bad_annotations_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "captions_train2014.json").write_text('{"images": [\n', encoding="utf-8")
    assert main(["stats", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "captions_train2014.json:2: invalid JSON" in err


def test_real_subprocess_missing_images(tmp_path: Path) -> None:
    write_dataset(tmp_path, "flickr30k-csv", ITEMS, skip_images=[ITEMS[0][0]])
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                    os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "conversion.cli", "stats", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "results.csv:2: 1 of 3 images missing" in proc.stderr
    assert "missing    1 of 3 image files" in proc.stdout
