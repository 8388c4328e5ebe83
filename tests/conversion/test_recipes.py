"""Training recipes (recipes/*.yaml, `train --recipe FILE`, `train-grounded --recipe FILE`): each
committed recipe maps to valid training arguments, the build scripts' runs are what they were
before the recipes, the command line overrides a recipe, and a bad recipe is one line, exit 2.
No training: the arguments are parsed, never run."""

import re

import pytest

from conversion.cli import build_parser
from conversion.recipes import read_recipe, with_recipe
from make_test_bundles import run_convert_cli
from support.paths import REPO as ROOT

RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))
# the positional arguments of each command, placeholders: the recipes hold options only
POSITIONALS = {"train": ["DATA", "OUT"], "train-grounded": ["OUT"], "train-facts": ["OUT"]}
# what each recipe stands for as a command line: scripts/build_render_bundle.sh's runs before the
# recipes; the facts decoders' runs of the shipped default bundles
BEFORE = {
    "default-en.yaml": ["train-facts", "OUT", "--lang", "en", "--count", "120000", "--epochs",
                        "8", "--units", "256", "--seed", "1"],
    "default-zh.yaml": ["train-facts", "OUT", "--lang", "zh", "--count", "120000", "--epochs",
                        "6", "--units", "256", "--seed", "1"],
    "render-en.yaml": ["train", "DATA", "OUT", "--lang", "en", "--epochs", "16", "--seed", "1",
                       "--scene-input", "--max-length", "23"],
    "render-zh.yaml": ["train", "DATA", "OUT", "--lang", "zh", "--epochs", "12", "--seed", "2",
                       "--freeze-backbone"],
}


def parse(argv: list[str]) -> dict:
    """The namespace of a command line with its recipe applied, as `main` would run it (less
    the command's function, a new closure per parser, and the recipe's path)."""
    commands: dict = {}
    parser = build_parser(commands)
    args = vars(parser.parse_args(with_recipe(argv, parser, commands)))
    return {k: v for k, v in args.items() if k not in ("func", "recipe")}


def test_the_recipes_are_committed():
    assert [p.name for p in RECIPES] == sorted(BEFORE)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_each_recipe_maps_to_valid_training_arguments(path):
    recipe = read_recipe(path)
    args = parse([recipe.command, *POSITIONALS[recipe.command], "--recipe", str(path)])
    for key, value in recipe.options.items():
        # the recipe's value, typed as the option types it (YAML's 8 and the option's int 8)
        assert args[key.replace("-", "_")] == value, key


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_a_recipe_gives_the_arguments_its_build_script_passed_before(name):
    before = BEFORE[name]
    command = before[0]
    recipe_line = [command, *POSITIONALS[command], "--recipe", str(ROOT / "recipes" / name)]
    assert parse(recipe_line) == parse(before)


def test_the_command_line_overrides_the_recipe():
    path = str(ROOT / "recipes" / "render-en.yaml")
    args = parse(["train", "DATA", "OUT", "--recipe", path, "--epochs", "24", "--resume"])
    assert args["epochs"] == 24 and args["resume"] is True
    assert args["lang"] == "en" and args["max_length"] == 23 and args["scene_input"] is True
    # wherever --recipe stands among the options
    args = parse(["train", "--epochs", "32", "DATA", "OUT", "--recipe", path])
    assert args["epochs"] == 32 and args["seed"] == 1


def test_every_recipe_the_build_scripts_name_is_committed():
    named = set()
    for script in (ROOT / "scripts").glob("*.sh"):
        for found in re.findall(r'--recipe\s+"?([^"\s]+)"?', script.read_text()):
            named |= {found.replace("$lang", lang) for lang in ("en", "zh")}
    assert named == {f"recipes/{name}" for name in BEFORE}


@pytest.mark.parametrize("text, command, message", [
    ("command: train\noptions:\n  epoch: 3\n", "train", "unknown key 'epoch'"),
    ("command: train\noptions:\n  scene_input: true\n", "train", "did you mean 'scene-input'"),
    ("command: train\noptions:\n  resume: true\n", "train", "unknown key 'resume'"),
    ("command: train\noptions:\n  count: 5\n", "train", "unknown key 'count'"),
    ("command: train\nepochs: 3\n", "train", "unknown key 'epochs'"),
    ("command: train\noptions:\n  epochs: 0\n", "train", "epochs: expected a positive integer"),
    ("command: train\noptions:\n  decoder: lstm\n", "train", "decoder must be one of"),
    ("command: train\noptions:\n  scene-input: 1\n", "train", "scene-input is a flag"),
    ("command: train\noptions:\n  lr: [1, 2]\n", "train", "lr needs one value"),
    ("command: train-grounded\noptions:\n  epochs: 3\n", "train", "a recipe for train-grounded"),
    ("command: evaluate\noptions:\n  epochs: 3\n", "train", "'command' must be one of"),
    ("options: [\n", "train", "invalid YAML"),
    ("command: train\noptions:\n  epochs: 3\n  epochs: 30\n", "train", "duplicate key 'epochs'"),
    ("- epochs\n", "train", "a recipe is a mapping"),
])
def test_a_bad_recipe_is_one_line_and_exit_2(tmp_path, capsys, text, command, message):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    positionals = [tmp_path / name for name in POSITIONALS[command]]
    assert run_convert_cli(command, *positionals, "--recipe", recipe) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not any(p.exists() for p in positionals)  # nothing ran


def test_a_missing_recipe_is_one_line_and_exit_2(tmp_path, capsys):
    assert run_convert_cli("train-grounded", tmp_path / "out", "--recipe",
                           tmp_path / "none.yaml") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "none.yaml: cannot read: No such file" in err
