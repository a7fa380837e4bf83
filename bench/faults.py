"""Fault runs, bounded and on 127.0.0.1 only. Not part of the tests.

    python bench/faults.py [--root DIR] [--creates N] [--latency [--baseline DIR]]

Starts a slow fake OpenAI upstream (each create takes 300 ms) and the
gateway (from ``--root``, default this tree) on PostgreSQL ``DATABASE_URL``
(its public schema is reset) or SQLite, then:

1. crash: N creates with an ``Idempotency-Key`` each from 8 threads; the
   server is killed with SIGKILL mid-burst and restarted; the claims' and
   rows' time limit is made to pass (their timestamps moved an hour back),
   and every key is retried once, then once more. Counted: keys stuck in
   flight before the retry, keys that own more than one upstream job,
   upstream jobs no ``ok`` ledger row links (orphans), ``ok`` rows with an
   empty status, and (where the tree has it) what ``ftproxy_sync_jobs``
   settles.
2. database flapping (PostgreSQL): the same creates while the link to the
   database (a TCP proxy here) is cut and restored four times; counted the
   same way.
3. slow clients: 64 connections trickle a request (half stop inside the
   headers, half send a Content-Length longer than the body); then 3
   liveness probes with a 2 s timeout each on the main port and 3 on
   ``FTPROXY_HEALTH_BIND``. Counted: probes answered.

   (The gateway's server alone, as `make run` serves it: without nginx in
   front, slow clients hold its threads, and only the master's liveness port
   answers; see deploy/nginx.conf.)

4. ``--latency``: the gateway from ``--baseline DIR`` (another checkout,
   e.g. ``git worktree add`` of the commit before a change) and from
   ``--root`` side by side, each served as its own ``gateway_site.serve``
   serves it, requests alternating between them: the median difference
   per request, for a forwarded jobs.retrieve, jobs.cancel and jobs.create
   (the fake answers creates at once here), jobs.list and liveliness.

Prints one line per run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests

HERE = Path(__file__).resolve().parent.parent
MASTER = "sk-fault-master"
CREATE_SECONDS = 0.3


class FakeOpenAI(BaseHTTPRequestHandler):
    """Creates (slowly), lists by metadata and retrieves jobs; keeps them."""

    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # headers and body in one write: no delayed-ACK stalls
    jobs: list[dict] = []
    lock = threading.Lock()
    create_seconds = CREATE_SECONDS

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path.rstrip("/").endswith("/cancel"):
            job_id = self.path.rstrip("/").rsplit("/", 2)[1]
            with self.lock:
                job = next((j for j in self.jobs if j["id"] == job_id), None)
                if job is not None:
                    job["status"] = "cancelled"
            if job is None:
                return self._answer(404, {"error": {"message": "no such job", "code": None}})
            return self._answer(200, job)
        with self.lock:
            job = {
                "id": f"ftjob-up-{len(self.jobs) + 1}",
                "object": "fine_tuning.job",
                "model": body.get("model"),
                "training_file": body.get("training_file"),
                "status": "queued",
                "created_at": int(time.time()),
                "metadata": body.get("metadata"),
                "hyperparameters": {},
            }
            self.jobs.append(job)
        time.sleep(self.create_seconds)  # the job exists upstream before the answer leaves
        self._answer(200, job)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.rstrip("/").endswith("fine_tuning/jobs"):
            query = parse_qs(url.query)
            wanted = {k[9:-1]: v[0] for k, v in query.items() if k.startswith("metadata[")}
            with self.lock:
                found = [
                    j
                    for j in self.jobs
                    if all((j.get("metadata") or {}).get(k) == v for k, v in wanted.items())
                ]
            return self._answer(200, {"object": "list", "data": found[:10], "has_more": False})
        job_id = url.path.rsplit("/", 1)[1]
        with self.lock:
            job = next((j for j in self.jobs if j["id"] == job_id), None)
        if job is None:
            return self._answer(404, {"error": {"message": "no such job", "code": None}})
        self._answer(200, job)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(root: Path, var: Path, upstream: str) -> dict[str, str]:
    config = var / "config.yaml"
    entry = {
        "custom_llm_provider": "openai",
        "api_key": "sk-upstream-fault",
        "api_base": upstream,
        "timeout": 10,
        "max_retries": 0,
    }
    config.write_text(
        json.dumps(
            {
                "general_settings": {"master_key": MASTER},
                "finetune_settings": [entry],
                "files_settings": [entry],
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(FTPROXY_CONFIG=str(config), FTPROXY_VAR_DIR=str(var), DJANGO_SECRET_KEY="fault")
    return env


def start(root: Path, env: dict[str, str], server: str, port: int) -> subprocess.Popen:
    """The gateway of the tree at ``root``, served as its ``make run`` serves
    it, with one worker (``server`` names it in the output only)."""
    command = [sys.executable, "-m", "gateway_site.serve", "--bind", f"127.0.0.1:{port}",
               "--workers", "1"]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def reset_database(root: Path, env: dict[str, str]) -> None:
    if env.get("DATABASE_URL", "").startswith("postgres"):
        script = (
            "import os, psycopg; c = psycopg.connect(os.environ['DATABASE_URL'], autocommit=True);"
            "c.execute('DROP SCHEMA public CASCADE'); c.execute('CREATE SCHEMA public')"
        )
        subprocess.run([sys.executable, "-c", script], env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=root, env=env, check=True
    )


def database_of_its_own(env: dict[str, str], name: str) -> str:
    """``DATABASE_URL`` with ``_<name>`` after the database's name; the
    database is created on the same server when it does not exist."""
    url = urlsplit(env["DATABASE_URL"])
    database = f"{url.path.lstrip('/')}_{name}"
    script = (
        "import os, sys, psycopg; from psycopg import sql;"
        "c = psycopg.connect(os.environ['DATABASE_URL'], autocommit=True);"
        "q = 'SELECT 1 FROM pg_database WHERE datname = %s';"
        "c.execute(q, [sys.argv[1]]).fetchone() or c.execute("
        "sql.SQL('CREATE DATABASE {}').format(sql.Identifier(sys.argv[1])))"
    )
    subprocess.run([sys.executable, "-c", script, database], env=env, check=True)
    return urlunsplit((url.scheme, url.netloc, f"/{database}", url.query, url.fragment))


def django_shell(root: Path, env: dict[str, str], code: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""  # the printed value (after shell's banner)


def create(base: str, key: str) -> int:
    try:
        return requests.post(
            f"{base}/v1/fine_tuning/jobs",
            json={"model": "gpt-4o-mini", "training_file": "file-x", "metadata": {"k": key}},
            headers={"Authorization": f"Bearer {MASTER}", "Idempotency-Key": key},
            timeout=15,
        ).status_code
    except requests.RequestException:
        return 0


COUNT_STUCK = (
    "from ftproxy.models import IdempotencyRecord as R;"
    "print(R.objects.filter(status_code__isnull=True).count())"
)
TIME_PASSES = (
    "from datetime import timedelta; from django.db.models import F;"
    "from ftproxy.models import IdempotencyRecord as R, FineTuningJob as J;"
    "R.objects.update(created=F('created') - timedelta(hours=1));"
    "fields = {f.name for f in R._meta.get_fields()};"
    "'expires_at' in fields and R.objects.update(expires_at=F('created'));"
    "J.objects.update(created_at=F('created_at') - 3600)"
)
LEDGER = (
    "import json; from ftproxy.models import FineTuningJob as J;"
    "print(json.dumps([[j.remote_id, j.ledger_state, j.status] for j in J.objects.all()]))"
)


def crash_run(root: Path, env: dict[str, str], server: str, creates: int) -> str:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(root, env, server, port)
    keys = [f"key-{i}" for i in range(creates)]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(create, base, key) for key in keys]
        time.sleep(CREATE_SECONDS * creates / 8 / 2)  # mid-burst
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        first = [f.result() for f in futures]
    upstream_at_kill = len(FakeOpenAI.jobs)
    process = start(root, env, server, port)
    stuck = int(django_shell(root, env, COUNT_STUCK) or 0)
    django_shell(root, env, TIME_PASSES)
    for _ in range(2):  # the client retries every key (twice, as the SDK would)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: create(base, key), keys))
    process.terminate()
    process.wait()
    still_stuck = int(django_shell(root, env, COUNT_STUCK) or 0)
    sync = subprocess.run(
        [sys.executable, "manage.py", "ftproxy_sync_jobs"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.strip()
    ledger = json.loads(django_shell(root, env, LEDGER) or "[]")
    linked = {remote for remote, state, _ in ledger if state == "ok" and remote}
    per_key: dict[str, int] = {}
    for job in FakeOpenAI.jobs:
        key = (job.get("metadata") or {}).get("k")
        per_key[key] = per_key.get(key, 0) + 1
    duplicated = sum(1 for count in per_key.values() if count > 1)
    orphans = sum(1 for job in FakeOpenAI.jobs if job["id"] not in linked)
    empty = sum(1 for _, state, status in ledger if state == "ok" and not status)
    return (
        f"crash ({server}, {creates} creates, SIGKILL mid-burst): keys in flight at the kill="
        f"{stuck}, still stuck after the retries={still_stuck} "
        f"keys with 2+ upstream jobs={duplicated} orphaned upstream jobs={orphans} "
        f"ok rows with empty status={empty} upstream jobs={len(FakeOpenAI.jobs)} "
        f"(at the kill: {upstream_at_kill}, answered 200: {first.count(200)}) "
        f"| sync: {sync.splitlines()[0] if sync else '-'}"
    )


class CuttableProxy:
    """127.0.0.1:<port> → the database; ``cut()`` drops every connection and
    refuses new ones until ``restore()`` (a database restart, as seen from
    the gateway)."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.up = threading.Event()
        self.up.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.close()
            except OSError:
                pass

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets.clear()

    def restore(self) -> None:
        self.up.set()


def flap_run(root: Path, env: dict[str, str], server: str, creates: int, flaps: int = 4) -> str:
    """Keyed creates while the database link is cut and restored ``flaps``
    times; then the time limits pass and every key is retried twice."""
    url = urlsplit(env["DATABASE_URL"])
    proxy = CuttableProxy((url.hostname or "127.0.0.1", url.port or 5432))
    proxied = dict(env, DATABASE_URL=env["DATABASE_URL"].replace(
        f"{url.hostname}:{url.port or 5432}", f"127.0.0.1:{proxy.port}"
    ), FTPROXY_DB_CONNECT_TIMEOUT="2")  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(root, proxied, server, port)
    FakeOpenAI.jobs.clear()
    keys = [f"flap-{i}" for i in range(creates)]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(create, base, key) for key in keys]
        for _ in range(flaps):
            time.sleep(CREATE_SECONDS * 2)
            proxy.cut()
            time.sleep(0.5)
            proxy.restore()
        first = [f.result() for f in futures]
    stuck = int(django_shell(root, env, COUNT_STUCK) or 0)
    django_shell(root, env, TIME_PASSES)
    for _ in range(2):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: create(base, key), keys))
    os.killpg(process.pid, signal.SIGTERM)
    process.wait()
    still_stuck = int(django_shell(root, env, COUNT_STUCK) or 0)
    subprocess.run(
        [sys.executable, "manage.py", "ftproxy_sync_jobs"], cwd=root, env=env,
        capture_output=True, timeout=120,
    )  # fmt: skip
    ledger = json.loads(django_shell(root, env, LEDGER) or "[]")
    linked = {remote for remote, state, _ in ledger if state == "ok" and remote}
    per_key: dict[str, int] = {}
    for job in FakeOpenAI.jobs:
        key = (job.get("metadata") or {}).get("k")
        per_key[key] = per_key.get(key, 0) + 1
    empty = sum(1 for _, state, status in ledger if state == "ok" and not status)
    return (
        f"database flapping ({server}, {creates} creates, {flaps} cuts): stuck keys after the "
        f"burst={stuck}, still stuck after the retries={still_stuck} "
        f"keys with 2+ upstream jobs={sum(1 for c in per_key.values() if c > 1)} "
        f"orphaned upstream jobs={sum(1 for j in FakeOpenAI.jobs if j['id'] not in linked)} "
        f"ok rows with empty status={empty}"
        f" (first answers: 200={first.count(200)} 5xx={sum(1 for c in first if c >= 500)})"
    )


def slow_clients_run(root: Path, env: dict[str, str], server: str, clients: int = 64) -> str:
    """64 connections that stall inside their request, then 3 liveness
    probes on the main port and 3 on ``FTPROXY_HEALTH_BIND`` (where the tree
    has it: the server's master answers there)."""
    port, health_port = free_port(), free_port()
    process = start(root, {**env, "FTPROXY_HEALTH_BIND": f"127.0.0.1:{health_port}"}, server, port)
    sockets = []
    answered = {port: 0, health_port: 0}
    try:
        for i in range(clients):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                sock.sendall(b"GET /health/liveliness HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            else:
                sock.sendall(
                    b"POST /v1/fine_tuning/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    b"application/json\r\nContent-Length: 100000\r\n\r\n{"
                )
            sockets.append(sock)
        time.sleep(0.5)
        for probed in answered:
            for _ in range(3):
                try:
                    url = f"http://127.0.0.1:{probed}/health/liveliness"
                    answered[probed] += requests.get(url, timeout=2).ok
                except requests.RequestException:
                    pass
    finally:
        for sock in sockets:
            sock.close()
        process.terminate()
        process.wait()
    return (
        f"slow clients ({server}, {clients} connections): health probes answered="
        f"{answered[port]}/3, on FTPROXY_HEALTH_BIND={answered[health_port]}/3"
    )


def latency_run(roots: dict[str, Path], env: dict[str, str], rounds: int = 600) -> str:
    """Two trees' gateways at once, requests alternating between them over
    one kept-alive connection each (so machine noise hits both alike): the
    median per-request difference (second minus first), for a forwarded
    retrieve and for liveliness. Each tree has a database of its own (on
    PostgreSQL, ``DATABASE_URL``'s name with the tree's name after it,
    created when missing), migrated by its own code: their schemas may
    differ."""
    servers = {}
    (first, _), (second, _) = roots.items()
    jobs = {}
    try:
        for name, root in roots.items():
            var = Path(env["FTPROXY_VAR_DIR"]) / name
            var.mkdir(exist_ok=True)
            tree_env = {**env, "FTPROXY_VAR_DIR": str(var)}
            if env.get("DATABASE_URL", "").startswith("postgres"):
                tree_env["DATABASE_URL"] = database_of_its_own(env, name)
            reset_database(root, tree_env)
            port = free_port()
            servers[name] = (start(root, tree_env, name, port), f"http://127.0.0.1:{port}")
        sessions = {name: requests.Session() for name in servers}
        for name, session in sessions.items():
            session.headers["Authorization"] = f"Bearer {MASTER}"
            created = session.post(
                f"{servers[name][1]}/v1/fine_tuning/jobs",
                json={"model": "m", "training_file": "file-x"},
            )
            if created.status_code != 200:
                raise SystemExit(f"latency: {name}'s create answered {created.status_code}")
            jobs[name] = created.json()["id"]
        results = []
        cases = (
            ("retrieve", "GET", "/v1/fine_tuning/jobs/{job}", None),
            ("cancel", "POST", "/v1/fine_tuning/jobs/{job}/cancel", None),
            ("create", "POST", "/v1/fine_tuning/jobs", {"model": "m", "training_file": "file-x"}),
            ("list", "GET", "/v1/fine_tuning/jobs?limit=20", None),
            ("health", "GET", "/health/liveliness", None),
        )
        FakeOpenAI.create_seconds = 0  # here creates are timed, not crashed
        for label, method, path, body in cases:
            times: dict[str, list[float]] = {name: [] for name in servers}
            for _ in range(rounds):
                for name, (_, base) in servers.items():
                    url = base + path.format(job=jobs[name])
                    started = time.perf_counter()
                    sessions[name].request(method, url, json=body, timeout=10).raise_for_status()
                    times[name].append((time.perf_counter() - started) * 1000)
            diffs = sorted(
                b - a for a, b in zip(times[first][50:], times[second][50:], strict=True)
            )
            medians = {name: sorted(t[50:])[len(t[50:]) // 2] for name, t in times.items()}
            results.append(
                f"{label}: {first} median {medians[first]:.2f} ms, {second} "
                f"{medians[second]:.2f} ms, median difference {diffs[len(diffs) // 2]:+.2f} ms"
            )
        FakeOpenAI.create_seconds = CREATE_SECONDS
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait()
    return f"latency ({rounds} alternating rounds): " + " | ".join(results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=HERE)
    parser.add_argument("--baseline", type=Path, help="--latency: the tree to compare with")
    parser.add_argument("--creates", type=int, default=80)
    parser.add_argument("--latency", action="store_true", help="Only the latency run.")
    args = parser.parse_args()
    upstream_server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=upstream_server.serve_forever, daemon=True).start()
    upstream = f"http://127.0.0.1:{upstream_server.server_address[1]}/v1"
    with tempfile.TemporaryDirectory(prefix="ftproxy-faults-") as var:
        env = environment(args.root, Path(var), upstream)
        reset_database(args.root, env)
        if args.latency:
            roots = {"baseline": args.baseline or args.root, "this": args.root}
            print(latency_run(roots, env), flush=True)
            upstream_server.shutdown()
            return
        print(crash_run(args.root, env, "make run", min(args.creates, 400)), flush=True)
        print(slow_clients_run(args.root, env, "make run"), flush=True)
        if env.get("DATABASE_URL", "").startswith("postgres"):
            reset_database(args.root, env)
            print(flap_run(args.root, env, "make run", min(args.creates, 400)), flush=True)
    upstream_server.shutdown()


if __name__ == "__main__":
    main()
