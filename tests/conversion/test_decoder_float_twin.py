"""An int8 decoder's captions against its float twin's (the float model's numpy step needs the toolkit)."""

import json

import pytest

from make_test_bundles import run_convert_cli

pytestmark = pytest.mark.tensorflow


@pytest.mark.slow  # `evaluate` with the COCO metrics: about 30 s on 2 cores
def test_int8_decoder_captions_match_the_float_twin(tiny_int8_decoder_bundles, tiny_test_data,
                                                    capsys):
    int8, flt = tiny_int8_decoder_bundles
    assert run_convert_cli("evaluate", int8, tiny_test_data, "--reference", flt, "--json") == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["identical_captions"] >= 0.7
    assert abs(result["delta"]["object_f1"]) <= 0.1
