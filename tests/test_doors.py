"""Hostile input at the doors that are not article text: index paths, folders, config.json, the terminal and
the page's HTML. Each test reproduces what went wrong before its fix."""

from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.build import index_sources
from indexer.config import CONFIG_FILE, DATABASE_FILE
from indexer.errors import IndexMismatch
from indexer.index import IndexDir
from indexer.ingest import read_sources
from search_app.cli import cli
from search_app.inert import json_line, terminal
from search_app.quotes import check_quote
from search_app.search import Searcher
from search_app.views import lang_badge, quote_match_html, result_card

SPOOFED = {
    "id": "spoof",
    "title": "Minister: \u202elanif\u202c \x1b]0;pwned\x07\x1b[2J",
    "text": "The minister told reporters on Monday that the deal is \u202efinal\u202c and would be signed soon.",
    "source": "Wire\x1b[31m",
    "date": "2024-03-01",
    "lang": "en",
}


@pytest.fixture(scope="module")
def spoofed_index(tmp_path_factory, encoder) -> Path:
    """An index at a path with '#', '?', '%' and a space, holding an article with direction controls and
    terminal escape sequences in its fields."""
    folder = tmp_path_factory.mktemp("doors")
    source = folder / "spoof.jsonl"
    source.write_text(json.dumps(SPOOFED) + "\n", encoding="utf-8")
    index = folder / "news #1?v=2 %41"
    report = index_sources([source], index, progress=False, loaded_encoder=encoder)
    assert report.indexed == 1, report.problems
    return index


def test_an_index_path_with_uri_characters_names_that_directory(spoofed_index: Path) -> None:
    """SQLite read '#' and '?' in a file: URI as a fragment and a query, and '%41' as 'A': another file."""
    assert (spoofed_index / DATABASE_FILE).is_file()
    assert sorted(p.name for p in spoofed_index.parent.iterdir()) == ["news #1?v=2 %41", "spoof.jsonl"]
    index = IndexDir.open_reader(spoofed_index)
    try:
        assert index.store.count("articles") == 1
    finally:
        index.close()


def test_terminal_output_shows_escape_sequences_instead_of_running_them(spoofed_index: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "deal final", "--index", str(spoofed_index)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\u202e" not in result.output and "\x07" not in result.output
    assert r"Minister: [RLO]lanif[PDF] \x1b]0;pwned\x07\x1b[2J" in result.output
    assert r"Wire\x1b[31m" in result.output
    quote = CliRunner().invoke(cli, ["quote", "the deal is final", "--index", str(spoofed_index)])
    assert "\x1b" not in quote.output
    assert "«the deal is [RLO]final»" in quote.output


def test_json_output_escapes_what_a_terminal_would_run_and_decodes_unchanged(spoofed_index: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "deal", "--index", str(spoofed_index), "--json"])
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert json.loads(result.output)["results"][0]["title"] == SPOOFED["title"]
    hostile = "a\x9b2J\u2028b\u2066c\x7f\ud800"
    assert json.loads(json_line({"x": hostile})) == {"x": hostile}
    assert terminal("tab\tline\nCR\r") == "tab\tline\nCR\\x0d"


def test_bidi_spoof_shows_what_was_matched(spoofed_index: Path, encoder) -> None:
    """On screen the article read "the deal is lanif", yet the quote "the deal is final" was found in it."""
    searcher = Searcher.open(spoofed_index, encoder=encoder)
    try:
        check = check_quote(searcher, "the deal is final")
        assert check.verdict == "normalised"
        match = check.matches[0]
        page = quote_match_html(match, searcher.retrieval.article("spoof").text)
        card = result_card(searcher.search("deal final")[0], 1)
    finally:
        searcher.close()
    for html in (page, card):
        assert "\u202e" not in html and "\u202c" not in html  # never applied by the browser
    assert '<span class="sahafa-control" title="U+202E RIGHT-TO-LEFT OVERRIDE' in page
    assert "what you read is what was matched" in page
    assert "sahafa-control" in card  # the title's controls too


def test_language_badge_escapes_its_title_attribute() -> None:
    attributes: list[list[tuple[str, str | None]]] = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: attributes.append(attrs)  # type: ignore[method-assign]
    parser.feed(lang_badge('x" onmouseover="alert(1)'))
    assert [[name for name, _ in attrs] for attrs in attributes] == [["class", "title"]]
    assert dict(attributes[0])["title"] == 'X" ONMOUSEOVER="ALERT(1)'


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ("[1, 2]", "not a JSON object"),
        ('{"encoder": "e5-use", "dim": 1e999}', "'dim' is inf, not a whole number from 1"),
        ('{"encoder": null, "dim": 896}', "'encoder' is missing, not a name"),
        ('{"encoder": "e5-use", "dim": "896"}', "'dim' is '896', not a whole number from 1"),
        (
            '{"encoder": "e5-use", "dim": 896, "format_version": 1, "normalizer_version": 1, '
            '"passages": {"max_words": 0}}',
            "'max_words' is 0, not a whole number from 1",
        ),
        ("[" * 100_000, "nested too deeply"),
        ("\udcff", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    ],
)
def test_odd_config_values_say_which_value_and_how_to_rebuild(spoofed_index, tmp_path, config, reason) -> None:
    index = tmp_path / "copy"
    shutil.copytree(spoofed_index, index)
    (index / CONFIG_FILE).write_bytes(config.encode("utf-8", "surrogateescape"))
    with pytest.raises(IndexMismatch) as error:
        IndexDir.open(index)
    assert str(error.value) == (
        f"{index / CONFIG_FILE} is unreadable ({reason}); rebuild it: rm -r {index} && sahafa index SOURCE... "
        f"--index {index}"
    )


def test_config_dimension_that_disagrees_with_the_database(spoofed_index, tmp_path) -> None:
    index = tmp_path / "copy"
    shutil.copytree(spoofed_index, index)
    config = json.loads((index / CONFIG_FILE).read_text())
    (index / CONFIG_FILE).write_text(json.dumps({**config, "dim": 3}))
    with pytest.raises(IndexMismatch, match=r"says 3-d vectors, the database holds 896-d ones; rebuild it"):
        IndexDir.open(index)


def test_folder_walk_reads_regular_files_inside_the_folder_only(tmp_path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text('{"id": "a", "text": "an article inside the folder"}\n')
    (tmp_path / "private.txt").write_text("a file its owner did not hand over")
    (corpus / "leak.txt").symlink_to(tmp_path / "private.txt")
    (corpus / "inner.jsonl").symlink_to(corpus / "a.jsonl")  # stays inside: read
    (corpus / "gone.txt").symlink_to(tmp_path / "missing.txt")
    os.mkfifo(corpus / "pipe.jsonl")  # opening it would block forever
    warnings: list[str] = []
    bad: list = []
    articles = list(read_sources([corpus], bad.append, warnings.append))
    assert [(a.id, a.origin) for a in articles] == [("a", f"{corpus}/a.jsonl:1"), ("a", f"{corpus}/inner.jsonl:1")]
    assert bad == []
    assert warnings == [
        f"{corpus}/gone.txt: symbolic link to {tmp_path}/missing.txt, outside {corpus}; skipped",
        f"{corpus}/leak.txt: symbolic link to {tmp_path}/private.txt, outside {corpus}; skipped",
        f"{corpus}/pipe.jsonl: not a regular file (a FIFO); skipped",
    ]
    with pytest.raises(Exception, match=r"not a regular file or folder: .*pipe.jsonl \(a FIFO\)"):
        list(read_sources([corpus / "pipe.jsonl"], bad.append))
