"""Annotation files read as text, and JSON ones with the line numbers their errors point at."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from edge_captioner.errors import BadInput


@dataclass
class JsonFile:
    """A parsed JSON annotation file and its raw text, kept to give errors a line number.

    json.load keeps no positions, and a second, position-tracking parser of a 90 MB file in Python
    would be slow, so lines are found in the raw text with a regular expression: the N-th entry of
    an array is at the N-th `"key":` of a key that every entry has exactly once ("file_name" for
    COCO images). In valid JSON that pattern only matches a real key (quotes inside strings are
    escaped), so it is exact when the count matches; otherwise the line of the array's own key is
    the best we can say. Real COCO files are one long line, so messages also name the entry.
    """

    path: Path
    text: str
    doc: object

    def key_lines(self, key: str) -> list[int]:
        lines: list[int] = []
        line, last = 1, 0
        for match in re.finditer(rf'"{re.escape(key)}"\s*:', self.text):
            line += self.text.count("\n", last, match.start())
            last = match.start()
            lines.append(line)
        return lines

    def entry_lines(self, array_key: str, count: int, keys: Sequence[str]) -> list[int]:
        """The line of each of `count` entries of the array `array_key`."""
        for key in keys:
            lines = self.key_lines(key)
            if len(lines) == count:
                return lines
        first = self.key_lines(array_key)
        return [first[0] if first else 1] * count

    def fail(self, message: str, line: int = 1) -> NoReturn:
        raise BadInput(f"{self.path}:{line}: {message}")

    def fail_entry(
        self, array_key: str, index: int, count: int, keys: Sequence[str], message: str
    ) -> NoReturn:
        self.fail(message, self.entry_lines(array_key, count, keys)[index])

    def require_list(self, doc: dict, key: str, what: str) -> list:
        if key not in doc:
            self.fail(f"missing key {key!r} ({what})")
        value = doc[key]
        if not isinstance(value, list):
            lines = self.key_lines(key)
            line = lines[0] if lines else 1
            self.fail(f"{key!r} must be a list, got {type(value).__name__}", line)
        return value


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")  # tolerate a BOM, as Windows editors write one
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadInput(f"{path}:{line}: not UTF-8 text ({exc.reason})") from None


def read_json(path: Path) -> JsonFile:
    text = read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        raise BadInput(f"{path}:1: invalid JSON: {exc}") from None
    return JsonFile(path, text, doc)
