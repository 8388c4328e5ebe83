"""What `train` feeds a frozen backbone: batches whose mirrored images carry the mirrored images'
features (the network's types import TensorFlow)."""

import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow


def test_frozen_backbone_batches_swap_in_the_mirrored_images_features():
    """With a frozen CNN the batches hold features: flipping picks, per row, the features of the
    mirrored image (computed once) for about half the rows, and never another image's."""
    from conversion.datasets.training_data import batches_class

    features = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
    mirrored = -features - 1  # distinguishable from every original row
    index = np.repeat(np.arange(40), 5)  # five captions per image
    seqs = np.ones((len(index), 6), np.int32)
    batches = batches_class()(features, index, seqs, 50, seed=7, flip=True)
    batches.mirrored = mirrored
    swapped = 0
    for k in range(len(batches)):
        rows = batches._order[k * 50: (k + 1) * 50]
        (got, _), _ = batches[k]
        original, other = features[index[rows]], mirrored[index[rows]]
        is_original = (got == original).all(1)
        assert (is_original | (got == other).all(1)).all()
        swapped += int((~is_original).sum())
    assert 0.35 < swapped / len(index) < 0.65
    batches.flip = False
    (got, _), _ = batches[0]
    np.testing.assert_array_equal(got, features[index[batches._order[:50]]])
