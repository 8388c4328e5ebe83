"""What a caption may say: the facts the perception holds (facts.py), their words in English and
Chinese (words.py), the canonical sentence (phrase.py), the reader that takes a sentence back to
the facts it states (read.py), and the check that a caption states nothing the facts do not hold
(support.py). Pure code: no interpreter, no I/O."""
