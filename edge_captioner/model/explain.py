"""Where the attention decoder looked for each word: pure functions over the weights grids.

Cells are (row, column) of the encoder's location grid, counted from 0 at the top left of the
model's input image (the centre square of the frame with the default center_crop). The region is
the cell centre's third of the image: upper / middle / lower and left / centre / right.
"""

from __future__ import annotations

import numpy as np

_VERTICAL = ("upper", "middle", "lower")
_HORIZONTAL = ("left", "centre", "right")


def region(row: int, col: int, rows: int, cols: int) -> str:
    """'lower-left', 'upper', 'centre', ... for a cell of a rows x cols grid."""
    v = _VERTICAL[min(2, int(3 * (row + 0.5) / rows))]
    h = _HORIZONTAL[min(2, int(3 * (col + 0.5) / cols))]
    if v == "middle":
        return "centre" if h == "centre" else f"middle-{h}"
    return v if h == "centre" else f"{v}-{h}"


def strongest(weights: np.ndarray) -> tuple[int, int, float]:
    """(row, col, weight) of the largest weight of a (rows, cols) grid."""
    row, col = np.unravel_index(int(np.argmax(weights)), weights.shape)
    return int(row), int(col), float(weights[row, col])


def explain_words(words: list[str], attention: list[np.ndarray]) -> list[dict]:
    """Per word: its strongest cell, that cell's region and weight."""
    out = []
    for word, weights in zip(words, attention, strict=True):
        row, col, weight = strongest(weights)
        out.append({"word": word, "row": row, "col": col,
                    "region": region(row, col, *weights.shape), "weight": round(weight, 4)})
    return out


def format_explanation(items: list[dict]) -> str:
    """`cat@(r3,c0) lower-left`, one per word, space separated."""
    return "  ".join(f"{i['word']}@(r{i['row']},c{i['col']}) {i['region']}" for i in items)
