"""The facts decoder: an LSTM that writes the sentence stating a frame's facts (scene/), trained on
facts drawn at random (sample.py) with their canonical sentences as targets (train.py)."""
