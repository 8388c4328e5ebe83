"""Pure helpers of `train`: the scene heads' targets (render_model.scene_targets, from the synthetic scene
records), the flip augmentation (datasets.training_data.flip_half) and the decoder's caption length
(datasets.training_data.caption_length_limit)."""

from pathlib import Path

import numpy as np

from conversion.datasets.entries import ImageEntry
from conversion.datasets.training_data import MAX_CAPTION_TOKENS, caption_length_limit
from conversion.render_model.scene_targets import scene_targets


def entry(n: int, scene: dict | None) -> ImageEntry:
    return ImageEntry(str(n), f"{n}.jpg", Path(f"{n}.jpg"), None, {"en": ["x"]}, scene)


def scene(place: str, *groups: tuple[str, int]) -> dict:
    return {"place": place, "lighting": "day", "n_objects": sum(c for _, c in groups),
            "objects": [{"kind": k, "colour": "red", "count": c, "where": "porch", "pose": "standing",
                         "boxes": []} for k, c in groups]}


def test_counts_per_kind_and_place():
    entries = [entry(1, scene("porch", ("cat", 2), ("person", 1))), entry(2, scene("kitchen")),
               entry(3, scene("porch", ("dog", 3)))]
    targets = scene_targets(entries)
    assert targets.kinds == ["cat", "dog", "person"]
    assert targets.places == ["kitchen", "porch"]
    assert targets.count_classes == 4  # 0..3
    np.testing.assert_array_equal(targets.counts, [[2, 0, 1], [0, 0, 0], [0, 3, 0]])
    np.testing.assert_array_equal(targets.place, [1, 0, 1])


def test_no_targets_unless_every_image_has_a_record():
    assert scene_targets([entry(1, scene("porch", ("cat", 1))), entry(2, None)]) is None
    assert scene_targets([]) is None


def test_a_resumed_run_keeps_its_classes():
    """The kinds, places and count classes of the first run, even if this data differs (a resumed
    run must rebuild the same heads to load its checkpoint)."""
    known = {"kinds": ["cat", "dog"], "places": ["kitchen", "porch"], "count_classes": 3}
    targets = scene_targets([entry(1, scene("porch", ("dog", 5), ("car", 1)))], known)
    assert targets.describe() == known
    np.testing.assert_array_equal(targets.counts, [[0, 2]])  # capped at the last class; car unknown
    np.testing.assert_array_equal(targets.place, [1])


def test_flip_half_mirrors_about_half_of_a_batch_and_nothing_else():
    from conversion.datasets.training_data import flip_half

    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (400, 6, 5, 3), dtype=np.uint8)
    original = batch.copy()
    out = flip_half(batch, np.random.default_rng(1))
    mirrored = np.array([np.array_equal(o, x[:, ::-1]) for o, x in zip(out, original,
                                                                        strict=True)])
    kept = np.array([np.array_equal(o, x) for o, x in zip(out, original, strict=True)])
    assert (mirrored | kept).all()  # each image is itself or its left-right mirror
    assert 150 < mirrored.sum() < 250
    # the same generator state mirrors the same images (training is deterministic for a seed)
    again = flip_half(original.copy(), np.random.default_rng(1))
    np.testing.assert_array_equal(again, out)


def test_caption_length_keeps_the_rare_long_captions():
    # 98% short captions and 2% long ones (the Chinese three-group scenes): a percentile rule cut
    # the long ones, which are the busy scenes the count metric fails on
    lengths = [20] * 980 + [33, 36, 39, 42] * 5
    assert caption_length_limit(lengths) == 42
    assert caption_length_limit([7, 9, 8]) == 9


def test_caption_length_is_capped_for_run_on_captions():
    assert caption_length_limit([12] * 99 + [200]) == MAX_CAPTION_TOKENS


def test_scene_details_say_each_kinds_colour_and_spot_and_the_lighting():
    """What --scene-only's extra heads learn: class 0 where the kind is absent."""
    from conversion.render_model.scene_targets import scene_details

    night = scene("porch", ("cat", 2))
    night["lighting"] = "night"
    night["objects"][0]["colour"] = "black"
    entries = [entry(1, scene("porch", ("dog", 1))), entry(2, night)]
    details = scene_details(entries, ["cat", "dog"])
    assert details.describe() == {"colours": ["black", "red"], "wheres": ["porch"],
                                  "lightings": ["day", "night"]}
    np.testing.assert_array_equal(details.colour, [[0, 2], [1, 0]])
    np.testing.assert_array_equal(details.where, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(details.lighting, [0, 1])
    # a resumed run keeps its names; one it does not know counts as absent
    known = {"colours": ["red"], "wheres": ["porch"], "lightings": ["night"]}
    again = scene_details(entries, ["cat", "dog"], known)
    np.testing.assert_array_equal(again.colour, [[0, 1], [0, 0]])
    np.testing.assert_array_equal(again.lighting, [0, 0])


def test_scene_only_accuracy_scores_counts_per_present_group():
    from conversion.render_model.scene_targets import scene_only_accuracy

    targets = {"scene_counts": np.array([[2, 0], [0, 1]]), "scene_place": np.array([1, 0]),
               "scene_colour": np.array([[3, 0], [0, 1]])}

    def one_hot(classes, n):
        return np.eye(n)[classes]

    outputs = {"scene_counts": one_hot(np.array([[2, 1], [0, 3]]), 4),  # 1 of 2 groups right
               "scene_place": one_hot(np.array([1, 1]), 2),
               "scene_colour": one_hot(np.array([[3, 2], [0, 1]]), 4)}
    figures = scene_only_accuracy(outputs, targets)
    # a wrong count of an ABSENT kind does not count against "groups" (evaluate's count
    # accuracy scores the groups the image has; CHAIR-i catches invented ones)
    assert figures == {"groups": 0.5, "colour": 1.0, "place": 0.5}
