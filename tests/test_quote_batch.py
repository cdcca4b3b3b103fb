"""Batch quote checks over the real test index: sheets read row by row with line numbers, every row back in
order, the CLI's ``quote --file`` (text, JSON lines, CSV) and the API's ``POST /quotes/csv`` giving the same
verdicts as one ``check_quote`` per quote."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from indexer.errors import BadRecord
from search_app.api import MAX_BATCH, create_app
from search_app.cli import cli
from search_app.quote_batch import FIELDS, check_rows, checker, read_sheet, to_csv
from search_app.quotes import MAX_QUOTE_CHARS, check_quote
from search_app.search import Searcher

VERBATIM = "أكد أن هذه الاستراتيجية تمثل نقطة انطلاق نحو مرحلة جديدة من الجدية والشفافية"
SPELLED = "ان هذه الاستراتيجيه تمثل نقطه انطلاق نحو مرحله جديده من الجديه والشفافيه"  # hamza and ta marbuta folded
ABSENT = "The committee voted to rename the lighthouse after a retired ferry captain."
SHEET = (
    "id,quote,desk\n"
    f'q1,"{VERBATIM}",politics\n'
    "q2,,politics\n"
    f"q3,{ABSENT[:40]}, and more,culture\n"
    f'q4,"{SPELLED}",politics\n'
    "\n"
    f'q5,"{ABSENT}",culture\n'
    'q6,"=HYPERLINK(""http://example.com"")",web\n'
)


@pytest.fixture(scope="module")
def searcher(built_index, encoder):
    opened = Searcher.open(built_index, encoder=encoder)
    yield opened
    opened.close()


def test_a_sheet_keeps_every_row_with_its_line_and_says_why_a_row_is_not_checked() -> None:
    sheet = read_sheet(SHEET.encode(), "quotes.csv")
    assert [r.line for r in sheet.rows] == [2, 3, 4, 5, 7, 8]
    assert [r.id for r in sheet.rows] == ["q1", "q2", "", "q4", "q5", "q6"]
    assert sheet.extra_columns == ("desk",) and sheet.rows[0].extra == ("politics",)
    assert sheet.problems == [
        "quotes.csv:3: empty quote; row not checked",
        "quotes.csv:4: 4 fields where the header has 3 (a quote that holds a comma must be in double quotes); "
        "row not checked",
    ]
    assert sheet.checkable == 4 and sheet.notes == ()


def test_pasted_lines_text_files_and_headerless_csvs_are_one_quote_per_line() -> None:
    pasted = read_sheet(f"  {VERBATIM}  \n\n{ABSENT}\n".encode(), "pasted", lines=True)
    assert [(r.line, r.quote) for r in pasted.rows] == [(1, VERBATIM), (3, ABSENT)]
    assert read_sheet(f"{ABSENT}\n".encode(), "list.txt").rows[0].quote == ABSENT
    headerless = read_sheet(f"{ABSENT}\n{VERBATIM}\n".encode(), "list.csv")
    assert [r.quote for r in headerless.rows] == [ABSENT, VERBATIM]
    assert headerless.notes[0].startswith("list.csv: no 'quote' column in the first line ('the committee voted")
    assert headerless.notes[0].endswith("read as one quote per line")


def test_arabic_headers_windows_arabic_bytes_and_unbalanced_quotes() -> None:
    arabic = read_sheet(f"الاقتباس,المصدر\n{VERBATIM},وزارة\n".encode(), "ar.csv")
    assert [(r.line, r.quote, r.extra) for r in arabic.rows] == [(2, VERBATIM, ("وزارة",))]
    windows = read_sheet(f"quote\n{VERBATIM}\n{VERBATIM}\n".encode("cp1256"), "excel.csv")
    assert [r.quote for r in windows.rows] == [VERBATIM, VERBATIM]
    assert windows.notes and "not valid UTF-8; decoded as" in windows.notes[0]
    broken = read_sheet(f'quote\n"{ABSENT}\nsecond line " x\n{VERBATIM}\n'.encode(), "broken.csv")
    assert broken.rows[0].error.startswith("unbalanced quote: the row runs on to line")
    assert [(r.line, r.quote) for r in broken.rows if not r.error][-1] == (4, VERBATIM)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty.csv:1: no quotes: the file is empty"),
        (b"  \n\n", "empty.csv:1: no quotes: the file is empty"),
        (b"x" * 10_000_001, "empty.csv:1: 10,000,001 bytes is over the 10,000,000-byte limit of one batch"),
    ],
)
def test_an_unreadable_sheet_says_what_is_wrong(data, message) -> None:
    with pytest.raises(BadRecord) as raised:
        read_sheet(data, "empty.csv")
    assert str(raised.value) == message


def test_an_over_long_quote_is_reported_not_checked() -> None:
    sheet = read_sheet(("quote\n" + "word " * MAX_QUOTE_CHARS + "\n").encode(), "long.csv")
    assert sheet.problems == [f"long.csv:2: a quote of {5 * MAX_QUOTE_CHARS - 1:,} characters is over the 4,000-"
                              "character limit; row not checked"]  # fmt: skip


def test_verdicts_are_those_of_one_check_per_quote_and_the_csv_is_inert(searcher) -> None:
    sheet = read_sheet(SHEET.encode(), "quotes.csv")
    results = list(check_rows(sheet.rows, checker(searcher)))
    assert [r.check.verdict if r.check else None for r in results] == [
        "verbatim", None, None, "normalised", "not found", "not found",
    ]  # fmt: skip
    for result in results:
        if result.check:
            assert result.check == check_quote(searcher, result.row.quote)
    table = list(csv.DictReader(io.StringIO(to_csv(results, sheet.extra_columns).decode("utf-8-sig"))))
    assert list(table[0]) == [*FIELDS, "desk"]
    first = results[0].check.matches[0]
    assert table[0]["source_text"] == VERBATIM and table[0]["article_id"] == first.article_id
    assert (int(table[0]["start"]), int(table[0]["end"])) == (first.start, first.end)
    assert table[1]["error"] == "empty quote; row not checked" and table[1]["verdict"] == ""
    assert table[5]["quote"] == '\'=HYPERLINK("http://example.com")' and table[5]["desk"] == "web"
    assert [row["line"] for row in table] == ["2", "3", "4", "5", "7", "8"]


def test_cli_quote_file_in_text_json_and_csv(built_index, tmp_path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text(SHEET, encoding="utf-8")
    base = ["quote", "--file", str(path), "--index", str(built_index)]
    runner = CliRunner()
    text = runner.invoke(cli, base)
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0].startswith("line 2 (q1): verbatim · ")
    assert "line 3 (q2): not checked: empty quote" in text.stdout
    assert f"{path}:4: 4 fields where the header has 3" in text.stderr
    assert text.stderr.splitlines()[-1] == "4 of 6 row(s) checked"
    lines = [json.loads(line) for line in runner.invoke(cli, [*base, "--json"]).stdout.splitlines()]
    assert [(r["line"], r.get("verdict")) for r in lines] == [
        (2, "verbatim"), (3, None), (4, None), (5, "normalised"), (7, "not found"), (8, "not found"),
    ]  # fmt: skip
    assert lines[1] == {"line": 3, "id": "q2", "quote": "", "error": f"{path}:3: empty quote; row not checked"}
    one = json.loads(runner.invoke(cli, ["quote", VERBATIM, "--index", str(built_index), "--json"]).stdout)
    assert {k: v for k, v in lines[0].items() if k not in ("line", "id")} == one
    table = runner.invoke(cli, [*base, "--csv"])
    rows = list(csv.DictReader(io.StringIO(table.stdout_bytes.decode("utf-8-sig"))))
    assert [r["verdict"] for r in rows] == ["verbatim", "", "", "normalised", "not found", "not found"]
    piped = runner.invoke(cli, ["quote", "--file", "-", "--index", str(built_index), "--csv"], input=f"{VERBATIM}\n")
    assert piped.exit_code == 0 and "verbatim" in piped.stdout and "no 'quote' column" in piped.stderr


def test_cli_quote_needs_text_or_a_readable_file(built_index, tmp_path) -> None:
    runner = CliRunner()
    neither = runner.invoke(cli, ["quote", "--index", str(built_index)])
    assert neither.exit_code == 2 and "give either TEXT or --file FILE" in neither.output
    both = runner.invoke(cli, ["quote", VERBATIM, "--json", "--csv", "--index", str(built_index)])
    assert both.exit_code == 2 and "give --json or --csv, not both" in both.output
    missing = runner.invoke(cli, ["quote", "--file", str(tmp_path / "nope.csv"), "--index", str(built_index)])
    assert missing.exit_code == 1 and f"no such file: {tmp_path / 'nope.csv'}" in missing.output
    (tmp_path / "empty.csv").write_bytes(b"")
    empty = runner.invoke(cli, ["quote", "--file", str(tmp_path / "empty.csv"), "--index", str(built_index)])
    assert empty.exit_code == 1 and f"{tmp_path / 'empty.csv'}:1: no quotes: the file is empty" in empty.output


def test_api_quotes_csv_answers_as_the_cli(searcher, built_index, tmp_path) -> None:
    with TestClient(create_app(lambda: searcher)) as client:
        answer = client.post("/quotes/csv", content=SHEET.encode(), headers={"content-type": "text/csv"})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        path = tmp_path / "body"
        path.write_text(SHEET, encoding="utf-8")
        printed = CliRunner().invoke(cli, ["quote", "--file", str(path), "--index", str(built_index), "--csv"])
        assert answer.content == printed.stdout_bytes
        plain = client.post("/quotes/csv", content=f"{VERBATIM}\n".encode(), headers={"content-type": "text/plain"})
        assert list(csv.DictReader(io.StringIO(plain.content.decode("utf-8-sig"))))[0]["verdict"] == "verbatim"
        many = client.post("/quotes/csv", content=("quote\n" + "x\n" * (MAX_BATCH + 1)).encode())
        assert (many.status_code, many.json()) == (
            413,
            {"error": "body: 101 rows is over the limit of 100 in one request"},
        )
        empty = client.post("/quotes/csv", content=b"", headers={"content-type": "text/csv"})
        assert (empty.status_code, empty.json()) == (400, {"error": "body:1: no quotes: the file is empty"})
