"""Caption vocabulary: tokenising text and mapping tokens to ids and back.

Device-safe (no TensorFlow): the runtime needs `Vocabulary.load` and `decode`; the workstation
toolkit builds the file with `conversion.datasets.tokenizer`. English is word-level; Chinese is
character-level, which needs no segmenter dictionary on the device, keeps the vocabulary small and
is how Chinese captions are scored anyway (BLEU/CIDEr on characters).

The file is plain UTF-8 text, one token per line in id order, `token<TAB>count`, after a header
line `# edge-captioner vocabulary v1 language=en unit=word`. Tokens never contain whitespace.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIAL_TOKENS = (PAD, START, END, UNK)  # ids 0..3, in this order, in every vocabulary
UNITS = {"en": "word", "zh": "char"}
HEADER_PREFIX = "# edge-captioner vocabulary v1"

# English words: letters, digits and inner apostrophes ("it's"); everything else separates.
_EN_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _is_cjk(ch: str) -> bool:
    return unicodedata.category(ch) == "Lo" or "\u3400" <= ch <= "\u9fff"


def tokenize(text: str, language: str) -> list[str]:
    """Split a caption into vocabulary tokens.

    en: lower-cased words, punctuation dropped. zh: one token per character; Latin letters and
    digits inside Chinese text are kept as whole words (e.g. "SUV"), punctuation is dropped.
    """
    text = unicodedata.normalize("NFKC", text)
    if language == "en":
        return _EN_WORD.findall(text.lower())
    if language == "zh":
        tokens: list[str] = []
        for match in re.finditer(r"[A-Za-z0-9]+|\S", text):
            piece = match.group(0)
            if piece[0].isascii() and piece[0].isalnum():
                tokens.append(piece.lower())
            elif _is_cjk(piece):
                tokens.append(piece)
            # else: punctuation (，。！ etc.), dropped like English punctuation
        return tokens
    raise BadInput(f"unsupported caption language {language!r} (supported: en, zh)")


def detokenize(tokens: Sequence[str], language: str) -> str:
    if language == "zh":
        out = ""
        for tok in tokens:
            # keep a space between two Latin words ("suv 1"), none between characters
            if out and tok.isascii() and out[-1].isascii() and out[-1].isalnum():
                out += " "
            out += tok
        return out
    return " ".join(tokens)


@dataclass
class Vocabulary:
    language: str
    tokens: list[str]  # id -> token; the first four are SPECIAL_TOKENS
    counts: list[int]

    def __post_init__(self) -> None:
        self._ids = {tok: i for i, tok in enumerate(self.tokens)}

    @property
    def unit(self) -> str:
        return UNITS[self.language]

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def start_id(self) -> int:
        return 1

    @property
    def end_id(self) -> int:
        return 2

    @property
    def unk_id(self) -> int:
        return 3

    def id_of(self, token: str) -> int:
        return self._ids.get(token, self.unk_id)

    def encode(self, text: str, add_start_end: bool = True) -> list[int]:
        ids = [self.id_of(t) for t in tokenize(text, self.language)]
        return [self.start_id, *ids, self.end_id] if add_start_end else ids

    def decode(self, ids: Iterable[int]) -> str:
        """Ids to text; stops at <end>, skips <start>/<pad>, shows unknown ids as <unk>."""
        words: list[str] = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i in (self.pad_id, self.start_id):
                continue
            words.append(self.tokens[i] if 0 <= i < len(self.tokens) else UNK)
        return detokenize(words, self.language)

    # -- file format ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        lines = [f"{HEADER_PREFIX} language={self.language} unit={self.unit}"]
        lines += [f"{tok}\t{n}" for tok, n in zip(self.tokens, self.counts, strict=True)]
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{path}: cannot read vocabulary: {exc}") from None
        lines = text.splitlines()
        if not lines or not lines[0].startswith(HEADER_PREFIX):
            raise BadInput(f"{path}:1: not an edge-captioner vocabulary (bad header)")
        header = dict(kv.split("=", 1) for kv in lines[0][len(HEADER_PREFIX):].split() if "=" in kv)
        language = header.get("language", "")
        if language not in UNITS:
            raise BadInput(f"{path}:1: unsupported vocabulary language {language!r}")
        tokens: list[str] = []
        counts: list[int] = []
        for lineno, line in enumerate(lines[1:], start=2):
            parts = line.split("\t")
            # isascii: str.isdigit() also accepts "²" and other digits that int() refuses
            if (len(parts) != 2 or not parts[0] or not parts[1].isascii()
                    or not parts[1].isdigit() or len(parts[1]) > 18):
                raise BadInput(f"{path}:{lineno}: expected 'token<TAB>count', got {line[:80]!r}")
            tokens.append(parts[0])
            counts.append(int(parts[1]))
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise BadInput(f"{path}: the first tokens must be {', '.join(SPECIAL_TOKENS)}")
        if len(set(tokens)) != len(tokens):
            raise BadInput(f"{path}: duplicate tokens")
        return cls(language=language, tokens=tokens, counts=counts)
