"""conversion.datasets loaders: every supported format round-trips through real files, and bad
annotations give BadInput naming FILE:LINE.

The data sets are written by support/datasets.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversion.datasets.load import detect_format, load_dataset
from conversion.datasets.stats import dataset_stats
from edge_captioner.errors import BadInput
from support.datasets import (
    ITEMS,
    ZH_ITEMS,
    coco_doc,
    write_annotations,
    write_dataset,
    write_jpeg,
    write_json,
    write_synthetic,
    write_text,
)


def as_items(ds) -> list[tuple[str, list[str]]]:
    return [(e.file_name, e.captions["en"]) for e in ds.images]


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


# -- round trips -------------------------------------------------------------------------------
def test_coco_round_trip(tmp_path: Path) -> None:
    ann = write_dataset(tmp_path, "coco", ITEMS)
    for path in (tmp_path, tmp_path / "annotations", ann):
        ds = load_dataset(path)
        assert (ds.format, ds.root, ds.languages) == ("coco", ann.parent, ["en"])
        assert as_items(ds) == ITEMS
        assert [e.image_id for e in ds.images] == ["100", "101", "102"]
        assert {e.split for e in ds.images} == {"train"}
        assert [e.path for e in ds.images] == [tmp_path / "train2014" / n for n, _ in ITEMS]
        assert ds.missing_images() == []
        assert ds.images[1].source == f"{ann}:{line_of(ann, ITEMS[1][0])}"
        assert ds.name == tmp_path.name  # "annotations" says nothing


def test_flickr8k_round_trip_with_splits(tmp_path: Path) -> None:
    splits = {ITEMS[0][0]: "train", ITEMS[1][0]: "val"}  # the third is in no split file
    ann = write_dataset(tmp_path, "flickr8k", ITEMS, splits)
    ds = load_dataset(tmp_path)
    assert ds.format == "flickr8k" and ds.root == ann.parent
    assert as_items(ds) == ITEMS
    assert [e.image_id for e in ds.images] == [Path(n).stem for n, _ in ITEMS]
    assert [e.split for e in ds.images] == ["train", "val", None]
    assert [e.path for e in ds.images] == [tmp_path / "Flicker8k_Dataset" / n for n, _ in ITEMS]
    assert [e.image_id for e in ds.split("val")] == [Path(ITEMS[1][0]).stem]
    assert ds.images[2].source == f"{ann}:4"  # the third image's first caption line
    assert ds.missing_images() == []


def test_flickr8k_prefers_token_over_lemma_file(tmp_path: Path) -> None:
    ann = write_dataset(tmp_path, "flickr8k", ITEMS)
    write_text(ann.parent / "Flickr8k.lemma.token.txt", ["x.jpg#0\tlemma"])
    assert as_items(load_dataset(tmp_path)) == ITEMS


def test_flickr30k_token_round_trip(tmp_path: Path) -> None:
    write_dataset(tmp_path, "flickr30k", ITEMS)
    ds = load_dataset(tmp_path)
    assert ds.format == "flickr30k"
    assert as_items(ds) == ITEMS
    assert {e.split for e in ds.images} == {None}
    assert [e.path for e in ds.images] == [tmp_path / "flickr30k_images" / n for n, _ in ITEMS]
    assert ds.missing_images() == []


def test_flickr30k_csv_round_trip_kaggle_layout(tmp_path: Path) -> None:
    ann = write_dataset(tmp_path, "flickr30k-csv", ITEMS)
    for path in (tmp_path, ann):
        ds = load_dataset(path)
        assert ds.format == "flickr30k"
        assert as_items(ds) == ITEMS
        assert ds.missing_images() == []
        assert ds.images[0].path == tmp_path / "flickr30k_images" / "flickr30k_images" / ITEMS[0][0]
        assert ds.images[1].source == f"{ann}:4"  # after the header and 2 captions


def test_karpathy_coco_round_trip(tmp_path: Path) -> None:
    splits = {ITEMS[0][0]: "test", ITEMS[1][0]: "restval", ITEMS[2][0]: "val"}
    ann = write_dataset(tmp_path, "karpathy", ITEMS, splits)
    ds = load_dataset(tmp_path)
    assert (ds.format, ds.name, ds.root) == ("karpathy", "coco", tmp_path)
    assert as_items(ds) == ITEMS
    assert [e.image_id for e in ds.images] == ["5000", "5001", "5002"]  # cocoid
    assert [e.split for e in ds.images] == ["test", "restval", "val"]
    assert [e.path for e in ds.images] == [tmp_path / "val2014" / n for n, _ in ITEMS]
    assert ds.missing_images() == []
    assert ds.images[2].source == f"{ann}:{line_of(ann, ITEMS[2][0])}"


def test_karpathy_flickr8k_round_trip_and_tokens_fallback(tmp_path: Path) -> None:
    ann = write_dataset(tmp_path, "karpathy-flickr8k", ITEMS)
    ds = load_dataset(ann)
    assert as_items(ds) == ITEMS
    assert [e.image_id for e in ds.images] == ["0", "1", "2"]  # imgid
    assert [e.path for e in ds.images] == [tmp_path / "Flicker8k_Dataset" / n for n, _ in ITEMS]
    doc = json.loads(ann.read_text(encoding="utf-8"))
    for image in doc["images"]:
        for sentence in image["sentences"]:
            del sentence["raw"]
    write_json(ann, doc)
    assert load_dataset(ann).images[0].captions["en"][0] == "a child in a pink dress ."


def test_coco_two_language_files_merge_into_one_entry(tmp_path: Path) -> None:
    scenes = [{"place": "front_door", "lighting": "day", "n_objects": 1,
               "objects": [{"kind": "person", "count": 1}]},
              {"place": "living_room", "lighting": "night", "n_objects": 2,
               "objects": [{"kind": "cat", "count": 2}]}]
    items_en = [("a.jpg", ["a person at the door"]), ("b.jpg", ["two cats in the living room"])]
    write_synthetic(tmp_path, items_en, ZH_ITEMS, scenes)
    ds = load_dataset(tmp_path)
    assert ds.format == "coco" and ds.languages == ["en", "zh"]
    assert len(ds.images) == 2
    for entry, (_, en), (_, zh), scene in zip(ds.images, items_en, ZH_ITEMS, scenes, strict=True):
        assert entry.captions == {"en": en, "zh": zh}
        assert entry.scene == scene
        assert entry.split is None
        assert entry.path == tmp_path / "images" / entry.file_name
    assert ds.missing_images() == []


def test_coco_files_with_different_ids_add_up(tmp_path: Path) -> None:
    write_json(tmp_path / "captions_train2017.json", coco_doc(ITEMS[:2], first_id=1))
    write_json(tmp_path / "captions_val2017.json", coco_doc(ITEMS[2:], first_id=10))
    ds = load_dataset(tmp_path)
    assert [(e.image_id, e.split) for e in ds.images] == [("1", "train"), ("2", "train"),
                                                          ("10", "val")]


def test_coco_chinese_detected_per_caption(tmp_path: Path) -> None:
    items = [*ZH_ITEMS, ("c.jpg", ["a cat on the sofa", "沙发上有一只猫"])]
    ann = write_json(tmp_path / "captions_val2014.json", coco_doc(items))
    ds = load_dataset(ann)
    assert ds.languages == ["en", "zh"]
    assert [e.captions for e in ds.images] == [
        {"zh": ZH_ITEMS[0][1]}, {"zh": ZH_ITEMS[1][1]},
        {"en": ["a cat on the sofa"], "zh": ["沙发上有一只猫"]},
    ]
    assert {e.split for e in ds.images} == {"val"}


def test_info_language_wins_over_detection(tmp_path: Path) -> None:
    ann = write_json(tmp_path / "captions_x.json", coco_doc([("a.jpg", ["SUV"])], language="zh"))
    assert load_dataset(ann).images[0].captions == {"zh": ["SUV"]}


def test_images_dir_argument_and_missing_images(tmp_path: Path) -> None:
    write_dataset(tmp_path, "coco", ITEMS, skip_images=[ITEMS[1][0]])
    elsewhere = tmp_path / "elsewhere"
    write_jpeg(elsewhere / ITEMS[0][0])
    ds = load_dataset(tmp_path, images_dir=elsewhere)
    assert [e.path for e in ds.images] == [elsewhere / n for n, _ in ITEMS]
    assert [e.file_name for e in ds.missing_images()] == [ITEMS[1][0], ITEMS[2][0]]
    # Without --images the usual folder is found; only the skipped image is missing.
    assert [e.file_name for e in load_dataset(tmp_path).missing_images()] == [ITEMS[1][0]]


def test_json_with_another_name_is_classified_by_content(tmp_path: Path) -> None:
    coco = write_json(tmp_path / "mine.json", coco_doc(ITEMS))
    assert detect_format(coco).format == "coco"
    assert as_items(load_dataset(coco)) == ITEMS
    karpathy = write_annotations(tmp_path / "k", "karpathy", ITEMS).rename(tmp_path / "k.json")
    assert detect_format(karpathy).format == "karpathy"
    with pytest.raises(BadInput, match=r"other\.json:1: neither a COCO"):
        load_dataset(write_json(tmp_path / "other.json", {"hello": 1}))


# -- errors ------------------------------------------------------------------------------------
def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    ann = tmp_path / "captions_train2014.json"
    text = json.dumps(coco_doc(ITEMS), indent=2)
    ann.write_text(text.replace('"caption": "Kid"', '"caption": "Kid",'), encoding="utf-8")
    with pytest.raises(BadInput) as exc:
        load_dataset(tmp_path)
    line = line_of(ann, '"Kid",') + 1  # the parser notices at the closing brace
    assert str(exc.value).startswith(f"{ann}:{line}: invalid JSON")


def test_token_line_without_tab(tmp_path: Path) -> None:
    ann = write_dataset(tmp_path, "flickr8k", ITEMS)
    lines = ann.read_text(encoding="utf-8").split("\n")
    lines[3] = lines[3].replace("\t", " ")
    ann.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(BadInput, match=rf"^{re.escape(str(ann))}:4: .*no TAB"):
        load_dataset(tmp_path)


def test_token_line_without_caption_number(tmp_path: Path) -> None:
    ann = write_text(tmp_path / "Flickr8k.token.txt", ["a.jpg#0\tfine", "b.jpg\tno number"])
    with pytest.raises(BadInput, match=rf"^{re.escape(str(ann))}:2: expected 'IMAGE#N'"):
        load_dataset(ann)


def test_token_empty_caption(tmp_path: Path) -> None:
    ann = write_text(tmp_path / "results_20130124.token", ["a.jpg#0\tfine", "", "a.jpg#1\t  "])
    with pytest.raises(BadInput, match=rf"^{re.escape(str(ann))}:3: empty caption for a\.jpg"):
        load_dataset(tmp_path)


def test_coco_empty_caption_line(tmp_path: Path) -> None:
    items = [ITEMS[0], ("x.jpg", ["fine", " "])]
    ann = write_json(tmp_path / "captions_val2014.json", coco_doc(items))
    with pytest.raises(BadInput) as exc:
        load_dataset(ann)
    line = line_of(ann, '"caption": " "')
    assert str(exc.value).startswith(f"{ann}:{line}: ")
    assert "empty caption" in str(exc.value)


def test_karpathy_empty_caption_line(tmp_path: Path) -> None:
    ann = write_annotations(tmp_path, "karpathy", [ITEMS[0], ("x.jpg", ["fine", ""])])
    with pytest.raises(BadInput) as exc:
        load_dataset(ann)
    line = line_of(ann, '"raw": ""')
    assert str(exc.value).startswith(f"{ann}:{line}: ")
    assert "x.jpg" in str(exc.value) and "empty caption" in str(exc.value)


def test_csv_missing_comment_is_an_empty_caption(tmp_path: Path) -> None:
    # The real results.csv has exactly this line.
    ann = write_text(tmp_path / "results.csv", [
        "image_name| comment_number| comment",
        "1.jpg| 0| fine",
        "2199200615.jpg| 4   A dog runs across the grass .",
    ])
    with pytest.raises(BadInput, match=rf"^{re.escape(str(ann))}:3: empty caption for 2199"):
        load_dataset(ann)


def test_csv_wrong_number_of_fields(tmp_path: Path) -> None:
    ann = write_text(tmp_path / "results.csv", ["image_name| comment_number| comment",
                                                "1.jpg| 0| a| b"])
    with pytest.raises(BadInput, match=rf"^{re.escape(str(ann))}:2: expected 3 .*got 4"):
        load_dataset(tmp_path)


def test_annotation_for_unknown_image(tmp_path: Path) -> None:
    doc = coco_doc(ITEMS)
    doc["annotations"][4]["image_id"] = 999
    ann = write_json(tmp_path / "captions_train2014.json", doc)
    with pytest.raises(BadInput) as exc:
        load_dataset(ann)
    line = line_of(ann, '"image_id": 999')
    assert str(exc.value).startswith(f"{ann}:{line}: ")
    assert "image_id 999 is not in 'images'" in str(exc.value)


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    ann = write_json(tmp_path / "captions_train2014.json", {"images": []})
    with pytest.raises(BadInput, match=r"captions_train2014\.json:1: missing key 'annotations'"):
        load_dataset(ann)
    doc = coco_doc(ITEMS)
    del doc["images"][1]["file_name"]
    write_json(ann, doc)
    with pytest.raises(BadInput, match=r"images\[1\]: missing key 'file_name'"):
        load_dataset(ann)


def test_same_id_different_file_names_across_files(tmp_path: Path) -> None:
    write_json(tmp_path / "captions_en.json", coco_doc([("a.jpg", ["x"])], 0, "en"))
    write_json(tmp_path / "captions_zh.json", coco_doc([("b.jpg", ["猫"])], 0, "zh"))
    with pytest.raises(BadInput, match=r"captions_zh\.json:\d+: image id 0 is 'b\.jpg' here"):
        load_dataset(tmp_path)


def test_directory_with_nothing_recognisable(tmp_path: Path) -> None:
    write_text(tmp_path / "notes.txt", ["hello"])
    with pytest.raises(BadInput) as exc:
        load_dataset(tmp_path)
    message = str(exc.value)
    assert message.startswith(f"{tmp_path}: no caption data set found")
    for looked_for in ("captions_*.json", "dataset_*.json", "Flickr8k.token.txt",
                       "results_20130124.token", "results.csv"):
        assert looked_for in message


def test_directory_with_two_kinds_is_ambiguous(tmp_path: Path) -> None:
    write_dataset(tmp_path, "coco", ITEMS)
    write_dataset(tmp_path, "karpathy", ITEMS)
    with pytest.raises(BadInput, match="several data sets found"):
        load_dataset(tmp_path)


def test_missing_path_unknown_file_not_utf8_and_bad_images_dir(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file or directory"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(BadInput, match="not a recognised caption data set file"):
        load_dataset(write_text(tmp_path / "notes.txt", ["x"]))
    bad = tmp_path / "Flickr8k.token.txt"
    bad.write_bytes(b"a.jpg#0\tok\nb.jpg#0\t\xff\xfe\n")
    with pytest.raises(BadInput, match=r"Flickr8k\.token\.txt:2: not UTF-8"):
        load_dataset(bad)
    with pytest.raises(BadInput, match="image directory does not exist"):
        load_dataset(write_dataset(tmp_path / "d", "coco", ITEMS), images_dir=tmp_path / "none")


# -- arbitrary input ---------------------------------------------------------------------------
ANNOTATION_NAMES = ("captions_train2014.json", "dataset_coco.json", "Flickr8k.token.txt",
                    "results.csv")


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(ANNOTATION_NAMES),
    data=st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=st.sampled_from('{}[]":,#|\t\n 0123abc.jpg门'), max_size=200)
        .map(lambda s: s.encode()),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["images", "annotations", "id", "image_id",
                                                "caption", "file_name", "sentences", "raw",
                                                "filename", "info", "language"]),
                              inner, max_size=4),
            max_leaves=20,
        ).map(lambda doc: json.dumps(doc).encode()),
    ),
)
def test_arbitrary_bytes_load_or_bad_input(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        ds = load_dataset(path)
    except BadInput as exc:
        assert str(exc).startswith(str(path))
        return
    dataset_stats(ds)  # the report copes with whatever loaded
    assert ds.format in ("coco", "karpathy", "flickr8k", "flickr30k")
