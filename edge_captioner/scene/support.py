"""Whether a caption is supported by the facts it came from: it is when the reader takes it back
to exactly those facts (as a caption states them: counts over MAX_EXACT are "many"). A caption
the reader cannot read is not supported. The device publishes the canonical sentence instead
(phrase.py), and counts it."""

from __future__ import annotations

from .facts import Facts
from .phrase import canonical
from .read import Unreadable, read


def supported(text: str, facts: Facts, lang: str) -> bool:
    try:
        return read(text, lang) == facts.said()
    except Unreadable:
        return False


def faithful(text: str, facts: Facts, lang: str) -> tuple[str, bool]:
    """(the caption to publish, whether it had to be replaced by the canonical sentence)."""
    if supported(text, facts, lang):
        return text, False
    return canonical(facts, lang), True
