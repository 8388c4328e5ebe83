"""Caption data sets: the format loaders, `stats`, the vocabulary and what `train` feeds the network."""
