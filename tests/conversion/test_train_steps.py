"""The steps of `train` (conversion/render_model/) one by one, on a fake data set of four images (no
image files, no training), and the tables of backbone and decoder types they build from."""

import numpy as np
import pytest

from conversion.cli import build_parser
from conversion.datasets.entries import ImageEntry
from conversion.datasets.training_data import TrainingData
from conversion.render_model.plan import build_vocab, caption_mode_for, check_output_dir, plan_new_run
from edge_captioner.errors import BadInput

pytestmark = pytest.mark.slow  # the network's types import TensorFlow

CAPTIONS = ["a cat on the porch", "two cats on the porch", "a dog in the garden",
            "a cat and a dog in the garden at night"]
SCENES = [
    {"place": "porch", "objects": [{"kind": "cat", "count": 1}]},
    {"place": "porch", "objects": [{"kind": "cat", "count": 2}]},
    {"place": "garden", "objects": [{"kind": "dog", "count": 1}]},
    {"place": "garden", "objects": [{"kind": "cat", "count": 1}, {"kind": "dog", "count": 1}]},
]


def fake_data(tmp_path, scenes=True) -> TrainingData:
    entries = [ImageEntry(str(k), f"{k}.jpg", tmp_path / f"{k}.jpg", "train", {"en": [c]},
                          SCENES[k] if scenes else None) for k, c in enumerate(CAPTIONS)]
    return TrainingData(np.zeros((4, 8, 8, 3), np.uint8), [[c] for c in CAPTIONS], entries,
                        np.array([False, False, False, True]))  # the last one validates


def train_args(tmp_path, *options):
    return build_parser().parse_args(["train", str(tmp_path / "data"), str(tmp_path / "out"),
                                      *options])


def test_the_vocabulary_and_length_come_from_the_training_captions_only(tmp_path):
    vocab, max_length = build_vocab(train_args(tmp_path, "--min-count", "1"), fake_data(tmp_path))
    assert "garden" in vocab.tokens and "night" not in vocab.tokens  # "night": validation only
    assert max_length == 7  # "two cats on the porch" and "a dog in the garden": 5 words + 2
    _, given = build_vocab(train_args(tmp_path, "--max-length", "4"), fake_data(tmp_path))
    assert given == 4


@pytest.mark.tensorflow
def test_a_new_run_reads_the_scene_heads_only_when_asked_and_possible(tmp_path):
    plan = plan_new_run(train_args(tmp_path, "--min-count", "1"), fake_data(tmp_path), None)
    assert plan.scene.kinds == ["cat", "dog"] and plan.scene.places == ["garden", "porch"]
    assert plan.scene_weight == 0.5 and plan.config.scene_input is None  # training-only heads
    assert plan.config.vocab_size == len(plan.vocab) and plan.config.max_length == 7
    plan = plan_new_run(train_args(tmp_path, "--scene-input"), fake_data(tmp_path), None)
    assert plan.config.scene_input == [2, 3, 2]  # kinds, counts 0..2, places
    plan = plan_new_run(train_args(tmp_path), fake_data(tmp_path, scenes=False), None)
    assert plan.scene is None and plan.scene_weight == 0.0
    with pytest.raises(BadInput, match="--scene-input needs"):
        plan_new_run(train_args(tmp_path, "--scene-input"), fake_data(tmp_path, scenes=False), None)
    with pytest.raises(BadInput, match="--scene-only needs"):
        plan_new_run(train_args(tmp_path, "--scene-only"), fake_data(tmp_path, scenes=False), None)
    # a frozen CNN trains no heads, and keeps those its --init-from model's decoder read
    plan = plan_new_run(train_args(tmp_path, "--freeze-backbone", "--init-from", "base"),
                        fake_data(tmp_path), [6, 4, 5])
    assert plan.scene is None and plan.config.scene_input == [6, 4, 5]


def test_the_output_directory_decides_whether_a_run_resumes(tmp_path):
    with pytest.raises(BadInput, match="pick one"):
        check_output_dir(train_args(tmp_path, "--scene-only", "--freeze-backbone"))
    assert check_output_dir(train_args(tmp_path)) is False  # OUT does not exist yet
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "train.log").write_text("")
    with pytest.raises(BadInput, match="not empty"):
        check_output_dir(train_args(tmp_path))
    assert check_output_dir(train_args(tmp_path, "--resume")) is False  # no checkpoint yet
    (tmp_path / "out" / "checkpoint.keras").write_text("")
    assert check_output_dir(train_args(tmp_path, "--resume")) is True
    assert check_output_dir(train_args(tmp_path, "--force")) is False


def test_auto_captions_are_canonical_on_a_synthetic_set(tmp_path):
    class Data:
        images = fake_data(tmp_path).entries

    assert caption_mode_for(Data, "auto") == "canonical"
    Data.images = fake_data(tmp_path, scenes=False).entries
    assert caption_mode_for(Data, "auto") == "all"
    assert caption_mode_for(Data, "canonical") == "canonical"


@pytest.mark.tensorflow
def test_each_registered_type_is_the_class_of_that_name():
    from conversion.network.backbones import BACKBONES, IMAGE_BACKBONES, backbone_class
    from conversion.network.decoders import DECODERS, decoder_class

    assert [backbone_class(name).name for name in BACKBONES] == list(BACKBONES)
    assert [decoder_class(name).name for name in DECODERS] == list(DECODERS)
    assert set(IMAGE_BACKBONES) == set(BACKBONES) - {"evidence"}
    with pytest.raises(ValueError, match="unknown decoder 'lstm'"):
        decoder_class("lstm")
    with pytest.raises(ValueError, match="unknown backbone"):
        backbone_class("resnet")


@pytest.mark.tensorflow
def test_a_config_names_only_registered_types_and_pairs_that_fit():
    from conversion.network.model import CaptionNetwork, NetworkConfig

    with pytest.raises(ValueError, match="unknown decoder"):
        NetworkConfig(vocab_size=9, decoder="lstm")
    with pytest.raises(ValueError, match="unknown backbone"):
        NetworkConfig(vocab_size=9, backbone="resnet")
    with pytest.raises(ValueError, match="no spatial map for the attention decoder"):
        CaptionNetwork(NetworkConfig(vocab_size=9, backbone="evidence", evidence_dim=12,
                                     decoder="attention"))
    grounded = CaptionNetwork(NetworkConfig(vocab_size=9, max_length=5, backbone="evidence",
                                            evidence_dim=12, feature_dim=8, units=8,
                                            embedding_dim=4))
    assert not grounded.mirrorable and grounded.grid is None
    assert [t.name for t in grounded.training_model.inputs] == ["evidence", "tokens"]
    with pytest.raises(ValueError, match="Show-and-Tell model on the small CNN"):
        grounded.export_models(mirror=True)
