"""Responses rendered with orjson are the bytes DRF's JSONRenderer writes
(compact, UTF-8), including the types DRF knows; what orjson cannot encode
goes to DRF's renderer."""

from __future__ import annotations

import json
from decimal import Decimal

from rest_framework.renderers import JSONRenderer

from ftproxy.api.renderers import ORJSONRenderer

SAMPLE = {
    "id": "ftjob-1",
    "object": "fine_tuning.job",
    "metadata": {"team": "café ✓"},
    "hyperparameters": {"n_epochs": 3, "learning_rate_multiplier": 1.8},
    "result_files": [],
    "error": None,
    "has_more": False,
}


def test_the_same_bytes_as_drf():
    assert ORJSONRenderer().render(SAMPLE) == JSONRenderer().render(SAMPLE)


def test_types_drf_knows_are_rendered_as_drf_renders_them():
    data = {"cost": Decimal("1.250000"), **SAMPLE}
    assert json.loads(ORJSONRenderer().render(data)) == json.loads(JSONRenderer().render(data))


def test_an_integer_beyond_64_bits_falls_back_to_drf():
    data = {"seed": 2**70}
    assert (
        ORJSONRenderer().render(data)
        == JSONRenderer().render(data)
        == b'{"seed":1180591620717411303424}'
    )


def test_nothing_renders_as_an_empty_body():
    assert ORJSONRenderer().render(None) == b""
