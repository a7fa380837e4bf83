"""Fine-tuning prices and the estimated cost recorded when a job is created."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ftproxy.models import File, FineTuningJob
from ftproxy.pricing import (
    AUTO_EPOCHS,
    SHIPPED_PRICES,
    epochs_of,
    estimated_cost,
    price_per_million,
    training_cost,
)
from tests.conftest import TRAINING

# --------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gpt-4o-mini", "3.00"),
        ("gpt-4o-mini-2024-07-18", "3.00"),
        ("gpt-4o-2024-08-06", "25.00"),
        ("gpt-4.1-nano-2025-04-14", "1.50"),
        ("gpt-3.5-turbo-0125", "8.00"),
        ("babbage-002", "0.40"),
        ("gemini-2.5-flash", "5.00"),
        ("gemini-2.0-flash-001", "3.00"),
        ("publishers/google/models/gemini-2.5-pro", "25.00"),
    ],
)
def test_a_shipped_model_is_priced_by_name_or_dated_snapshot(model, price):
    assert price_per_million(model) == Decimal(price)


def test_a_continued_fine_tune_costs_what_its_base_model_costs():
    assert price_per_million("ft:gpt-4o-mini:acme::abc123") == Decimal("3.00")
    assert price_per_million("ft:gpt-4o-mini-2024-07-18:acme:support:abc123") == Decimal("3.00")
    assert price_per_million("ft:gpt-4.1-2025-04-14:acme::x") == Decimal("25.00")


@pytest.mark.parametrize(
    "model",
    [
        "gemini-2.0-flash-lite-001",  # a different model that merely starts alike
        "gpt-4o-mini-tts",
        "gpt-4.1-turbo",
        "o4-mini-2025-04-16",  # reinforcement fine-tuning is billed per hour
        "ft:mystery:acme::x",
        "llama-3-8b",
        "",
        None,
    ],
)
def test_an_unknown_model_has_no_price(model):
    assert price_per_million(model) is None


def test_prices_are_decimals():
    assert all(isinstance(price, Decimal) for price in SHIPPED_PRICES.values())
    assert isinstance(training_cost("gpt-4o", 1), Decimal)


def test_configured_prices_replace_and_extend_the_shipped_table(gateway_config):
    gateway_config(
        {
            "ftproxy_settings": {
                "fine_tuning_pricing": {
                    "gpt-4o-mini": 2.5,
                    "gpt-4o-mini-2024-07-18": "2.25",
                    "my-model": 7,
                    "acme-*": 1,
                }
            }
        }
    )
    assert price_per_million("gpt-4o-mini") == Decimal("2.5")
    assert price_per_million("gpt-4o-mini-2024-07-18") == Decimal("2.25")  # the longer key
    assert price_per_million("gpt-4o-mini-2025-01-01") == Decimal("2.5")
    assert price_per_million("my-model-003") == Decimal("7")
    assert price_per_million("my-modeller") is None
    assert price_per_million("acme-anything/at-all") == Decimal("1")
    assert price_per_million("gpt-4o") == Decimal("25.00")  # untouched entries stay


def test_a_configured_ft_name_prices_that_fine_tune_before_its_base_model(gateway_config):
    gateway_config({"ftproxy_settings": {"fine_tuning_pricing": {"ft:gpt-4o-mini:acme": 9}}})
    assert price_per_million("ft:gpt-4o-mini:acme::abc") == Decimal("9")
    assert price_per_million("ft:gpt-4o-mini:other::abc") == Decimal("3.00")


# --------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------


def test_training_cost_is_tokens_times_price_per_million_exactly():
    assert training_cost("gpt-4o-mini-2024-07-18", 1_234_567) == Decimal("3.703701")
    assert training_cost("gemini-2.5-flash", 2_000_000) == Decimal("10")


def test_training_cost_is_none_without_tokens_or_price():
    assert training_cost("gpt-4o-mini", None) is None
    assert training_cost("mystery", 1000) is None


@pytest.mark.parametrize(
    ("epochs", "expected"), [(1, "0.003"), (4, "0.012"), ("auto", "0.009"), (None, "0.009")]
)
def test_estimated_cost_is_file_tokens_times_epochs_times_price(epochs, expected):
    assert estimated_cost("gpt-4o-mini", 1000, epochs) == Decimal(expected)


def test_estimated_cost_is_none_without_file_tokens_or_price():
    assert estimated_cost("gpt-4o-mini", None, 3) is None
    assert estimated_cost("mystery", 1000, 3) is None


@pytest.mark.parametrize(
    ("hyperparameters", "method", "epochs"),
    [
        ({"n_epochs": 5}, None, 5),
        ({"n_epochs": "auto"}, None, AUTO_EPOCHS),
        ({}, None, AUTO_EPOCHS),
        (None, {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}, 2),
        (None, {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 6, "beta": 0.1}}}, 6),
        ({"n_epochs": 4}, {"type": "supervised", "supervised": {"hyperparameters": {}}}, 4),
        ({"n_epochs": True}, None, AUTO_EPOCHS),
        ({"n_epochs": "many"}, None, AUTO_EPOCHS),
        ({"n_epochs": 0}, None, AUTO_EPOCHS),
    ],
)
def test_epochs_come_from_the_method_else_the_hyperparameters_else_auto(
    hyperparameters, method, epochs
):
    assert epochs_of(hyperparameters, method) == epochs


# --------------------------------------------------------------------------
# Estimated cost in the ledger
# --------------------------------------------------------------------------


def create_job(master, body):
    file_id = master.upload(TRAINING).json()["id"]
    response = master.post_json("/v1/fine_tuning/jobs", {"training_file": file_id, **body})
    assert response.status_code == 200, response.content
    return File.objects.get(public_id=file_id), FineTuningJob.objects.get(
        public_id=response.json()["id"]
    )


@pytest.mark.django_db
def test_creating_a_job_records_its_estimated_cost(sandbox, master):
    file, job = create_job(master, {"model": "gpt-4o-mini", "hyperparameters": {"n_epochs": 2}})
    assert file.estimated_tokens
    assert job.estimated_cost_usd == Decimal(file.estimated_tokens * 2 * 3) / 1_000_000


@pytest.mark.django_db
def test_the_estimate_uses_the_epochs_of_the_method(sandbox, master):
    file, job = create_job(
        master,
        {
            "model": "gpt-4.1-mini",
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 4}}},
        },
    )
    assert job.estimated_cost_usd == Decimal(file.estimated_tokens * 4 * 5) / 1_000_000


@pytest.mark.django_db
def test_auto_epochs_are_estimated_as_three(sandbox, master):
    file, job = create_job(master, {"model": "gpt-4o-mini"})
    assert job.estimated_cost_usd == Decimal(file.estimated_tokens * 3 * 3) / 1_000_000


@pytest.mark.django_db
def test_a_job_on_an_unknown_model_has_no_estimated_cost(sandbox, master):
    _, job = create_job(master, {"model": "sandbox-tiny"})
    assert job.estimated_cost_usd is None
