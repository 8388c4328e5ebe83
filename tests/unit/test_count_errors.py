"""benchmarks/count_errors.py: the occlusion share and the per-group bookkeeping (pure code)."""

import importlib.util

import pytest

from support.paths import BENCHMARKS

_spec = importlib.util.spec_from_file_location(
    "count_errors", BENCHMARKS / "count_errors.py")
count_errors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(count_errors)


def test_only_what_stands_in_front_covers():
    box = [10, 10, 20, 20]  # base line at y = 30
    in_front = [20, 15, 20, 20]  # base at 35: in front, covers the right half below y = 15
    behind = [0, 0, 40, 25]  # base at 25: behind, covers nothing however large
    assert count_errors.covered_share(box, [behind]) == 0.0
    assert count_errors.covered_share(box, [in_front]) == pytest.approx(0.5 * 15 / 20)


def test_missed_and_miscounted_groups_by_scene_size():
    scenes = {
        "1": {"place": "backyard", "lighting": "day", "n_objects": 3, "objects": [
            {"kind": "cat", "count": 2, "where": "lawn", "pose": "sitting",
             "colour": "grey", "boxes": [[0, 0, 10, 10], [30, 0, 10, 10]]},
            {"kind": "dog", "count": 1, "where": "lawn", "pose": "sitting",
             "colour": "grey", "boxes": [[60, 0, 10, 10]]}]},
        "2": {"place": "backyard", "lighting": "night", "n_objects": 1, "objects": [
            {"kind": "dog", "count": 1, "where": "lawn", "pose": "sitting",
             "colour": "grey", "boxes": [[0, 0, 10, 10]]}]},
    }
    captions = {"1": "a grey cat on the lawn", "2": "a grey dog on the lawn"}
    result = count_errors.breakdown(count_errors.group_rows(captions, scenes, "en"))
    assert (result["groups"], result["missed"], result["miscounted"]) == (3, 1, 1)
    assert result["objects in scene"]["3"] == {"groups": 2, "wrong": 2, "share": 1.0}
    assert result["objects in scene"]["1"]["wrong"] == 0
    assert result["lighting"]["night"]["share"] == 0.0
