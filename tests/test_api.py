"""The JSON HTTP API over the real test index: the CLI's answers over HTTP, clear 4xx bodies, no server error for
anything its own OpenAPI schema admits, and a real uvicorn server started by ``sahafa api``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import schemathesis
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from search_app.api import MAX_BATCH, MAX_BODY_BYTES, create_app
from search_app.cli import cli
from search_app.search import Searcher
from tests.processes import stop

VERBATIM = "أكد أن هذه الاستراتيجية تمثل نقطة انطلاق نحو مرحلة جديدة من الجدية والشفافية"
SEED = "000_9ff4965ff1aa788a"


@pytest.fixture(scope="module")
def app(built_index, encoder):
    searcher = Searcher.open(built_index, encoder=encoder)
    yield create_app(lambda: searcher)
    searcher.close()


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(
    ("params", "cli_args"),
    [
        ({"q": "human trafficking in Kuwait"}, []),
        ({"q": "الاقتصاد", "k": 3, "lang": "ar"}, ["-k", "3", "--lang", "ar"]),
        ({"q": "merger", "mode": "lexical", "source": ["Reuters"], "from": "1987-03-01"},
         ["--mode", "lexical", "--source", "Reuters", "--from", "1987-03-01"]),
        ({"q": "trade", "sort": "date", "to": "2015-12-31"}, ["--sort", "date", "--to", "2015-12-31"]),
    ],
)  # fmt: skip
def test_search_answers_as_the_cli(client, built_index, params, cli_args) -> None:
    answer = client.get("/search", params=params)
    assert answer.status_code == 200, answer.text
    printed = CliRunner().invoke(cli, ["search", params["q"], "--index", str(built_index), "--json", *cli_args])
    assert printed.exit_code == 0, printed.output
    assert answer.json() == json.loads(printed.output)
    assert answer.json()["results"]


def test_quote_quotes_and_articles(client, built_index) -> None:
    one = client.post("/quote", json={"text": VERBATIM})
    assert one.status_code == 200 and one.json()["verdict"] == "verbatim"
    printed = CliRunner().invoke(cli, ["quote", VERBATIM, "--index", str(built_index), "--json"])
    assert one.json() == json.loads(printed.output)
    batch = client.post("/quotes", json={"quotes": [VERBATIM, "a sentence that no article of this index holds"]})
    assert [r["verdict"] for r in batch.json()["results"]][0] == "verbatim"
    assert batch.json()["results"][0] == one.json()
    source = one.json()["matches"][0]["article_id"]
    article = client.get(f"/articles/{source}").json()
    assert article["id"] == source and VERBATIM in article["text"] and article["lang"] == "ar"
    missing = client.get("/articles/no-such-article")
    assert missing.status_code == 404 and missing.json() == {"error": "no article 'no-such-article' in the index"}
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/info").json()
    assert info["articles"] == client.get("/health").json()["articles"] > 2 and set(info["languages"]) == {"ar", "en"}


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "message"),
    [
        ("get", "/search", {"q": "x", "k": 0}, 422, "query.k: Input should be greater than or equal to 1"),
        ("get", "/search", {"q": "x", "k": 1000}, 422, "query.k: Input should be less than or equal to 100"),
        ("get", "/search", {"q": "x" * 2001}, 422, "query.q: String should have at most 2000 characters"),
        ("get", "/search", {}, 422, "query.q: Field required"),
        ("get", "/search", {"q": "x", "mode": "fuzzy"}, 422, "query.mode: Input should be 'hybrid', 'semantic' or "
                                                             "'lexical'"),
        ("get", "/search", {"q": "x", "from": "someday"}, 400, "not a date: 'someday' (use YYYY-MM-DD)"),
        ("post", "/quote", {"text": ""}, 422, "body.text: String should have at least 1 character"),
        ("post", "/quotes", {"quotes": ["x"] * (MAX_BATCH + 1)}, 422,
         "body.quotes: List should have at most 100 items after validation, not 101"),
    ],
)  # fmt: skip
def test_bad_requests_say_what_is_wrong(client, method, path, payload, status, message) -> None:
    answer = client.get(path, params=payload) if method == "get" else client.post(path, json=payload)
    assert (answer.status_code, answer.json()) == (status, {"error": message})


def test_an_oversized_body_is_refused_unread(client) -> None:
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    answer = client.post("/quote", content=body, headers={"content-type": "application/json"})
    assert (answer.status_code, answer.json()) == (413, {"error": "request body over 1,000,000 bytes"})


def test_cross_origin_calls_only_when_asked_for(app, built_index, encoder) -> None:
    headers = {"Origin": "https://newsroom.example", "Access-Control-Request-Method": "GET"}
    with TestClient(app) as closed:
        assert "access-control-allow-origin" not in closed.options("/search", headers=headers).headers
    searcher = Searcher.open(built_index, encoder=encoder)
    with TestClient(create_app(lambda: searcher, cors=("https://newsroom.example",))) as opened:
        answer = opened.options("/search", headers=headers)
        assert answer.headers["access-control-allow-origin"] == "https://newsroom.example"
    searcher.close()


def test_nothing_the_schema_admits_breaks_the_server(app) -> None:
    """Requests generated from the API's own OpenAPI schema (schemathesis): every answer is a 2xx or a 4xx with an
    ``error`` body, never a server error."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/search",
        "/quote",
        "/quotes",
        "/quotes/csv",
        "/articles/{article_id}",
        "/health",
    }
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers(case) -> None:  # noqa: ANN001
            response = case.call()
            statuses.append(response.status_code)
            assert response.status_code < 500, (case.path, case.query, case.body, response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"error"} and response.json()["error"], response.text

        answers()
    assert any(s == 200 for s in statuses) and any(400 <= s < 500 for s in statuses)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sahafa_api_serves_on_127_0_0_1(built_index, tmp_path) -> None:
    port = free_port()
    log = (tmp_path / "api.log").open("wb")
    command = [sys.executable, "-m", "search_app.cli", "api", "--index", str(built_index), "--port", str(port)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with direct.open(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                    health = json.loads(answer.read())
                    break
            except OSError:
                assert process.poll() is None, (tmp_path / "api.log").read_text()
                assert time.monotonic() < deadline, "sahafa api did not start"
                time.sleep(0.3)
        assert health["status"] == "ok"
        with direct.open(f"http://127.0.0.1:{port}/search?q=%D8%A7%D9%84%D8%A7%D8%AA%D8%AC%D8%A7%D8%B1&k=1") as answer:
            assert json.loads(answer.read())["results"][0]["article_id"] in {SEED, "003_4b7db5c7572d20fb"}
        with direct.open(f"http://127.0.0.1:{port}/openapi.json") as answer:
            assert set(json.loads(answer.read())["paths"]) >= {"/search", "/quote", "/quotes", "/articles/{article_id}"}
    finally:
        stop(process)
        log.close()
