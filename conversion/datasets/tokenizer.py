"""Build a caption vocabulary from training captions (the device side only loads it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from edge_captioner.bundle.vocab import SPECIAL_TOKENS, Vocabulary, tokenize

DEFAULT_MIN_COUNT = {"en": 3, "zh": 2}


def count_tokens(captions: Iterable[str], language: str) -> Counter[str]:
    counter: Counter[str] = Counter()
    for caption in captions:
        counter.update(tokenize(caption, language))
    return counter


def build_vocabulary(
    captions: Iterable[str], language: str, min_count: int | None = None
) -> Vocabulary:
    """Tokens seen at least `min_count` times, most frequent first (ties alphabetical, so the
    same captions always give the same ids)."""
    if min_count is None:
        min_count = DEFAULT_MIN_COUNT[language]
    counter = count_tokens(captions, language)
    kept = sorted(
        ((tok, n) for tok, n in counter.items() if n >= min_count and tok not in SPECIAL_TOKENS),
        key=lambda item: (-item[1], item[0]),
    )
    return Vocabulary(
        language=language,
        tokens=[*SPECIAL_TOKENS, *(tok for tok, _ in kept)],
        counts=[0] * len(SPECIAL_TOKENS) + [n for _, n in kept],
    )
