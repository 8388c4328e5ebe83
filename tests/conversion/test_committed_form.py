"""Today's conversion code writes bundles of the form committed under tests/data/bundles."""


import pytest

from make_test_bundles import TINY, TINY_ATTENTION, TINY_INT8_DECODER, committed
from support.bundles import bundle_form

pytestmark = pytest.mark.tensorflow


@pytest.mark.slow
@pytest.mark.parametrize("pair", ["tiny", "int8-decoder", "attention"])
def test_todays_conversion_writes_bundles_of_the_committed_form(pair, request, tmp_path):
    """When this fails, the conversion code changed what it writes: run tests/make_test_bundles.py
    and commit the bundles it writes."""
    if pair == "tiny":
        converted = request.getfixturevalue("converted_tiny_bundles")
    elif pair == "attention":
        converted = request.getfixturevalue("converted_tiny_attention_bundles")
    else:
        from make_test_bundles import convert

        converted = convert(request.getfixturevalue("tiny_model"),
                            request.getfixturevalue("tiny_data"), tmp_path / "int8",
                            tmp_path / "float", "--decoder", "int8")
    names = {"tiny": TINY, "int8-decoder": TINY_INT8_DECODER, "attention": TINY_ATTENTION}[pair]
    for fresh, kept in zip(converted, committed(names), strict=True):
        assert bundle_form(fresh) == bundle_form(kept), kept.name
