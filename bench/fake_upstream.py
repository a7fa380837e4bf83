"""A fast loopback OpenAI look-alike for the benchmarks, run as its own
process: ``python bench/fake_upstream.py --port N [--delay-ms MS]``.

It answers the files and fine-tuning routes the bench drives (create,
retrieve, cancel, list; file create and retrieve), with fresh ids for
creates, and reads uploads to the end without keeping them. ``--delay-ms``
adds that much latency to every answer (the sync case's slow provider).
It prints ``ready`` once it listens.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = 0.0


def job(job_id: str, status: str = "running") -> dict:
    return {
        "id": job_id,
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
        "status": status,
        "trained_tokens": None,
        "training_file": "file-bench",
        "validation_file": None,
        "estimated_finish": None,
        "integrations": None,
        "metadata": None,
        "method": {"type": "supervised"},
    }


def file(file_id: str, size: int = 10240) -> dict:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": 1700000000,
        "filename": "train.jsonl",
        "purpose": "fine-tune",
        "status": "processed",
        "status_details": None,
        "expires_at": None,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # headers and body in one write: no delayed-ACK stalls

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, body: dict) -> None:
        if DELAY:
            time.sleep(DELAY)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _drain(self) -> int:
        remaining = int(self.headers.get("Content-Length") or 0)
        received = 0
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
            received += len(chunk)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                left = size
                while left:
                    chunk = self.rfile.read(min(left, 1 << 20))
                    left -= len(chunk)
                self.rfile.readline()
                received += size
        return received

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        parts = path.split("/")
        if path.endswith("/fine_tuning/jobs"):
            self._answer(
                {
                    "object": "list",
                    "data": [job(f"ftjob-list-{i}") for i in range(20)],
                    "has_more": True,
                }
            )
        elif "/fine_tuning/jobs/" in path:
            self._answer(job(parts[-1]))
        elif "/files/" in path:
            self._answer(file(parts[-1]))
        else:
            self._answer({"object": "list", "data": [], "has_more": False})

    def do_POST(self):
        received = self._drain()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/files"):
            self._answer(file(f"file-{uuid.uuid4().hex}", received))
        elif path.endswith("/cancel"):
            self._answer(job(path.split("/")[-2], "cancelled"))
        elif path.endswith("/fine_tuning/jobs"):
            self._answer(job(f"ftjob-{uuid.uuid4().hex}", "validating_files"))
        else:
            self._answer(job(path.split("/")[-2]))


def main() -> None:
    global DELAY
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    DELAY = args.delay_ms / 1000
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
