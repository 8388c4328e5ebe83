"""Workstation toolkit: data sets, tokenizer, Keras CNN-LSTM, training, int8 conversion, evaluation.

Needs the `convert` extra (tensorflow-cpu, pycocoevalcap) for training, conversion and evaluation;
the data commands (synth, stats) need only the device dependencies.
"""
