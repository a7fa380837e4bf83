"""A big fine-tune upload through the server ``make run`` starts, to an
OpenAI-style upstream on 127.0.0.1: the file goes from the server's spool
of the request body to the upstream while it is validated. A good file
arrives whole; a bad line deep inside is a 400 naming it, with nothing
created upstream and nothing in the ledger.

Every loop here is bounded in count and time."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests
import yaml

from tests.conftest import MASTER_KEY
from tests.files_upstream import files_upstream
from tests.test_live_server import AUTH, server_env, serving

LINE = (
    json.dumps(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Tell me about gradients " * 8},
                {"role": "assistant", "content": "They point uphill. " * 12},
            ]
        }
    ).encode()
    + b"\n"
)
#: About 20 MB: past the size at which the file is sent while it is scanned.
BIG = LINE * (20_000_000 // len(LINE))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with files_upstream() as (base, received):
        var_dir = tmp_path_factory.mktemp("live-streamed")
        env = server_env(var_dir)
        entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": base}
        config = {
            "general_settings": {"master_key": "os.environ/FTPROXY_MASTER_KEY"},
            "finetune_settings": [entry],
            "files_settings": [dict(entry)],
            "ftproxy_settings": {"max_upload_mb": 64},
        }
        (var_dir / "config.yaml").write_text(yaml.safe_dump(config))
        assert env["FTPROXY_MASTER_KEY"] == MASTER_KEY
        with serving(env) as (url, _):
            yield url, received, var_dir


def upload(url: str, data: bytes) -> requests.Response:
    return requests.post(
        f"{url}/v1/files",
        files={"file": ("train.jsonl", data, "application/jsonl")},
        data={"purpose": "fine-tune"},
        headers=AUTH,
        timeout=120,
    )


def listed(url: str) -> list[str]:
    answer = requests.get(f"{url}/v1/files", headers=AUTH, timeout=10)
    return [f["id"] for f in answer.json()["data"]]


def test_a_big_file_arrives_whole_and_is_recorded(live):
    url, received, _ = live
    before = len(received.created)
    response = upload(url, BIG)
    assert response.status_code == 200, response.text
    assert response.json()["bytes"] == len(BIG)
    assert received.created[before:] == [hashlib.sha256(BIG).hexdigest()]
    assert response.json()["id"] in listed(url)


def test_a_bad_line_deep_in_a_big_file_is_a_400_naming_it_with_nothing_left_upstream(live):
    url, received, var_dir = live
    created, cut, files = len(received.created), received.cut_short, listed(url)
    received.done.clear()
    line = BIG.count(b"\n") + 1
    response = upload(url, BIG + b'{"messages": [{"role": "robot", "content": "beep"}]}\n')
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_file_format" and error["param"] == "file"
    assert f"line {line}: messages[0].role: 'robot' is not one of" in error["message"]
    assert received.done.wait(10)
    assert len(received.created) == created  # no file upstream
    assert received.cut_short == cut + 1  # its request was cut short
    assert listed(url) == files  # nor in the ledger
    assert list((var_dir / "spool").iterdir()) == []  # nor left on disk
