#!/usr/bin/env python3
"""How often does a wider beam find a higher-scoring caption than greedy decoding?

    python experiments/beam.py BUNDLE DATA [--beams 2,3,5] [--limit 1000] [--json]

For every image of DATA: the greedy caption's log-probability against the best of beam search at
each width (raw log-probability, no length penalty, so "higher-scoring" means more probable under
the model); reports the share of images where the beam's caption is strictly more probable, the
share whose text differs, and the mean log-probability gain.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.datasets.load import load_dataset  # noqa: E402
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.search import beam_search, greedy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("data")
    parser.add_argument("--beams", default="2,3,5")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    widths = [int(w) for w in args.beams.split(",")]

    captioner = Captioner(args.bundle)
    vocab, model = captioner.bundle.vocab, captioner.model
    entries = [e for e in load_dataset(args.data).images if e.path.is_file()][: args.limit]
    better = dict.fromkeys(widths, 0)
    differs = dict.fromkeys(widths, 0)
    gain = dict.fromkeys(widths, 0.0)
    for entry in entries:
        image = captioner.prepare(cv2.imread(str(entry.path)))
        state = model.encode(image)
        g = greedy(model.step, state, vocab.start_id, vocab.end_id, captioner.max_length)
        for w in widths:
            b = beam_search(model.step, state, vocab.start_id, vocab.end_id, captioner.max_length,
                            beam_size=w)[0]
            better[w] += b.logprob > g.logprob + 1e-6
            differs[w] += b.tokens != g.tokens
            gain[w] += b.logprob - g.logprob
    n = len(entries)
    result = {
        "bundle": captioner.bundle.name,
        "images": n,
        "beams": {
            str(w): {"higher_scoring_than_greedy": better[w] / n, "different_caption": differs[w] / n,
                     "mean_logprob_gain": gain[w] / n}
            for w in widths
        },
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['bundle']} on {n} images")
        for w, r in result["beams"].items():
            print(f"  beam {w}: more probable than greedy on {r['higher_scoring_than_greedy']:.1%}, "
                  f"different text on {r['different_caption']:.1%}, mean log-prob gain "
                  f"{r['mean_logprob_gain']:+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
