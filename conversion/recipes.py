"""Training recipes: the options of one `train` or `train-grounded` run kept as a committed YAML
file (recipes/*.yaml) and read with `--recipe FILE`:

    command: train-grounded      # the command the recipe is for
    options:                     # its options, named as on the command line without the "--"
      lang: en
      epochs: 8
      scene-input: true          # a flag: true sets it, false leaves it off

The recipe's options become command-line arguments placed before the ones given, so that every
value is checked exactly as if typed, and an option given on the command line overrides the
recipe's. Positional arguments (DATA, OUT) and what a run does with OUT (--resume, --force) stay
on the command line. A key the command does not take, a wrong value or a recipe for another
command is a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass
from pathlib import Path

from edge_captioner.config.strict_yaml import read_yaml_file
from edge_captioner.errors import BadInput

RECIPE_COMMANDS = ("train", "train-grounded", "train-facts")
# options that say how to run this time rather than what to train: never in a recipe
RUN_OPTIONS = {"help", "verbose", "recipe", "resume", "force"}


@dataclass(frozen=True)
class Recipe:
    command: str
    options: dict[str, object]  # option name without "--" -> value


def read_recipe(path: Path) -> Recipe:
    """The recipe in `path`, its shape checked (not yet its options: see recipe_arguments)."""
    document = read_yaml_file(path)
    if not isinstance(document, dict):
        raise BadInput(f"{path}: a recipe is a mapping with 'command' and 'options'")
    unknown = sorted(set(map(str, document)) - {"command", "options"})
    if unknown:
        raise BadInput(f"{path}: unknown key {unknown[0]!r} (a recipe has 'command' and 'options')")
    command, options = document.get("command"), document.get("options")
    if command not in RECIPE_COMMANDS:
        raise BadInput(f"{path}: 'command' must be one of {', '.join(RECIPE_COMMANDS)}, "
                       f"not {command!r}")
    if not isinstance(options, dict) or not options:
        raise BadInput(f"{path}: 'options' must map option names to values")
    return Recipe(command, {str(k): v for k, v in options.items()})


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """A command's options by long name without "--", those a recipe may hold."""
    named = {}
    for action in parser._actions:  # argparse has no public list of a parser's actions
        longs = [s for s in action.option_strings if s.startswith("--")]
        if longs and action.dest not in RUN_OPTIONS:
            named[longs[0][2:]] = action
    return named


def recipe_arguments(recipe: Recipe, parser: argparse.ArgumentParser, path: Path) -> list[str]:
    """The recipe's options as command-line arguments of `parser` (its command's parser), each
    value checked against the option's type and choices."""
    options = _options(parser)
    arguments: list[str] = []
    for key, value in recipe.options.items():
        action = options.get(key)
        if action is None:
            close = difflib.get_close_matches(key.replace("_", "-"), options, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise BadInput(f"{path}: unknown key {key!r} ({recipe.command} has no option "
                           f"--{key}{hint})")
        flag = f"--{key}"
        if action.nargs == 0:  # store_true
            if not isinstance(value, bool):
                raise BadInput(f"{path}: {key} is a flag: true or false, not {value!r}")
            arguments += [flag] if value else []
            continue
        if value is None or isinstance(value, (bool, list, dict)):
            raise BadInput(f"{path}: {key} needs one value, not {value!r}")
        text = str(value)
        try:
            converted = action.type(text) if action.type else text
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            raise BadInput(f"{path}: {key}: {exc or f'not a valid value: {text!r}'}") from None
        if action.choices is not None and converted not in action.choices:
            raise BadInput(f"{path}: {key} must be one of {', '.join(map(str, action.choices))}, "
                           f"not {value!r}")
        arguments += [flag, text]
    return arguments


def with_recipe(argv: list[str], parser: argparse.ArgumentParser,
                commands: dict[str, argparse.ArgumentParser]) -> list[str]:
    """argv with the options of its `--recipe FILE` inserted right after the command name (so
    that those given on the command line, coming later, override them); argv itself when it
    names no recipe. commands: each command's parser by name."""
    args = parser.parse_args(argv)  # bad command lines fail here as they would anyway
    if not getattr(args, "recipe", None):
        return argv
    path = Path(args.recipe)
    recipe = read_recipe(path)
    # the command is the first word that is not an option (the top level takes no values)
    at = next(k for k, word in enumerate(argv) if not word.startswith("-"))
    if argv[at] != recipe.command:
        raise BadInput(f"{path}: a recipe for {recipe.command}, not {argv[at]}")
    return [*argv[: at + 1], *recipe_arguments(recipe, commands[recipe.command], path),
            *argv[at + 1:]]
