"""Reading a YAML file strictly, for every file a user writes (config.yaml, training recipes).

PyYAML's safe_load with two changes: a key given twice in one mapping is an error, and every way
of failing is one BadInput line naming the file and, where known, the line and column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import BadInput


class StrictLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice in one mapping is an error: PyYAML silently keeps
    the last one, so a second `mqtt:` section would quietly replace the first."""

    def construct_mapping(self, node, deep=False):
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"duplicate key {key_node.value!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml_file(path: Path) -> Any:
    """The document in `path` (None for an empty file); BadInput naming the file (and line)."""
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        document = yaml.load(content, Loader=StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        # Not str(exc): it quotes the offending line, which may be the one holding the password.
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise BadInput(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: invalid YAML: {type(exc).__name__}") from None
    except (ValueError, OverflowError):
        # PyYAML's implicit types can fail to convert, e.g. the date 2024-13-45.
        raise BadInput(f"{path}: invalid YAML: a value that cannot be converted (an impossible date?)") \
            from None
    except RecursionError:
        raise BadInput(f"{path}: invalid YAML: nested too deeply") from None
    return document
