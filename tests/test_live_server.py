"""The server ``make run`` starts (gunicorn's threaded workers over WSGI,
``gateway_site.serve``) and, where nginx is installed, the production
setup (nginx from ``deploy/nginx.conf`` in front of it), driven over real
sockets on 127.0.0.1: slow and lying clients are absorbed by nginx, chunked
uploads work, downloads stream, and a database outage (through a TCP proxy
the test controls) is a fast 503 that the gateway recovers from.

Every loop here is bounded in count and time.
"""

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import MASTER_KEY, TRAINING

ROOT = Path(__file__).resolve().parents[1]
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
#: nginx's header and body timeouts in these tests (seconds).
READ_TIMEOUT = 3
NGINX = shutil.which("nginx")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(var_dir: Path, **extra: str) -> dict[str, str]:
    config = var_dir / "config.yaml"
    entry = {
        "custom_llm_provider": "sandbox",
        "storage_dir": str(var_dir / "sandbox"),
        "validate_seconds": 0,
        "queue_seconds": 0,
        "run_seconds": 3600,
    }
    config.write_text(
        yaml.safe_dump(
            {
                "general_settings": {"master_key": "os.environ/FTPROXY_MASTER_KEY"},
                "finetune_settings": [entry],
                "files_settings": [dict(entry)],
                "ftproxy_settings": {"max_upload_mb": 4},
            }
        )
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        FTPROXY_CONFIG=str(config),
        FTPROXY_VAR_DIR=str(var_dir),
        FTPROXY_MASTER_KEY=MASTER_KEY,
        DJANGO_SECRET_KEY="test-secret-key-for-the-live-server",
        **extra,
    )
    return env


def wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def nginx_config(listen: int, app: int, max_body_mb: int) -> str:
    """``deploy/nginx.conf`` for a test: its ports, body limit and timeouts."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    for pattern, value in (
        (r"listen \d+;", f"listen 127.0.0.1:{listen};"),
        (r"server 127\.0\.0\.1:\d+;", f"server 127.0.0.1:{app};"),
        (r"client_max_body_size \w+;", f"client_max_body_size {max_body_mb}m;"),
        (r"client_header_timeout \w+;", f"client_header_timeout {READ_TIMEOUT}s;"),
        (r"client_body_timeout \w+;", f"client_body_timeout {READ_TIMEOUT}s;"),
    ):
        text, count = re.subn(pattern, value, text)
        assert count == 1, pattern
    return text


@contextlib.contextmanager
def serving(
    env: dict[str, str], *, migrate: bool = True, nginx: bool = False
) -> Iterator[tuple[str, Path]]:
    """The Makefile's server command on a free port (behind nginx from
    ``deploy/nginx.conf`` if ``nginx``); yields (base url, log file)."""
    from gateway_site.serve import command

    if migrate:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
    var = Path(env["FTPROXY_VAR_DIR"])
    app_port = free_port()
    log = var / "server.log"
    processes = []
    try:
        with open(log, "wb") as log_file:
            processes.append(
                subprocess.Popen(
                    command(f"127.0.0.1:{app_port}", 1, int(env.get("FTPROXY_THREADS", 8))),
                    cwd=ROOT,
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            )
        base = f"http://127.0.0.1:{app_port}"
        wait_for(f"{base}/health/liveliness", processes[0], log)
        if nginx:
            assert NGINX is not None
            prefix = var / "nginx"
            prefix.mkdir()
            port = free_port()
            config = prefix / "nginx.conf"
            max_body_mb = (
                int(
                    yaml.safe_load(Path(env["FTPROXY_CONFIG"]).read_text())["ftproxy_settings"][
                        "max_upload_mb"
                    ]
                )
                + 1
            )
            config.write_text(nginx_config(port, app_port, max_body_mb))
            user = pwd.getpwuid(os.getuid()).pw_name
            with open(var / "nginx.log", "wb") as nginx_log:
                processes.append(
                    subprocess.Popen(
                        [
                            NGINX,
                            "-p",
                            str(prefix),
                            "-c",
                            str(config),
                            "-e",
                            "stderr",
                            "-g",
                            f"daemon off; user {user};",
                        ],
                        stdout=nginx_log,
                        stderr=subprocess.STDOUT,
                    )
                )
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/health/liveliness", processes[1], var / "nginx.log")
        try:
            yield base, log
        except BaseException:
            sys.stderr.write(log.read_text()[-6000:])  # the server's side of a failure
            raise
    finally:
        for process in reversed(processes):
            stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The production setup: nginx in front of the gateway's server."""
    if NGINX is None:
        pytest.skip(
            "the production setup needs nginx on PATH (Debian: apt-get install nginx-light)"
        )
    env = server_env(tmp_path_factory.mktemp("live-server"))
    with serving(env, nginx=True) as (base, _):
        yield base


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory) -> Iterator[str]:
    """The gateway's server alone, as `make run` starts it."""
    with serving(server_env(tmp_path_factory.mktemp("plain-server"))) as (base, _):
        yield base


def slow_client(port: int, kind: str) -> socket.socket:
    """A connection that sends part of a request and then stalls."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if kind == "headers":
        sock.sendall(b"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    else:  # a Content-Length longer than the body that follows
        sock.sendall(
            b"POST /v1/fine_tuning/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"model": '
        )
    return sock


def read_all(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def cut_off(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``sock`` (sending nothing more) by ``deadline``."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def test_health_answers_while_64_slow_clients_hold_connections_then_they_are_cut(server):
    # nginx holds the 64 (gunicorn never sees them) and closes each when its
    # header or body timeout runs out.
    port = int(server.rsplit(":", 1)[1])
    slow = [slow_client(port, "headers" if i % 2 else "body") for i in range(64)]
    try:
        started = time.monotonic()
        for _ in range(3):
            assert requests.get(f"{server}/health/liveliness", timeout=2).status_code == 200
            assert requests.get(f"{server}/health/readiness", timeout=2).status_code == 200
        assert requests.get(f"{server}/v1/files", headers=AUTH, timeout=2).status_code == 200
        assert time.monotonic() - started < READ_TIMEOUT  # answered while all 64 were open
        deadline = time.monotonic() + READ_TIMEOUT * 2 + 2
        cut = [cut_off(sock, deadline) for sock in slow]
    finally:
        for sock in slow:
            sock.close()
    assert all(cut)


def test_the_liveness_port_answers_while_every_request_thread_is_held(tmp_path):
    """``FTPROXY_HEALTH_BIND``: the master answers liveness itself, so a
    probe there never waits behind requests (here the only request thread is
    held by a client that stalls mid-body; the main port's probe waits)."""
    health_port = free_port()
    env = server_env(tmp_path, FTPROXY_THREADS="1", FTPROXY_HEALTH_BIND=f"127.0.0.1:{health_port}")
    with serving(env) as (base, _):
        health = f"http://127.0.0.1:{health_port}"
        assert requests.get(f"{health}/health/liveliness", timeout=2).status_code == 200
        port = int(base.rsplit(":", 1)[1])
        held = slow_client(port, "body")
        try:
            time.sleep(0.5)  # the thread has taken it
            with pytest.raises(requests.Timeout):
                requests.get(f"{base}/health/liveliness", timeout=1)
            started = time.monotonic()
            answer = requests.get(f"{health}/health/liveliness", timeout=1)
            assert answer.status_code == 200
            assert answer.json() == {"status": "healthy"}
            assert time.monotonic() - started < 1
            assert requests.get(f"{health}/v1/files", timeout=1).status_code == 404
        finally:
            held.close()


def test_a_health_bind_that_is_not_host_and_port_stops_the_start():
    from gateway_site.gunicorn_hooks import parse_bind

    assert parse_bind("127.0.0.1:4001") == ("127.0.0.1", 4001)
    with pytest.raises(ValueError, match="FTPROXY_HEALTH_BIND must be HOST:PORT"):
        parse_bind("4001")


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "ftproxy-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: application/jsonl\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _open_database_files(path: Path) -> int:
    """How many file descriptors, in any process, hold the SQLite file at ``path``."""
    count = 0
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            count += sum(1 for fd in fd_dir.iterdir() if os.readlink(fd) == str(path))
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_a_burst_of_requests_keeps_one_database_connection_per_request_thread(tmp_path):
    # Requests run on a fixed set of threads that keep their connections: a
    # thread (or a connection) per request would leave ~200 open, closing
    # them would leave none.
    from concurrent.futures import ThreadPoolExecutor

    with serving(server_env(tmp_path, FTPROXY_THREADS="4")) as (base, _):
        database = (tmp_path / "ftproxy.sqlite3").resolve()

        def one(_):
            with requests.Session() as session:
                return session.get(f"{base}/v1/files?limit=2", headers=AUTH, timeout=30)

        with ThreadPoolExecutor(16) as pool:
            statuses = {response.status_code for response in pool.map(one, range(200))}
        assert statuses == {200}
        assert 1 <= _open_database_files(database) <= 4


@pytest.mark.parametrize("setup", ["server", "plain_server"])
def test_a_chunked_upload_works_and_its_content_streams_back(setup, request):
    server = request.getfixturevalue(setup)  # behind nginx, and alone (`make run`)
    body, content_type = multipart({"purpose": "fine-tune"}, "train.jsonl", TRAINING)

    def chunks():  # no length known in advance: requests sends it chunked
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    response = requests.post(
        f"{server}/v1/files",
        data=chunks(),
        headers={**AUTH, "Content-Type": content_type},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["bytes"] == len(TRAINING)
    content = requests.get(
        f"{server}/v1/files/{response.json()['id']}/content", headers=AUTH, timeout=10
    )
    assert content.content == TRAINING


def test_a_chunked_body_over_the_limit_is_a_413_without_nginx(plain_server):
    def chunks():  # 6 MB against the test config's 4 MB (and 1 MB for the multipart)
        for _ in range(6):
            yield b"x" * (1024 * 1024)

    response = requests.post(
        f"{plain_server}/v1/files",
        data=chunks(),
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=x"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_body_over_the_limit_is_refused_before_it_is_read(server):
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            b"boundary=x\r\nContent-Length: 50000000\r\n\r\n"
        )
        answer = read_all(sock, time.monotonic() + 3)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"request_too_large" in answer


# --------------------------------------------------------------------------
# A database outage, through a TCP proxy the test controls
# --------------------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; can freeze (hold every byte,
    keep connections open, as a dead link does) and thaw."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.frozen = threading.Event()
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.2)
        while not self.stopped.is_set():
            if self.frozen.is_set():
                time.sleep(0.05)  # hold the bytes: nothing moves on a frozen link
                continue
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


def test_a_frozen_database_link_is_a_fast_503_and_the_gateway_recovers(tmp_path, transactional_db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the outage runs through a TCP link: PostgreSQL")
    settings = connection.settings_dict
    proxy = TcpProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    url = f"postgres://{settings['USER']}@127.0.0.1:{proxy.port}/{settings['NAME']}"
    env = server_env(
        tmp_path,
        DATABASE_URL=url,
        FTPROXY_DB_TCP_USER_TIMEOUT_MS="1500",
        FTPROXY_DB_CONNECT_TIMEOUT="1",
        FTPROXY_DB_ANSWER_TIMEOUT_SECONDS="3",  # kept connections: each wait is bounded
    )
    body = {"model": "gpt-4o-mini", "training_file": "file-x"}
    try:
        with serving(env, migrate=False) as (base, log):
            assert requests.get(f"{base}/health/readiness", timeout=5).status_code == 200
            assert requests.get(f"{base}/v1/fine_tuning/jobs", headers=AUTH, timeout=5).ok
            proxy.frozen.set()
            started = time.monotonic()
            ready = requests.get(f"{base}/health/readiness", timeout=10)
            assert ready.status_code == 503
            assert time.monotonic() - started < 2.5
            started = time.monotonic()
            assert requests.get(f"{base}/health/liveliness", timeout=2).status_code == 200
            assert time.monotonic() - started < 0.5  # touches nothing
            started = time.monotonic()
            created = requests.post(
                f"{base}/v1/fine_tuning/jobs", json=body, headers=AUTH, timeout=30
            )
            assert created.status_code == 503, created.text
            assert "x-should-retry" not in created.headers  # nothing reached a provider
            assert time.monotonic() - started < 15  # bounded, not hung
            proxy.frozen.clear()
            deadline = time.monotonic() + 20
            while requests.get(f"{base}/health/readiness", timeout=5).status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            listed = requests.get(f"{base}/v1/fine_tuning/jobs", headers=AUTH, timeout=10)
            assert listed.status_code == 200  # recovered
        logged = log.read_text()
        assert logged.count("Traceback") == 0  # outages log lines, not tracebacks
    finally:
        proxy.close()
