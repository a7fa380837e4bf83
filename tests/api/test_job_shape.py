"""The job's wire shape is written once: ``providers.data.JOB_FIELDS``.
The API's job shape answers exactly those fields in that order, reads the
ledger columns behind them, and the OpenAI answers pass on every other field
a provider sends."""

from __future__ import annotations

from ftproxy.api.shapes import FineTuningJob
from ftproxy.models import FineTuningJob as JobRow
from ftproxy.providers.data import JOB_FIELDS
from ftproxy.providers.openai.answers import OpenAIAnswers


def test_the_api_shape_answers_exactly_the_job_fields_in_order():
    assert tuple(FineTuningJob().fields) == JOB_FIELDS


def test_each_job_field_but_the_constants_is_a_ledger_column():
    columns = {field.name for field in JobRow._meta.concrete_fields}
    assert set(FineTuningJob.columns) <= columns
    assert set(FineTuningJob.columns) == {"public_id", "upstream_fields"} | (
        set(JOB_FIELDS) - {"id", "object"}
    )


def test_a_field_outside_the_list_is_passed_on_and_the_listed_ones_are_not():
    answer = {name: None for name in JOB_FIELDS} | {
        "id": "ftjob-1",
        "object": "fine_tuning.job",
        "status": "running",
        "created_at": 1,
        "model": "m",
        "training_file": "file-1",
        "organisation_id": "org-1",
        "user_provided_suffix": "nightly",
    }
    job = OpenAIAnswers().to_job(answer)
    assert job.upstream_fields == {"user_provided_suffix": "nightly"}
