"""Caption search: greedy and beam search over a one-step decoder, in plain Python and numpy.

Like im2txt's caption_generator, this knows nothing of TFLite: it calls `step(token, state)`,
which returns (log-probabilities over the vocabulary, new state); the state is opaque here.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

StepFn = Callable[[int, Any], tuple[np.ndarray, Any]]


@dataclass(order=True)
class Caption:
    score: float  # what the search ranks by (length-normalised log-probability)
    tokens: list[int] = field(compare=False)  # without <start> and <end>
    logprob: float = field(compare=False)  # sum of the token log-probabilities, <end> included
    token_logprobs: list[float] = field(compare=False, default_factory=list)

    @property
    def confidence(self) -> float:
        """Geometric mean of the token probabilities (<end> included): 0..1, length-independent."""
        if not self.token_logprobs:
            return 0.0
        return float(math.exp(sum(self.token_logprobs) / len(self.token_logprobs)))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64).reshape(-1)
    shifted = logits - logits.max()
    return shifted - math.log(np.exp(shifted).sum())


def length_normalised(logprob: float, length: int, alpha: float) -> float:
    """GNMT's length penalty ((5 + n) / 6) ** alpha; alpha 0 = raw log-probability."""
    if alpha == 0:
        return logprob
    return logprob / (((5 + length) / 6) ** alpha)


def greedy(step: StepFn, state: Any, start_id: int, end_id: int, max_length: int) -> Caption:
    """The most likely next token at every step, until <end> or max_length tokens in all."""
    token, tokens, logps = start_id, [], []
    for _ in range(max_length - 1):
        logprobs, state = step(token, state)
        token = int(logprobs.argmax())  # the method: ~0.5 us less than np.argmax per token
        logps.append(float(logprobs[token]))
        if token == end_id:
            break
        tokens.append(token)
    total = sum(logps)
    return Caption(score=total, tokens=tokens, logprob=total, token_logprobs=logps)


@dataclass
class _Partial:
    tokens: list[int]
    logps: list[float]
    state: Any
    logprob: float


def beam_search(step: StepFn, state: Any, start_id: int, end_id: int, max_length: int,
                beam_size: int = 3, alpha: float = 0.0) -> list[Caption]:
    """Beam search; returns complete captions, best first.

    With beam_size 1 it makes exactly the greedy choices. Finished captions compete by
    length-normalised score; the search stops when no partial caption can still beat the best
    finished one (raw log-probabilities only fall as captions grow) or at max_length.
    """
    if beam_size < 1:
        raise ValueError("beam_size must be >= 1")
    beams = [_Partial([], [], state, 0.0)]
    complete: list[Caption] = []
    for position in range(max_length - 1):
        candidates: list[tuple[float, int, int, float, Any]] = []
        for b, beam in enumerate(beams):
            token = beam.tokens[-1] if position else start_id
            logprobs, new_state = step(token, beam.state)
            # The best beam_size tokens of this beam are the only ones that can survive.
            top = np.argpartition(-logprobs, min(beam_size, len(logprobs) - 1))[:beam_size]
            for t in top:
                candidates.append((beam.logprob + float(logprobs[t]), b, int(t),
                                   float(logprobs[t]), new_state))
        # Stable order: by log-probability, then earlier beam, then lower token id (greedy's tie).
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        beams_next: list[_Partial] = []
        for total, b, t, lp, new_state in candidates:
            parent = beams[b]
            if t == end_id:
                complete.append(Caption(
                    score=length_normalised(total, len(parent.tokens) + 1, alpha),
                    tokens=list(parent.tokens), logprob=total, token_logprobs=[*parent.logps, lp]))
            else:
                beams_next.append(_Partial([*parent.tokens, t], [*parent.logps, lp], new_state,
                                           total))
                if len(beams_next) == beam_size:
                    break
        beams = beams_next
        if not beams or (beam_size == 1 and complete):
            break  # nothing left to extend (with one beam: greedy picked <end>)
        if complete and alpha == 0 and max(c.score for c in complete) >= beams[0].logprob:
            beams = []  # raw log-probabilities only fall: no partial caption can win any more
            break
    # max_length reached: captions cut there compete with the finished ones, as in greedy.
    complete += [Caption(score=length_normalised(b.logprob, len(b.tokens), alpha), tokens=b.tokens,
                         logprob=b.logprob, token_logprobs=b.logps) for b in beams]
    return heapq.nlargest(beam_size, complete)


Trie = dict[tuple[int, ...], set[int]]  # a prefix of token ids -> the ids that may follow it


def trie_of(sequences: list[list[int]]) -> Trie:
    """The prefixes of the given token sequences (each ending with <end>) and what may follow."""
    trie: Trie = {}
    for seq in sequences:
        for i, token in enumerate(seq):
            trie.setdefault(tuple(seq[:i]), set()).add(token)
    return trie


def constrained(step: StepFn, trie: Trie, start_id: int) -> tuple[StepFn, Callable[[Any], Any]]:
    """A step function that only lets the search write one of the trie's sequences: each step's
    log-probabilities outside the ids the trie allows after the tokens written so far are -inf
    (the allowed ones keep the decoder's own values, so a caption's confidence is still the
    decoder's). Returns (step, wrap) where wrap(state) makes the initial state; the search and
    its callers need not know. A prefix the trie does not know is left unconstrained."""

    def wrapped(token: int, state: Any) -> tuple[np.ndarray, Any]:
        inner, prefix = state
        if token != start_id:
            prefix = (*prefix, token)
        logprobs, inner = step(token, inner)
        allowed = trie.get(prefix)
        if allowed:
            masked = np.full_like(logprobs, -np.inf)
            ids = np.fromiter(allowed, np.intp)
            masked[ids] = logprobs[ids]
            logprobs = masked
        return logprobs, (inner, prefix)

    return wrapped, lambda state: (state, ())
