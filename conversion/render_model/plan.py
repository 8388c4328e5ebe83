"""What a `train` run trains (`RunPlan`): decided from the command line for a new run
(`plan_new_run`, with `build_vocab`), read back from OUT for a resumed one (`plan_resumed_run`), and
written to OUT's config.json and vocab.txt (`write_run_config`), which `convert` rebuilds from."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conversion.datasets.entries import CaptionDataset
from conversion.datasets.tokenizer import DEFAULT_MIN_COUNT, build_vocabulary
from conversion.datasets.training_data import TrainingData, caption_length_limit
from edge_captioner.bundle.vocab import Vocabulary
from edge_captioner.errors import BadInput

from .scene_targets import SceneDetails, SceneTargets, scene_details, scene_targets

if TYPE_CHECKING:
    from conversion.network.model import NetworkConfig

log = logging.getLogger(__name__)


@dataclass
class RunPlan:
    """What a run trains: decided from the command line for a new run, read back from OUT's
    config.json and vocab.txt for a resumed one (so that its checkpoint loads)."""
    config: NetworkConfig
    vocab: Vocabulary
    scene: SceneTargets | None  # the scene heads' targets, None: no scene heads
    scene_weight: float  # their loss weight
    scene_only: bool  # the CNN and scene heads alone, no caption decoder (--scene-only)
    details: SceneDetails | None  # a --scene-only run's extra heads' targets
    augment: str  # flip | none


def check_output_dir(args: argparse.Namespace) -> bool:
    """Refuse contradicting options and a non-empty OUT that the run may not continue or replace;
    True when the run resumes from OUT's checkpoint."""
    out = Path(args.out)
    if args.scene_only and args.freeze_backbone:
        raise BadInput("--scene-only trains the CNN, --freeze-backbone freezes it: pick one")
    if out.is_dir() and any(out.iterdir()) and not (args.resume or args.force):
        raise BadInput(f"{out}: directory is not empty (use --resume to continue, --force to "
                       "start over)")
    return args.resume and (out / "checkpoint.keras").is_file()


def caption_mode_for(ds: CaptionDataset, requested: str) -> str:
    """`--captions auto`: canonical for a synthetic set (it has scene records), all otherwise."""
    if requested != "auto":
        return requested
    return "canonical" if any(e.scene for e in ds.images[:50]) else "all"


def take_backbone_shape(args: argparse.Namespace) -> list[int] | None:
    """`--init-from MODEL`: the backbone comes from another trained model, so its image size,
    backbone and feature size are set on `args`; returns the scene_input a frozen-backbone run
    keeps (the scene heads read the CNN's feature: with a frozen CNN, keep the base's heads)."""
    base = read_train_config(Path(args.init_from))["model"]
    for key in ("image_size", "backbone", "width", "feature_dim"):
        setattr(args, key, base[key])
    return base.get("scene_input") if args.freeze_backbone else None


def plan_resumed_run(out: Path, data: TrainingData) -> RunPlan:
    """The plan of the run that wrote OUT: its vocabulary, network and scene heads (same kinds,
    places and classes), so that its checkpoint loads."""
    from conversion.network.model import NetworkConfig

    saved = json.loads((out / "config.json").read_text())
    supervision = saved.get("scene_supervision")
    scene = scene_targets(data.entries, supervision) if supervision else None
    scene_only = bool(saved.get("scene_only"))
    return RunPlan(
        config=NetworkConfig(**saved["model"]),
        vocab=Vocabulary.load(out / "vocab.txt"),
        scene=scene,
        scene_weight=supervision["weight"] if supervision else 0.0,
        scene_only=scene_only,
        details=(scene_details(data.entries, scene.kinds, supervision["details"])
                 if scene_only else None),
        augment=saved.get("augment", "none"),  # as the first run did
    )


def build_vocab(args: argparse.Namespace, data: TrainingData) -> tuple[Vocabulary, int]:
    """The vocabulary of the training captions and the decoder's max_length for them."""
    train_caps = [c for c, v in zip(data.captions, data.is_val, strict=True) if not v]
    min_count = args.min_count or DEFAULT_MIN_COUNT[args.lang]
    vocab = build_vocabulary([c for caps in train_caps for c in caps], args.lang, min_count)
    lengths = [len(vocab.encode(c)) for caps in train_caps for c in caps]
    max_length = args.max_length or caption_length_limit(lengths)
    cut = sum(n > max_length for n in lengths)
    if cut:
        log.info("%d of %d training captions are longer than %d tokens and are cut", cut,
                 len(lengths), max_length)
    return vocab, max_length


def plan_new_run(args: argparse.Namespace, data: TrainingData,
                 inherited_scene_input: list[int] | None) -> RunPlan:
    """The network and scene heads that the command line asks for, on this data."""
    from conversion.network.model import NetworkConfig

    vocab, max_length = build_vocab(args, data)
    config = NetworkConfig(
        vocab_size=len(vocab), image_size=args.image_size, max_length=max_length,
        embedding_dim=args.embedding_dim, units=args.units, feature_dim=args.feature_dim,
        backbone=args.backbone, backbone_weights=args.backbone_weights, width=args.width,
        decoder=args.decoder, attention_dim=args.attention_dim,
    )
    # Scene heads only where the CNN trains and the data set has scene records (synthetic).
    scene_weight = 0.0 if args.freeze_backbone else args.scene_loss
    scene = scene_targets(data.entries) if scene_weight else None
    scene_only = args.scene_only
    if scene_only and scene is None:
        raise BadInput("--scene-only needs a data set with scene records (synthetic) and a "
                       "--scene-loss above 0")
    details = scene_details(data.entries, scene.kinds) if scene_only else None
    if scene_weight and scene is None:
        log.info("no scene records in %s: training without the scene heads", args.data)
        scene_weight = 0.0
    if args.init_from and args.freeze_backbone:
        config.scene_input = inherited_scene_input
    elif args.scene_input or scene_only:
        # a --scene-only CNN is for decoders that read its heads (train --init-from it)
        if scene is None:
            raise BadInput("--scene-input needs a data set with scene records (synthetic) "
                           "and a --scene-loss above 0")
        config.scene_input = [len(scene.kinds), scene.count_classes, len(scene.places)]
    return RunPlan(config, vocab, scene, scene_weight, scene_only, details, args.augment)


def write_run_config(out: Path, plan: RunPlan, args: argparse.Namespace,
                     caption_mode: str) -> None:
    """OUT/vocab.txt and OUT/config.json: what `convert` and a resumed run rebuild from."""
    scene, details = plan.scene, plan.details
    plan.vocab.save(out / "vocab.txt")
    (out / "config.json").write_text(json.dumps({
        "model": plan.config.to_dict(),
        "language": args.lang,
        "resize": args.resize,
        "colour_order": "RGB",
        "caption_mode": caption_mode,
        "seed": args.seed,
        "data": str(args.data),
        "scene_supervision": ({"weight": plan.scene_weight, **scene.describe(),
                               **({"details": details.describe()} if details else {})}
                              if scene else None),
        # the CNN and scene heads alone, no caption decoder (see --scene-only)
        **({"scene_only": True} if plan.scene_only else {}),
        "augment": args.augment,
    }, indent=2))


def read_train_config(model_dir: Path) -> dict:
    path = model_dir / "config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: not a trained model's configuration: {exc}") from None
