"""moto's server as the real HTTP upstream for S3 and Bedrock, with the few
places where moto 5.2 lacks what AWS does filled in (``extend_moto``), and a
fault-injecting front (``Front``) for the answers moto never gives.

Where moto differs from AWS, and what ``extend_moto`` does about it:

- ``GetModelCustomizationJob`` / ``StopModelCustomizationJob`` find a job by
  its name only; AWS takes the name or the job ARN (the provider sends the
  ARN). Extended: an ARN is resolved to its job.
- A job's answer has no ``statusDetails`` and always carries
  ``failureMessage`` and ``endTime`` (hard-coded). Extended: tests set the
  job's status, stages, metrics and failure (``set_job``); ``failureMessage``
  and ``endTime`` are left out until the job failed or ended.
- A job never moves on by itself (it stays ``InProgress``); tests move it.
- ``DeleteCustomModel`` finds a custom model by its name only; AWS takes the
  name or the model ARN (the provider sends the ARN, the job's
  ``outputModelArn``). Extended: an ARN is resolved to its model.
- A job's ``outputModelArn`` names a model moto never made
  (``<custom model name>-<job name>``); on AWS it is the ARN of the custom
  model the job made. Extended: the answer carries that model's ARN.
- ``ResourceNotFoundException`` comes with HTTP 400 (AWS: 404), and a create
  answers 200 (AWS: 201). Not changed: the provider reads the error code.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.parse
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from moto.bedrock.models import BedrockBackend, ModelCustomizationJob, bedrock_backends
from moto.server import ThreadedMotoServer

ACCOUNT = "123456789012"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_moto() -> tuple[ThreadedMotoServer, str]:
    """moto's server on loopback at a free port; (server, endpoint URL)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


# ---- moto extended where it lacks what AWS does ---------------------------------


def _by_name_or_arn(backend: BedrockBackend, identifier: str) -> str:
    for name, job in backend.model_customization_jobs.items():
        if identifier == job.job_arn:
            return name
    return identifier


def _job_dict(job: ModelCustomizationJob) -> dict[str, Any]:
    answer = ORIGINAL_TO_DICT(job)
    state = getattr(job, "ftproxy_state", {})
    if job.status != "Failed":
        answer.pop("failureMessage", None)
    if job.status not in ("Completed", "Failed", "Stopped"):
        answer.pop("endTime", None)
        answer.pop("outputModelArn", None)
    if "outputModelArn" in answer:  # the job's model, as on AWS
        answer["outputModelArn"] = model_arn_of(job)
    answer.pop("trainingMetrics", None)
    answer.pop("validationMetrics", None)
    answer.update(state)
    return answer


def model_arn_of(job: ModelCustomizationJob) -> str:
    """The ARN of the custom model moto made for ``job`` (AWS's
    ``outputModelArn``)."""
    models = bedrock_backends[job.account_id][job.region_name].custom_models.values()
    return next(model.model_arn for model in models if model.job_arn == job.job_arn)


ORIGINAL_TO_DICT = ModelCustomizationJob.to_dict
ORIGINAL_GET = BedrockBackend.get_model_customization_job
ORIGINAL_STOP = BedrockBackend.stop_model_customization_job
ORIGINAL_DELETE_MODEL = BedrockBackend.delete_custom_model


def _model_by_name_or_arn(backend: BedrockBackend, identifier: str) -> str:
    for name, model in backend.custom_models.items():
        if identifier == model.model_arn:
            return name
    return identifier


@contextmanager
def extend_moto():
    """moto's Bedrock backend taking job ARNs and answering with the state
    tests give a job (see the module docstring), for the ``with`` block."""
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            BedrockBackend,
            "get_model_customization_job",
            lambda self, job_identifier: ORIGINAL_GET(self, _by_name_or_arn(self, job_identifier)),
        )
        patch.setattr(
            BedrockBackend,
            "stop_model_customization_job",
            lambda self, job_identifier: ORIGINAL_STOP(self, _by_name_or_arn(self, job_identifier)),
        )
        patch.setattr(
            BedrockBackend,
            "delete_custom_model",
            lambda self, model_identifier: ORIGINAL_DELETE_MODEL(
                self, _model_by_name_or_arn(self, model_identifier)
            ),
        )
        patch.setattr(ModelCustomizationJob, "to_dict", _job_dict)
        yield


def backend() -> BedrockBackend:
    return bedrock_backends[ACCOUNT][REGION]


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_job(arn: str, status: str, **fields: Any) -> ModelCustomizationJob:
    """Move the job ``arn`` to ``status`` with the answer's extra ``fields``
    (``statusDetails``, ``trainingMetrics``, ``failureMessage``, ``endTime``…)."""
    job = backend().get_model_customization_job(arn)
    job.status = status
    job.ftproxy_state = {**getattr(job, "ftproxy_state", {}), **fields}
    return job


def stages(validation: str, processing: str = "NotStarted", training: str = "NotStarted") -> dict:
    """A ``statusDetails`` with each stage's status (times 1000 s apart)."""

    def stage(status: str, at: int) -> dict[str, Any]:
        if status == "NotStarted":
            return {"status": status}
        return {"status": status, "creationTime": iso(at), "lastModifiedTime": iso(at + 500)}

    return {
        "validationDetails": stage(validation, 1_800_000_000),
        "dataProcessingDetails": stage(processing, 1_800_001_000),
        "trainingDetails": stage(training, 1_800_002_000),
    }


# ---- the front: moto behind, faults on demand ------------------------------------


class Answer(dict):
    """One registered answer; ``call_count`` says how often it was given."""

    call_count = 0


class Rule:
    """What the front answers for one method and path, in order; the last
    answer repeats (as ``responses`` does)."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []


class Front(ThreadingHTTPServer):
    """A loopback HTTP server that forwards to moto, except where a test
    registered another answer (``add``): a status with a JSON body, a read
    that never answers in time, a refused or never-accepted connection.
    ``add`` takes the arguments of ``responses.RequestsMock.add``."""

    daemon_threads = True

    def __init__(self, upstream: str, read_delay: float):
        super().__init__(("127.0.0.1", 0), FrontHandler)
        self.upstream = urllib.parse.urlsplit(upstream)
        self.read_delay = read_delay
        self.rules: dict[tuple[str, str], Rule] = {}
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self._stalled: list[socket.socket] = []
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def rule(self, method: str, url: str) -> Rule:
        path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
        return self.rules.setdefault((method.upper(), path), Rule())

    def add(self, method: str, url: str, *, json: Any = None, status: int = 200,
            headers: dict[str, str] | None = None, body: Any = None) -> Answer:  # fmt: skip
        answer = Answer(status=status, json=json, headers=headers or {})
        if isinstance(body, requests.exceptions.ConnectTimeout):
            self._never_accept()
        elif isinstance(body, requests.exceptions.ReadTimeout):
            answer = Answer(stall=True)
        elif isinstance(body, requests.exceptions.ConnectionError):
            self._refuse()
        self.rule(method, url).answers.append(answer)
        return answer

    def forward_then_stall(self, method: str, url: str) -> Answer:
        """Forward to moto (the call takes effect), then never answer in time."""
        answer = Answer(forward=True, stall=True)
        self.rule(method, url).answers.append(answer)
        return answer

    def passthrough(self, method: str, url: str) -> Answer:
        answer = Answer(forward=True)
        self.rule(method, url).answers.append(answer)
        return answer

    def forget(self, method: str, url: str) -> None:
        """Drop the answers registered for ``method`` and ``url``."""
        self.rule(method, url).answers.clear()

    def _refuse(self) -> None:
        """Close the listening socket: every new connection is refused."""
        self.stop()

    def _never_accept(self) -> None:
        """Stop accepting and fill the backlog: new connections time out."""
        self.shutdown()
        self._stopped = True
        self.socket.listen(0)
        for _ in range(8):
            stalled = socket.socket()
            stalled.setblocking(False)
            stalled.connect_ex(self.server_address)
            self._stalled.append(stalled)
        time.sleep(0.2)

    def stop(self) -> None:
        if not self._stopped:
            self.shutdown()
            self._stopped = True
        self.server_close()
        for stalled in self._stalled:
            stalled.close()


#: Headers the front sets itself rather than copy from moto's answer.
HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "date", "server"})


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        rule = self.server.rules.get((self.command, path))
        answer = Answer(forward=True)
        if rule is not None and rule.answers:
            answer = rule.answers.pop(0) if len(rule.answers) > 1 else rule.answers[0]
            answer.call_count += 1
        if answer.get("stall"):
            if answer.get("forward"):
                self._forward(body)
            time.sleep(self.server.read_delay)
            self.close_connection = True
            return
        if answer.get("forward"):
            status, headers, data = self._forward(body)
        else:
            import json

            status, headers = answer["status"], dict(answer["headers"])
            data = json.dumps(answer["json"]).encode() if answer["json"] is not None else b""
            headers.setdefault("Content-Type", "application/json")
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in (
                "content-length",
                "connection",
                "transfer-encoding",
                "date",
                "server",
            ):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        upstream = self.server.upstream
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815 - http.server API

    def log_message(self, *args: Any) -> None:
        pass
