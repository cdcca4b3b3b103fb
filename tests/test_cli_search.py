"""`sahafa search` and `sahafa quote` through click, on the real index."""

from __future__ import annotations

import json

from click.testing import CliRunner

from search_app.cli import cli

SEEDS = {"000_9ff4965ff1aa788a", "003_4b7db5c7572d20fb"}


def run(*args: str):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def test_search_text_and_json(built_index):
    text = run("search", "الاتجار بالأشخاص", "--index", built_index, "-k", "2")
    assert text.exit_code == 0, text.output
    assert text.output.startswith("2 article(s) in ")
    assert "000_9ff4965ff1aa788a" in text.output

    out = run("search", "الاتجار بالأشخاص", "--index", built_index, "-k", "2", "--json")
    data = json.loads(out.output)
    assert {r["article_id"] for r in data["results"]} == SEEDS
    first = data["results"][0]
    assert set(first) >= {
        "article_id",
        "passage_id",
        "score",
        "title",
        "source",
        "date",
        "url",
        "lang",
        "passage",
        "highlights",
    }
    assert first["highlights"] and all(
        first["passage_start"] <= a < b <= first["passage_end"] for a, b in first["highlights"]
    )


def test_search_filters_and_bad_date(built_index):
    out = run("search", "economy", "--index", built_index, "--lang", "en", "--json", "-k", "50")
    assert {r["lang"] for r in json.loads(out.output)["results"]} == {"en"}
    bad = run("search", "x", "--index", built_index, "--from", "someday")
    assert bad.exit_code == 1
    assert bad.output.strip() == "Error: not a date: 'someday' (use YYYY-MM-DD)"


def test_batch_goes_on_after_bad_lines(built_index, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_bytes(
        b'{"qid": "a", "query": "\\u0627\\u0644\\u0627\\u062a\\u062c\\u0627\\u0631", "lang": "ar"}\n'
        b"{not json\n"
        b'{"qid": "c"}\n'
        b'{"qid": "d", "query": "\xff\xfe"}\n'
        b"[1, 2]\n"
        b'{"qid": "f", "query": "NEAR(\\"x\\" * -y:z"}\n'
        + b"[" * 100_000 + b"]" * 100_000 + b"\n"
        + b'{"qid": "h", "query": "x", "n": ' + b"9" * 5000 + b"}\n"
    )
    out = run("search", "--queries", queries, "--index", built_index, "--json", "-k", "3")
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.output.splitlines()]
    assert [line.get("qid") for line in lines] == ["a", None, "c", None, None, "f", None, None]
    assert lines[0]["results"] and lines[0]["results"][0]["article_id"] in SEEDS
    assert (
        lines[1]["error"] == f"{queries}:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    )
    assert lines[2]["error"] == f"{queries}:3: missing 'query' (a string)"
    assert lines[3]["error"].startswith(f"{queries}:4: not valid UTF-8")
    assert lines[4]["error"] == f"{queries}:5: expected a JSON object, found array"
    assert "results" in lines[5] and "languages" in lines[5]
    assert lines[6]["error"] == f"{queries}:7: invalid JSON: nested too deeply"
    too_long = "invalid JSON: Exceeds the limit (4300 digits) for integer string conversion"
    assert lines[7]["error"] == f"{queries}:8: {too_long}"


def test_quote_json(built_index):
    out = run("quote", "وقال القلاف خلال مشاركتة فى ندوة فى الرياض", "--index", built_index, "--json")
    data = json.loads(out.output)
    assert data["verdict"] == "normalised"
    match = data["matches"][0]
    assert (
        match["article_id"] == "000_9ff4965ff1aa788a" and match["text"] == "وقال القلاف خلال مشاركته في ندوة في الرياض"
    )


def test_missing_index_is_one_clear_line(tmp_path):
    nope = tmp_path / "nope"
    out = run("search", "x", "--index", nope)
    assert out.exit_code == 1
    expected = f"Error: no Sahafa index at {nope}: build one with: sahafa index SOURCE... --index {nope}"
    assert out.output.strip() == expected
