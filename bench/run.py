"""Benchmarks of the request path (DESIGN §8). Run with `make bench`.

1. Overhead: GET /v1/fine_tuning/jobs/{id} through the gateway (in-process
   Django, openai provider) against a direct GET of the same local fake
   upstream; median and p95 milliseconds, and SQL queries per request.
2. Upload memory: a large fine-tune upload through a real gunicorn worker to
   the fake upstream; the worker's peak RSS growth against the file size.

Prints one result line per measure. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JOB = {
    "id": "ftjob-bench",
    "object": "fine_tuning.job",
    "created_at": 1700000000,
    "error": None,
    "fine_tuned_model": None,
    "finished_at": None,
    "hyperparameters": {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8},
    "model": "gpt-4o-mini-2024-07-18",
    "organization_id": "org-bench",
    "result_files": [],
    "seed": 1,
    "status": "running",
    "trained_tokens": None,
    "training_file": "file-bench",
    "validation_file": None,
}


class FakeUpstream(BaseHTTPRequestHandler):
    """A fast OpenAI look-alike: answers jobs and file uploads."""

    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # headers and body in one write: no delayed-ACK stalls

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._answer(JOB)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        remaining, received = length, 0
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
            received += len(chunk)
        if "/files" in self.path:
            self._answer(
                {
                    "id": f"file-{time.time_ns()}",
                    "object": "file",
                    "bytes": received,
                    "created_at": int(time.time()),
                    "filename": "train.jsonl",
                    "purpose": "fine-tune",
                    "status": "processed",
                }
            )
        else:
            self._answer(JOB)


def start_upstream() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeUpstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def setup_django(upstream: str, workdir: Path) -> None:
    config = workdir / "bench.yaml"
    entry = {"custom_llm_provider": "openai", "api_key": "sk-bench", "api_base": upstream}
    config.write_text(
        json.dumps(
            {
                "general_settings": {"master_key": "sk-bench-master"},
                "finetune_settings": [entry],
                "files_settings": [entry],
                "ftproxy_settings": {"max_upload_mb": 2048},
            }
        )
    )
    os.environ["FTPROXY_CONFIG"] = str(config)
    os.environ["FTPROXY_VAR_DIR"] = str(workdir)
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "gateway_site.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_overhead(upstream: str, rounds: int = 300) -> None:
    import requests
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from ftproxy.models import FineTuningJob

    FineTuningJob.objects.create(
        public_id="ftjob-bench",
        remote_id="ftjob-bench",
        provider="openai",
        provider_kind="openai",
        model="gpt-4o-mini",
        created_at=1700000000,
        ledger_state="ok",
        status="running",
    )
    session = requests.Session()
    direct = []
    for _ in range(rounds):
        started = time.perf_counter()
        session.get(f"{upstream}/fine_tuning/jobs/ftjob-bench", timeout=10).json()
        direct.append((time.perf_counter() - started) * 1000)
    client = Client()
    auth = {"HTTP_AUTHORIZATION": "Bearer sk-bench-master"}
    via = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get("/v1/fine_tuning/jobs/ftjob-bench", **auth)
        via.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content
    with CaptureQueriesContext(connection) as queries:
        client.get("/v1/fine_tuning/jobs/ftjob-bench", **auth)
    with CaptureQueriesContext(connection) as list_queries:
        client.get("/v1/fine_tuning/jobs?limit=20", **auth)
    print(
        f"retrieve: direct median {statistics.median(direct):.2f} ms p95 "
        f"{percentile(direct, 0.95):.2f} ms | via gateway median {statistics.median(via):.2f} ms "
        f"p95 {percentile(via, 0.95):.2f} ms | added median "
        f"{statistics.median(via) - statistics.median(direct):.2f} ms | "
        f"queries retrieve={len(queries)} list={len(list_queries)}"
    )


def _proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def bench_upload(workdir: Path, megabytes: int) -> None:
    """Upload through a real gunicorn worker; report the worker's peak RSS
    growth (VmHWM - VmRSS before) against the file size."""
    import subprocess

    import requests
    from requests_toolbelt import MultipartEncoder

    line = (
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "q" * 400},
                    {"role": "assistant", "content": "a" * 400},
                ]
            }
        ).encode()
        + b"\n"
    )
    path = workdir / "big.jsonl"
    with path.open("wb") as handle:
        block = line * (1024 * 1024 // len(line) + 1)
        written = 0
        while written < megabytes * 1024 * 1024:
            handle.write(block)
            written += len(block)
    size = path.stat().st_size

    port = 4900 + os.getpid() % 90
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "gateway_site.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "600",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/health/liveliness", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        worker = int(children[0])
        before = _proc_kib(worker, "VmRSS")
        started = time.perf_counter()
        with path.open("rb") as handle:
            body = MultipartEncoder(
                {"purpose": "fine-tune", "file": ("big.jsonl", handle, "application/jsonl")}
            )
            response = requests.post(
                f"{base}/v1/files",
                data=body,
                headers={
                    "Content-Type": body.content_type,
                    "Authorization": "Bearer sk-bench-master",
                },
                timeout=600,
            )
        seconds = time.perf_counter() - started
        peak = _proc_kib(worker, "VmHWM")
        assert response.status_code == 200, response.text[:500]
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"upload: {size / 2**20:.0f} MiB through gunicorn in {seconds:.1f} s "
        f"({size / 2**20 / seconds:.0f} MiB/s) | worker peak RSS growth "
        f"{(peak - before) / 1024:.1f} MiB"
    )


def main() -> None:
    megabytes = int(os.environ.get("BENCH_UPLOAD_MB", "200"))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        upstream = start_upstream()
        setup_django(upstream, workdir)
        bench_overhead(upstream)
        bench_upload(workdir, megabytes)


if __name__ == "__main__":
    main()
