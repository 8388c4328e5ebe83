"""Greedy and beam search on toy decoders: pure Python, no interpreter."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_captioner.model.search import Caption, beam_search, greedy, length_normalised, log_softmax

START, END = 0, 1


def table_step(table):
    """A decoder whose next-token distribution depends only on the token sequence so far."""

    def step(token, state):
        seq = (*state, token)
        probs = table.get(seq[1:], {END: 1.0})
        logits = np.full(4, -1e9)
        for t, p in probs.items():
            logits[t] = math.log(p)
        return log_softmax(logits), seq

    return step


# Greedy takes token 2 (0.6) but then is unsure; token 3 (0.4) leads to a sure <end>.
TRAP = {
    (): {2: 0.6, 3: 0.4},
    (2,): {2: 0.5, 3: 0.5},
    (2, 2): {END: 0.5, 3: 0.5},
    (2, 3): {END: 0.5, 2: 0.5},
    (3,): {END: 1.0},
}


def test_greedy_takes_the_locally_best_token():
    caption = greedy(table_step(TRAP), (), START, END, max_length=10)
    assert caption.tokens == [2, 2]
    assert caption.logprob == pytest.approx(math.log(0.6 * 0.5 * 0.5))


def test_wider_beam_finds_the_better_caption():
    best = beam_search(table_step(TRAP), (), START, END, max_length=10, beam_size=2)[0]
    assert best.tokens == [3]
    assert best.logprob == pytest.approx(math.log(0.4))
    assert best.logprob > greedy(table_step(TRAP), (), START, END, 10).logprob


def test_max_length_stops_a_caption_that_never_ends():
    forever = {(): {2: 1.0}}
    for n in range(1, 6):
        forever[(2,) * n] = {2: 1.0}
    caption = greedy(table_step(forever), (), START, END, max_length=4)
    assert caption.tokens == [2, 2, 2]
    assert beam_search(table_step(forever), (), START, END, 4, beam_size=3)[0].tokens == [2, 2, 2]


def test_confidence_is_the_geometric_mean_probability():
    caption = Caption(score=0, tokens=[5], logprob=math.log(0.25), token_logprobs=[math.log(0.5),
                                                                                   math.log(0.5)])
    assert caption.confidence == pytest.approx(0.5)
    assert Caption(score=0, tokens=[], logprob=0).confidence == 0.0


def test_length_penalty():
    assert length_normalised(-2.0, 3, 0.0) == -2.0
    assert length_normalised(-2.0, 1, 1.0) == pytest.approx(-2.0)  # (5+1)/6 = 1
    assert length_normalised(-2.0, 7, 1.0) == pytest.approx(-1.0)


def random_step(seed, vocab=6):
    rng = np.random.default_rng(seed)
    tables = {}

    def step(token, state):
        seq = (*state, token)
        if seq not in tables:
            tables[seq] = log_softmax(rng.normal(0, 2, vocab))
        return tables[seq], seq

    return step


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), max_length=st.integers(2, 8))
def test_beam_one_is_exactly_greedy(seed, max_length):
    step = random_step(seed)
    g = greedy(step, (), START, END, max_length)
    b = beam_search(step, (), START, END, max_length, beam_size=1)[0]
    assert b.tokens == g.tokens
    assert b.logprob == pytest.approx(g.logprob, abs=1e-12)
    assert b.confidence == pytest.approx(g.confidence)


def brute_force_best(step, max_length, vocab=6):
    """The best complete caption over ALL token sequences (or cut at max_length)."""
    best = None

    def walk(token, state, tokens, logprob):
        nonlocal best
        logprobs, state = step(token, state)
        for t in range(vocab):
            total = logprob + float(logprobs[t])
            if t == END or len(tokens) + 1 == max_length - 1:
                done = tokens if t == END else [*tokens, t]
                if best is None or total > best[1]:
                    best = (done, total)
            else:
                walk(t, state, [*tokens, t], total)

    walk(START, (), [], 0.0)
    return best


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), max_length=st.integers(2, 5))
def test_a_beam_wide_enough_finds_the_best_caption(seed, max_length):
    step = random_step(seed)
    tokens, logprob = brute_force_best(step, max_length)
    best = beam_search(step, (), START, END, max_length, beam_size=6 ** max_length)[0]
    assert best.logprob == pytest.approx(logprob)
    assert best.tokens == tokens


def test_bad_beam_size():
    with pytest.raises(ValueError):
        beam_search(table_step(TRAP), (), START, END, 5, beam_size=0)


def test_a_constrained_search_writes_only_what_the_trie_allows():
    """A fake decoder that prefers token 5 everywhere: constrained to [3, 4, <end>] or [4, 3,
    <end>], greedy and beam write one of them, with the decoder's own log-probabilities."""
    from edge_captioner.model.search import constrained, trie_of

    start, end, vocab = 1, 2, 6
    prefs = np.log(np.array([0.01, 0.01, 0.1, 0.2, 0.18, 0.5]))

    def step(token, state):
        return prefs, state + 1

    step2, wrap = constrained(step, trie_of([[3, 4, end], [4, 3, end]]), start)
    best = greedy(step2, wrap(0), start, end, 10)
    assert best.tokens == [3, 4] and best.token_logprobs == pytest.approx(list(prefs[[3, 4, end]]))
    beams = beam_search(step2, wrap(0), start, end, 10, beam_size=3)
    assert {tuple(c.tokens) for c in beams} <= {(3, 4), (4, 3)}
    unconstrained = greedy(step, 0, start, end, 4)
    assert unconstrained.tokens == [5, 5, 5] and vocab == len(prefs)
