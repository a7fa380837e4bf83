"""Benchmark of the Uploads API: a large upload in 64 MiB parts through a
real gateway (served as `make run` serves it) against the same upload sent
straight to a local fake upstream (an OpenAI look-alike with an Uploads API).

Two gateway cases: an ``openai`` entry (each part forwarded to the fake
upstream as it arrives, ``complete`` forwarded after the gateway has read
the parts once), and a ``sandbox`` entry (parts assembled on disk and
stored as one file at ``complete``). Reports wall time, throughput, the
time of ``complete`` alone, and the server worker's peak RSS growth.

Standalone: ``.venv/bin/python bench/uploads.py`` (``BENCH_UPLOADS_MB``,
default 1024; ``BENCH_UPLOADS_PORT``, default 4130, and the next port for
the fake upstream). From another bench: ``run(report=print)``. Everything
runs in subprocesses and temporary directories, so the caller's Django
setup is untouched. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PART_BYTES = 64 * 1024 * 1024
MASTER = "sk-bench-master"
#: Per-request bound: a stuck case fails instead of hanging the bench.
REQUEST_TIMEOUT = 300


class FakeUpstream(BaseHTTPRequestHandler):
    """OpenAI's Uploads API and files, reading and discarding bodies."""

    protocol_version = "HTTP/1.1"
    wbufsize = 65536
    counter = 0

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drain(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 65536:
            return self.rfile.read(length)
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        return b""

    def _next(self, prefix: str) -> str:
        FakeUpstream.counter += 1
        return f"{prefix}{FakeUpstream.counter}"

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = self._drain()
        now = int(time.time())
        if self.path.endswith("/uploads"):
            spec = json.loads(body)
            self._answer(
                {
                    **spec,
                    "id": self._next("upload_"),
                    "object": "upload",
                    "status": "pending",
                    "created_at": now,
                    "expires_at": now + 3600,
                }
            )
        elif self.path.endswith("/parts"):
            self._answer({"id": self._next("part_"), "object": "upload.part"})
        elif self.path.endswith("/complete") or self.path.endswith("/files"):
            file = {
                "id": self._next("file-"),
                "object": "file",
                "bytes": None,
                "created_at": now,
                "filename": "big.jsonl",
                "purpose": "fine-tune",
                "status": "processed",
            }
            if self.path.endswith("/files"):
                self._answer(file)
            else:
                upload_id = self.path.split("/")[-2]
                self._answer(
                    {
                        "id": upload_id,
                        "object": "upload",
                        "status": "completed",
                        "created_at": now,
                        "expires_at": now + 3600,
                        "bytes": 0,
                        "filename": "big.jsonl",
                        "purpose": "fine-tune",
                        "file": file,
                    }
                )
        else:
            self._answer({"error": {"message": "no route"}})


def _proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _write_jsonl(path: Path, megabytes: int) -> int:
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
    block = line * (1024 * 1024 // len(line) + 1)
    with path.open("wb") as handle:
        written = 0
        while written < megabytes * 1024 * 1024:
            handle.write(block)
            written += len(block)
    return path.stat().st_size


class _Slice:
    """``length`` bytes of a file from ``offset``, read on demand."""

    def __init__(self, path: Path, offset: int, length: int):
        self._handle = path.open("rb")
        self._handle.seek(offset)
        self.len = length

    def read(self, size: int = -1) -> bytes:
        if self.len <= 0:
            self._handle.close()
            return b""
        want = self.len if size is None or size < 0 else min(size, self.len)
        data = self._handle.read(want)
        self.len -= len(data)
        return data


def upload_in_parts(base: str, headers: dict[str, str], path: Path, size: int) -> float:
    """Create, send every 64 MiB part streamed from disk, complete; the
    seconds ``complete`` took."""
    import requests
    from requests_toolbelt import MultipartEncoder

    session = requests.Session()
    session.headers.update(headers)
    created = session.post(
        f"{base}/uploads",
        json={
            "filename": "big.jsonl",
            "purpose": "fine-tune",
            "bytes": size,
            "mime_type": "text/jsonl",
        },
        timeout=REQUEST_TIMEOUT,
    )
    created.raise_for_status()
    upload_id = created.json()["id"]
    part_ids = []
    for offset in range(0, size, PART_BYTES):
        body = MultipartEncoder(
            {"data": ("blob", _Slice(path, offset, min(PART_BYTES, size - offset)))}
        )
        part = session.post(
            f"{base}/uploads/{upload_id}/parts",
            data=body,
            headers={"Content-Type": body.content_type},
            timeout=REQUEST_TIMEOUT,
        )
        part.raise_for_status()
        part_ids.append(part.json()["id"])
    started = time.perf_counter()
    done = session.post(
        f"{base}/uploads/{upload_id}/complete",
        json={"part_ids": part_ids},
        timeout=REQUEST_TIMEOUT,
    )
    if done.status_code != 200:
        raise RuntimeError(f"complete answered {done.status_code}: {done.text[:300]}")
    return time.perf_counter() - started


def _gateway(workdir: Path, entry: dict[str, Any], port: int) -> tuple[subprocess.Popen, dict]:
    config = workdir / f"uploads-{entry['custom_llm_provider']}.yaml"
    config.write_text(
        json.dumps(
            {
                "general_settings": {"master_key": MASTER},
                "finetune_settings": [entry],
                "files_settings": [entry],
            }
        )
    )
    env = {
        **os.environ,
        "FTPROXY_CONFIG": str(config),
        "FTPROXY_VAR_DIR": str(workdir / "var"),
        "DJANGO_SETTINGS_MODULE": "gateway_site.settings",
    }
    env.pop("DATABASE_URL", None)
    python = Path(sys.executable)
    subprocess.run(
        [str(python), "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    from gateway_site.serve import command  # served exactly as `make run` serves

    server = subprocess.Popen(
        command(f"127.0.0.1:{port}", 1),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return server, env


def _wait_for(base: str) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/health/liveliness", timeout=5)
            return
        except requests.RequestException:  # not listening yet, or the worker still booting
            time.sleep(0.2)
    raise RuntimeError(f"the gateway at {base} did not start")


def bench_gateway(
    workdir: Path, entry: dict[str, Any], port: int, path: Path, size: int
) -> dict[str, float]:
    server, _ = _gateway(workdir, entry, port)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        worker = int(children[0]) if children else server.pid  # gunicorn's one worker
        headers = {"Authorization": f"Bearer {MASTER}"}
        # One small upload first, so imports and the first connection are done.
        small = workdir / "small.jsonl"
        upload_in_parts(f"{base}/v1", headers, small, small.stat().st_size)
        before = _proc_kib(worker, "VmRSS")
        started = time.perf_counter()
        complete_seconds = upload_in_parts(f"{base}/v1", headers, path, size)
        seconds = time.perf_counter() - started
        peak = _proc_kib(worker, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "seconds": seconds,
        "complete_seconds": complete_seconds,
        "rss_growth_mib": (peak - before) / 1024,
    }


def run(
    report: Callable[[str], None] = print, megabytes: int | None = None, port: int | None = None
) -> dict[str, dict[str, float]]:
    """Run the Uploads bench; ``report`` gets one line per case. Returns the numbers."""
    megabytes = megabytes or int(os.environ.get("BENCH_UPLOADS_MB", "1024"))
    port = port or int(os.environ.get("BENCH_UPLOADS_PORT", "4130"))
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ftproxy-bench-uploads-") as tmp:
        workdir = Path(tmp)
        upstream_server = ThreadingHTTPServer(("127.0.0.1", port + 1), FakeUpstream)
        threading.Thread(target=upstream_server.serve_forever, daemon=True).start()
        upstream = f"http://127.0.0.1:{port + 1}/v1"
        try:
            path = workdir / "big.jsonl"
            size = _write_jsonl(path, megabytes)
            _write_jsonl(workdir / "small.jsonl", 1)
            mib = size / 2**20

            started = time.perf_counter()
            upload_in_parts(upstream, {"Authorization": "Bearer sk-up"}, path, size)
            direct = time.perf_counter() - started
            results["direct"] = {"seconds": direct}
            report(
                f"uploads direct: {mib:.0f} MiB in {-(-size // PART_BYTES)} parts to the fake "
                f"upstream in {direct:.1f} s ({mib / direct:.0f} MiB/s)"
            )
            cases = {
                "openai": {
                    "custom_llm_provider": "openai",
                    "api_key": "sk-up",
                    "api_base": upstream,
                },
                "sandbox": {
                    "custom_llm_provider": "sandbox",
                    "storage_dir": str(workdir / "sandbox"),
                },
            }
            for name, entry in cases.items():
                numbers = bench_gateway(workdir, entry, port, path, size)
                results[name] = numbers
                how = "forwarded part by part" if name == "openai" else "assembled on disk"
                report(
                    f"uploads via gateway ({name}, {how}): {mib:.0f} MiB in "
                    f"{numbers['seconds']:.1f} s ({mib / numbers['seconds']:.0f} MiB/s, "
                    f"{numbers['seconds'] / direct:.1f}x direct; parts "
                    f"{numbers['seconds'] - numbers['complete_seconds']:.1f} s, complete "
                    f"{numbers['complete_seconds']:.1f} s) | worker peak RSS growth "
                    f"{numbers['rss_growth_mib']:.1f} MiB"
                )
        finally:
            upstream_server.shutdown()
            upstream_server.server_close()
    return results


if __name__ == "__main__":
    run()
