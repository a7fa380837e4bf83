"""The provider contract: what every provider does, one base test class that
each provider's test module subclasses (once per flavour of upstream).

The cases drive a provider through its public hooks only (``upload_file``,
``retrieve_job``, …) with HTTP mocked at the boundary (``responses``); a
subclass says how its upstream answers (the ``stub_*`` hooks) and what its
words mean (``status_cases``). Cases about HTTP (error mapping, retries,
timeouts) skip for a provider that speaks none (``speaks_http``).

Adding a provider: subclass ``ProviderContract`` in its test package,
implement the hooks, and run it; see docs/providers/adding-a-provider.md.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import requests
import responses

from ftproxy.errors import (
    ProviderAuthError,
    ProviderFailure,
    ProviderInputError,
    ProviderNotFound,
    ProviderNotSupported,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from ftproxy.providers.base import Provider
from ftproxy.providers.data import (
    FileUpload,
    JobCreate,
    Page,
    RemoteCheckpoint,
    RemoteEvent,
    RemoteFile,
    RemoteJob,
)

#: OpenAI's job statuses, plus ``paused``.
OPENAI_STATUSES = frozenset(
    {"validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"}
)
EVENT_LEVELS = frozenset({"info", "warn", "error"})


def chat_jsonl(count: int = 10) -> bytes:
    """``count`` chat examples, as a user uploads them."""
    line = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi."},
        ]
    }
    return b"".join(json.dumps(line).encode() + b"\n" for _ in range(count))


class ProviderContract:
    """The cases every provider passes. Subclass it as ``Test<Provider>Contract``."""

    #: False for a provider without an upstream (the sandbox): HTTP cases skip.
    speaks_http: ClassVar[bool] = True
    #: The entry's credential; it never shows in a repr or an error.
    secret: ClassVar[str] = ""
    #: A base model the provider trains.
    model: ClassVar[str] = ""
    #: The remote id of a job the stubs answer for.
    job_id: ClassVar[str] = "ftjob-contract"
    #: (the upstream's word, OpenAI's status, terminal) for each status it has.
    status_cases: ClassVar[list[tuple[str, str, bool]]] = []

    # ---- what a subclass provides ------------------------------------------
    def make_provider(self, tmp_path) -> Provider:
        raise NotImplementedError

    def stub_auth(self, mocked: responses.RequestsMock) -> None:
        """Answer what the provider asks before any call (a token), if anything."""

    def stub_upload(self, mocked: responses.RequestsMock, data: bytes) -> None:
        raise NotImplementedError

    def stub_retrieve_file(self, mocked: responses.RequestsMock, data: bytes) -> None:
        raise NotImplementedError

    def stub_content(self, mocked: responses.RequestsMock, data: bytes) -> None:
        raise NotImplementedError

    def stub_delete(self, mocked: responses.RequestsMock) -> None:
        raise NotImplementedError

    def training_file(self, provider: Provider) -> str:
        """The reference a job trains on (the sandbox uploads one first)."""
        return "file-contract"

    def stub_create_job(self, mocked: responses.RequestsMock) -> None:
        raise NotImplementedError

    def stub_job(self, mocked: responses.RequestsMock, raw_status: str) -> None:
        """Answer the job's retrieval with the upstream's status ``raw_status``."""
        raise NotImplementedError

    def stub_cancel(self, mocked: responses.RequestsMock) -> None:
        raise NotImplementedError

    def stub_pause(self, mocked: responses.RequestsMock, action: str) -> None:
        """Answer ``pause`` or ``resume`` (providers that ``can_pause``)."""
        raise NotImplementedError

    def stub_events(self, mocked: responses.RequestsMock) -> None:
        raise NotImplementedError

    def stub_checkpoints(self, mocked: responses.RequestsMock) -> None:
        raise NotImplementedError

    def job_url(self) -> str:
        """The URL ``retrieve_job`` GETs (error cases answer there)."""
        raise NotImplementedError

    def create_url(self) -> str:
        """The URL ``create_job`` POSTs to."""
        raise NotImplementedError

    def error_answer(self, status: int, message: str) -> dict[str, Any]:
        """The upstream's error body for ``status``."""
        return {"error": {"message": message, "code": None}}

    # ---- fixtures ------------------------------------------------------------
    @pytest.fixture
    def mocked(self) -> Iterator[responses.RequestsMock]:
        """The HTTP boundary: any call without an answer fails the case."""
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            self.stub_auth(mock)
            yield mock

    @pytest.fixture
    def provider(self, tmp_path) -> Provider:
        return self.make_provider(tmp_path)

    def new_job(self, provider: Provider) -> RemoteJob:
        return provider.create_job(
            JobCreate(model=self.model, training_file=self.training_file(provider))
        )

    def http_only(self) -> None:
        if not self.speaks_http:
            pytest.skip("the provider speaks no HTTP")

    # ---- files -----------------------------------------------------------------
    def test_a_file_is_created_retrieved_read_back_and_deleted(self, mocked, provider):
        data = chat_jsonl()
        self.stub_upload(mocked, data)
        upload = FileUpload("train.jsonl", "fine-tune", io.BytesIO(data), len(data))
        created = provider.upload_file(upload)
        assert isinstance(created, RemoteFile) and created.remote_id
        assert (created.filename, created.purpose, created.bytes) == (
            "train.jsonl",
            "fine-tune",
            len(data),
        )

        self.stub_retrieve_file(mocked, data)
        found = provider.retrieve_file(created.remote_id)
        assert found is None or found.remote_id == created.remote_id  # None: the ledger knows

        self.stub_content(mocked, data)
        content = provider.file_content(created.remote_id)
        try:
            assert b"".join(content.chunks) == data
        finally:
            if content.close:
                content.close()

        self.stub_delete(mocked)
        assert provider.delete_file(created.remote_id) is None

    # ---- jobs ------------------------------------------------------------------
    def test_a_job_is_created_and_retrieved_in_openais_words(self, mocked, provider):
        self.stub_create_job(mocked)
        created = self.new_job(provider)
        assert isinstance(created, RemoteJob) and created.remote_id
        assert created.status in OPENAI_STATUSES and not created.terminal
        assert created.model

        self.stub_job(mocked, self.status_cases[0][0])
        found = provider.retrieve_job(created.remote_id)
        assert found.remote_id == created.remote_id and found.status in OPENAI_STATUSES

    def test_a_job_is_cancelled(self, mocked, provider):
        self.stub_create_job(mocked)
        job = self.new_job(provider)
        self.stub_cancel(mocked)
        assert provider.cancel_job(job.remote_id).status == "cancelled"

    @pytest.mark.parametrize(("action", "status"), [("pause", "paused"), ("resume", "running")])
    def test_pause_and_resume_or_the_400_where_the_provider_cannot(
        self, mocked, provider, action, status
    ):
        self.stub_create_job(mocked)
        job = self.new_job(provider)
        hook = getattr(provider, f"{action}_job")
        if not provider.can_pause:
            with pytest.raises(ProviderNotSupported) as caught:
                hook(job.remote_id)
            assert caught.value.status_code == 400
            return
        if action == "resume":
            self.stub_pause(mocked, "pause")
            provider.pause_job(job.remote_id)
        self.stub_pause(mocked, action)
        answered = hook(job.remote_id)
        assert answered.status == status or (action == "resume" and answered.status == "queued")

    def test_events_are_a_page_or_none_without_a_feed(self, mocked, provider):
        self.stub_create_job(mocked)
        job = self.new_job(provider)
        self.stub_events(mocked)
        page = provider.list_job_events(job.remote_id, None, 10)
        if not provider.lists_events:
            assert page is None  # the gateway's own status history serves as the events
            return
        assert isinstance(page, Page) and len(page.items) <= 10
        for event in page.items:
            assert isinstance(event, RemoteEvent) and event.id and event.level in EVENT_LEVELS
        times = [event.created_at for event in page.items]
        assert times == sorted(times, reverse=True)  # newest first

    def test_checkpoints_are_a_page_newest_first(self, mocked, provider):
        self.stub_create_job(mocked)
        job = self.new_job(provider)
        if not provider.lists_checkpoints:
            with pytest.raises(ProviderNotSupported):
                provider.list_job_checkpoints(job.remote_id, None, 10)
            return
        self.stub_checkpoints(mocked)
        page = provider.list_job_checkpoints(job.remote_id, None, 10)
        assert isinstance(page, Page)
        assert all(isinstance(c, RemoteCheckpoint) and c.id for c in page.items)
        steps = [c.step_number for c in page.items]
        assert steps == sorted(steps, reverse=True)

    def test_every_upstream_status_maps_to_openais(self, provider):
        assert self.status_cases, "name the upstream's statuses"
        for raw, status, terminal in self.status_cases:
            with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
                self.stub_auth(mocked)
                job = self.job_in(mocked, provider, raw)
            assert (job.status, job.terminal) == (status, terminal), raw

    def job_in(self, mocked, provider: Provider, raw: str) -> RemoteJob:
        """The job as the provider reads it when the upstream says ``raw``."""
        self.stub_job(mocked, raw)
        job = provider.retrieve_job(self.job_id)
        assert job.raw_status == raw
        return job

    # ---- errors ----------------------------------------------------------------
    def fail_retrieval(self, mocked, status: int, message: str = "upstream says no", **kw: Any):
        return mocked.add(
            "GET", self.job_url(), json=self.error_answer(status, message), status=status, **kw
        )

    def test_a_4xx_is_passed_on_with_its_status_and_message(self, mocked, provider):
        self.http_only()
        self.fail_retrieval(mocked, 400, "That job cannot be read.")
        with pytest.raises(ProviderInputError) as caught:
            provider.retrieve_job(self.job_id)
        assert (caught.value.status_code, caught.value.upstream_status) == (400, 400)
        assert "That job cannot be read." in caught.value.message

    def test_a_404_is_not_found(self, mocked, provider):
        self.http_only()
        self.fail_retrieval(mocked, 404, "No such job.")
        with pytest.raises(ProviderNotFound) as caught:
            provider.retrieve_job(self.job_id)
        assert caught.value.status_code == 404

    def test_a_5xx_is_retried_then_a_502(self, mocked, provider):
        self.http_only()
        failing = self.fail_retrieval(mocked, 500, "boom")
        with pytest.raises(ProviderFailure) as caught:
            provider.retrieve_job(self.job_id)
        assert (caught.value.status_code, caught.value.upstream_status) == (502, 500)
        assert failing.call_count == provider.max_retries + 1

    def test_a_read_is_retried_after_a_503(self, mocked, provider):
        self.http_only()
        failing = self.fail_retrieval(mocked, 503, "busy")
        self.stub_job(mocked, self.status_cases[0][0])
        assert provider.retrieve_job(self.job_id).status in OPENAI_STATUSES
        assert failing.call_count == 1

    def test_a_create_is_never_replayed_after_a_5xx(self, mocked, provider):
        self.http_only()
        rsp = mocked.add("POST", self.create_url(), json=self.error_answer(500, "x"), status=500)
        with pytest.raises(ProviderFailure):
            self.new_job(provider)
        assert rsp.call_count == 1

    def test_a_429_is_passed_on_with_its_retry_after(self, mocked, provider):
        self.http_only()
        rsp = self.fail_retrieval(mocked, 429, "slow down", headers={"Retry-After": "60"})
        with pytest.raises(ProviderRateLimited) as caught:
            provider.retrieve_job(self.job_id)
        assert (caught.value.status_code, caught.value.retry_after) == (429, "60")
        assert rsp.call_count == 1  # longer than the gateway waits: the client waits

    @pytest.mark.parametrize(
        ("failure", "error", "status"),
        [
            (requests.exceptions.ReadTimeout("read timed out"), ProviderTimeout, 504),
            (requests.exceptions.ConnectTimeout("connect timed out"), ProviderTimeout, 504),
            (requests.exceptions.ConnectionError("refused"), ProviderUnavailable, 503),
        ],
    )
    def test_timeouts_are_504_and_an_unreachable_upstream_503(
        self, mocked, provider, failure, error, status
    ):
        self.http_only()
        mocked.add("GET", self.job_url(), body=failure)
        with pytest.raises(error) as caught:
            provider.retrieve_job(self.job_id)
        assert caught.value.status_code == status

    # ---- secrets ---------------------------------------------------------------
    def test_the_key_never_shows_in_a_repr_or_an_error(self, provider):
        assert provider.name in repr(provider)
        if self.secret:
            assert self.secret not in repr(provider)
        if not self.speaks_http:
            return
        for status in (401, 400, 500):
            with responses.RequestsMock(assert_all_requests_are_fired=False) as failing:
                self.stub_auth(failing)
                self.fail_retrieval(failing, status, "Incorrect credentials")
                with pytest.raises((ProviderAuthError, ProviderInputError, ProviderFailure)) as e:
                    provider.retrieve_job(self.job_id)
            shown = f"{e.value} {e.value.message} {e.value!r} {e.value.body!r}"
            assert self.secret not in shown
        assert isinstance(e.value, ProviderFailure) and e.value.status_code == 502
