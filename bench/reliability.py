"""``make bench-reliability``: hostile queries, search under writes, kill -9 while indexing, a hostile corpus.

Every part starts the real programs: ``sahafa index``, ``sahafa delete`` and ``sahafa search --queries`` as
subprocesses, ``Searcher`` in reader processes, over real SQLite files and FAISS indexes built from news-dev.
It prints a Markdown table (the README's) and writes every figure to ``bench-out/reliability/results.json``.

- queries: N generated hostile queries (``bench.hostile``) through one ``sahafa search --queries`` batch and
  through ``Searcher.results`` with random options; every tenth also through ``check_quote``. A crash is a
  traceback, a non-zero exit, a missing answer line or an exception that is not a ``SahafaError``.
- writes: reader processes query continuously while ``sahafa index`` adds news-dev to a seeds index, then while
  ``sahafa delete`` removes a fifth of it. Each query is a quoted phrase from an article committed before the
  query started (read from SQLite just before); it must be found, and during the delete no article deleted
  before the query started may be shown.
- kills: kill -9 of ``sahafa index`` at K points (when the database file appears, i.e. schema creation; while a
  temporary FAISS file exists, i.e. the save; at random times). After each: the index opens, SQLite passes its
  integrity check, FAISS agrees with SQLite, every article seen committed before the kill is still there; the
  rerun completes and ends equal to a clean build of the same corpus.
- corpus: ``sahafa index`` over a generated folder of hostile files: valid records indexed, each bad record
  reported as file:line, peak memory of the process.
- long: one article at the ingest limit (1,000,000 characters): indexing time and memory, and a quote check
  of a re-spelled sentence near its end (time and memory growth, in a process of its own).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from bench import hostile

ROOT = Path(__file__).resolve().parents[1]
NEWS = ROOT.parent / "shared" / "data" / "news-dev" / "articles.jsonl"
SEEDS = ROOT / "seeds"
OUT = ROOT / "bench-out" / "reliability"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
WORD = re.compile(r"^\w+$")


def sahafa(*args: str | Path, **popen: object) -> subprocess.Popen:
    command = [sys.executable, "-m", "search_app.cli", *map(str, args)]
    return subprocess.Popen(command, cwd=ROOT, env=ENV, **popen)  # type: ignore[call-overload]


def news_rows(n: int = 0) -> list[dict]:
    rows = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines()]
    return rows[:n] if n else rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def read_only(index: Path) -> sqlite3.Connection:
    from indexer.config import DATABASE_FILE

    return sqlite3.connect((index / DATABASE_FILE).absolute().as_uri() + "?mode=ro", uri=True, timeout=5)


def committed_ids(index: Path) -> set[str]:
    """Article ids committed now, read without writing anything; empty before the schema exists."""
    try:
        db = read_only(index)
        try:
            return {row[0] for row in db.execute("SELECT id FROM articles")}
        finally:
            db.close()
    except sqlite3.Error:
        return set()


# --- hostile queries -------------------------------------------------------------------------------------


def hostile_queries(n: int, work: Path) -> dict:
    from indexer.build import index_sources
    from indexer.errors import SahafaError
    from search_app.quotes import check_quote
    from search_app.search import Searcher

    index = work / "query-index"
    if not (index / "config.json").is_file():
        index_sources([SEEDS, write_jsonl(work / "news-200.jsonl", news_rows(200))], index, progress=False)
    queries = hostile.queries(n, hostile.words_of(NEWS))
    kinds: dict[str, int] = {}
    for q in queries:
        kinds[q.kind] = kinds.get(q.kind, 0) + 1

    batch = work / "hostile-queries.jsonl"
    malformed = [b"{not json", b'{"qid": "no query"}', b"[1]", b'{"query": "\xff"}', b"[" * 50_000]
    with batch.open("wb") as out:
        for i, q in enumerate(queries):
            out.write(json.dumps({"qid": i, "query": q.text}).encode() + b"\n")
        out.write(b"\n".join(malformed) + b"\n")
    started = time.perf_counter()
    run = sahafa("search", "--queries", batch, "--index", index, "--json", "-k", "5", stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE)  # fmt: skip
    stdout, stderr = run.communicate()
    cli_seconds = time.perf_counter() - started
    answers = [json.loads(line) for line in stdout.decode("utf-8").splitlines()]
    cli = {
        "lines": len(queries) + len(malformed),
        "answered": sum("results" in a for a in answers),
        "messages": sum("error" in a for a in answers),
        "crashes": int(run.returncode != 0) + int(b"Traceback" in stderr) + abs(len(answers) - len(queries) - 5),
        "exit_code": run.returncode,
        "seconds": round(cli_seconds, 1),
    }

    searcher = Searcher.open(index)
    library = {"queries": len(queries), "answered": 0, "messages": 0, "crashes": 0, "quote_checks": 0}
    crashes: list[str] = []
    messages: dict[str, int] = {}
    started = time.perf_counter()
    try:
        for i, q in enumerate(queries):
            try:
                searcher.results(q.text, **q.options)
                library["answered"] += 1
                if i % 10 == 0:
                    check_quote(searcher, q.text)
                    library["quote_checks"] += 1
            except SahafaError as exc:
                library["messages"] += 1
                key = str(exc).split(":")[0][:60]
                messages[key] = messages.get(key, 0) + 1
            except Exception:  # noqa: BLE001 - counting what should never happen is the point
                library["crashes"] += 1
                crashes.append(f"{q.kind} {q.text[:80]!r} {q.options}: {traceback.format_exc(limit=3)}")
    finally:
        searcher.close()
    library["seconds"] = round(time.perf_counter() - started, 1)
    return {"kinds": kinds, "cli": cli, "library": library, "messages": messages, "crash_samples": crashes[:5]}


# --- search under writes ---------------------------------------------------------------------------------


def probes(rows: list[dict]) -> dict[str, str]:
    """A quoted run of eight plain words from each article: the query that must find it."""
    found = {}
    for row in rows:
        words = row["text"].split()
        for at in range(0, max(0, len(words) - 8)):
            run = words[at : at + 8]
            if all(WORD.match(w) for w in run):
                found[row["id"]] = '"' + " ".join(run) + '"'
                break
    return found


def reader(  # type: ignore[no-untyped-def]
    index: str, probe_file: str, phase, ready, results, seed: int, rate: float
) -> None:
    """One reader process: ``rate`` queries a second (as many as it can when it falls behind) until the phase says
    stop; put its counts on ``results``."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from search_app.search import Searcher

    rng = random.Random(seed)
    probe = json.loads(Path(probe_file).read_text(encoding="utf-8"))
    searcher = Searcher.open(index)
    stats = {p: {"queries": 0, "errors": 0, "missed": 0, "excused": 0, "ghosts": 0} for p in ("index", "delete")}
    samples: list[str] = []
    ready.release()
    due = time.perf_counter()
    try:
        while phase.value < 2:
            due += 1 / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            name = "index" if phase.value == 0 else "delete"
            before = committed_ids(Path(index))
            candidates = sorted(i for i in before if i in probe)
            target = rng.choice(candidates) if candidates else None
            query = probe[target] if target else "الاتجار بالأشخاص"
            try:
                ids = [h.article_id for h in searcher.search(query, k=10, explain=1)]
            except Exception:  # noqa: BLE001
                stats[name]["errors"] += 1
                samples.append(traceback.format_exc(limit=4))
                continue
            stats[name]["queries"] += 1
            if target and target not in ids:
                if target in committed_ids(Path(index)):
                    stats[name]["missed"] += 1
                    samples.append(f"missed {target} for {query}")
                else:
                    stats[name]["excused"] += 1  # deleted between the read and the query: rightly gone
            if name == "delete" and set(ids) - before:
                stats[name]["ghosts"] += 1
                samples.append(f"shown after delete: {set(ids) - before}")
    finally:
        searcher.close()
        results.put({"stats": stats, "samples": samples[:5]})


def under_writes(readers: int, rate: float, work: Path) -> dict:
    index = fresh(work / "live-index")
    subprocess.run([sys.executable, "-m", "search_app.cli", "index", str(SEEDS), "--index", str(index), "-q"],
                   cwd=ROOT, env=ENV, check=True)  # fmt: skip
    rows = news_rows()
    probe_file = work / "probes.json"
    probe_file.write_text(json.dumps(probes(rows), ensure_ascii=False), encoding="utf-8")
    context = mp.get_context("spawn")
    phase = context.Value("i", 0)
    ready = context.Semaphore(0)
    results = context.Queue()
    workers = [
        context.Process(target=reader, args=(str(index), str(probe_file), phase, ready, results, seed, rate))
        for seed in range(readers)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.acquire()
    timings = {}
    started = time.perf_counter()
    indexing = sahafa("index", NEWS, "--index", index, "-q", stderr=subprocess.PIPE)
    _, index_err = indexing.communicate()
    timings["index"] = time.perf_counter() - started
    phase.value = 1
    doomed = sorted(r["id"] for r in rows)[::5]
    started = time.perf_counter()
    deleting = sahafa("delete", *doomed, "--index", index, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    _, delete_err = deleting.communicate()
    time.sleep(max(0.0, 5 - (time.perf_counter() - started)))  # queries after the delete count too
    timings["delete"] = time.perf_counter() - started
    phase.value = 2
    collected = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    totals = {}
    for name in ("index", "delete"):
        counts = {key: sum(c["stats"][name][key] for c in collected) for key in collected[0]["stats"][name]}
        counts["seconds"] = round(timings[name], 1)
        counts["per_second"] = round(counts["queries"] / timings[name], 1)
        totals[name] = counts
    return {
        "readers": readers,
        "rate_per_reader": rate,
        "index_exit": indexing.returncode,
        "delete_exit": deleting.returncode,
        "deleted": len(doomed),
        "writer_errors": (index_err + delete_err).decode("utf-8", "replace")[-500:],
        "phases": totals,
        "samples": [s for c in collected for s in c["samples"]][:5],
    }


# --- kill -9 while indexing --------------------------------------------------------------------------------


def contents(index: Path) -> dict:
    """What an index holds, in a form two builds of the same corpus share (row ids aside)."""
    db = read_only(index)
    try:
        articles = sorted(db.execute("SELECT id, text_hash, record_hash, sentence_version FROM articles"))
        passages = sorted(db.execute('SELECT article_id, ordinal, start, "end", text_hash FROM passages'))
        sentences = sorted(db.execute('SELECT article_id, start, "end", text_hash FROM sentences'))
        fts = db.execute("SELECT count(*) FROM passages_fts").fetchone()[0]
        vectors = {
            (a, o): np.frombuffer(v, dtype=np.float32)
            for a, o, v in db.execute("SELECT article_id, ordinal, vector FROM passages")
        }
        codes = {
            (a, s): np.frombuffer(v, dtype=np.int8)
            for a, s, v in db.execute("SELECT article_id, start, vector FROM sentences")
        }
    finally:
        db.close()
    return {"articles": articles, "passages": passages, "sentences": sentences, "fts": fts, "vectors": vectors,
            "codes": codes}  # fmt: skip


def same_as(built: dict, clean: dict) -> list[str]:
    """How ``built`` differs from ``clean``: rows exactly; passage vectors to cosine 0.999 and int8 sentence
    codes to 1 step (bf16 results depend slightly on how texts were batched)."""
    differences = [name for name in ("articles", "passages", "sentences", "fts") if built[name] != clean[name]]
    if set(built["vectors"]) == set(clean["vectors"]):
        worst = min((float(built["vectors"][k] @ clean["vectors"][k]) for k in clean["vectors"]), default=1.0)
        if worst < 0.999:
            differences.append(f"passage vector cosine {worst:.4f}")
    if set(built["codes"]) == set(clean["codes"]):
        steps = max(
            (int(np.abs(built["codes"][k].astype(int) - clean["codes"][k]).max()) for k in clean["codes"]), default=0
        )
        if steps > 1:
            differences.append(f"sentence codes differ by {steps}")
    return differences


def agrees(index: Path) -> list[str]:
    """Open the index as ``sahafa`` does and check SQLite and both FAISS indexes describe the same rows."""
    import faiss

    from indexer.index import IndexDir

    problems = []
    opened = IndexDir.open(index)
    try:
        db = opened.store.db
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("integrity_check")
        passages = [r[0] for r in db.execute("SELECT id FROM passages ORDER BY id")]
        if [r[0] for r in db.execute("SELECT rowid FROM passages_fts ORDER BY rowid")] != passages:
            problems.append("fts rows")
        if sorted(faiss.vector_to_array(opened.vectors.index.id_map).tolist()) != passages:
            problems.append("passage FAISS ids")
        sentences = [r[0] for r in db.execute("SELECT id FROM sentences ORDER BY id")]
        if sorted(faiss.vector_to_array(opened.sentences.index.id_map).tolist()) != sentences:
            problems.append("sentence FAISS ids")
    finally:
        opened.close()
    return problems


def kill_points(kills: int, work: Path, seed: int = 5) -> dict:
    corpus = write_jsonl(work / "kill-corpus.jsonl", news_rows(80))
    clean_dir = fresh(work / "kill-clean")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "search_app.cli", "index", str(corpus), "--index", str(clean_dir), "-q"],
                   cwd=ROOT, env=ENV, check=True)  # fmt: skip
    clean_seconds = time.perf_counter() - started
    clean = contents(clean_dir)
    rng = random.Random(seed)
    # Start-up (imports, model) takes about half of a run: random points fall in the half that writes.
    triggers = ["schema", "schema", "faiss save", "faiss save after commits", "faiss save after commits"]
    triggers += [f"{rng.uniform(clean_seconds * 0.45, clean_seconds):.2f}s" for _ in range(kills - len(triggers))]
    rows = []
    for point, trigger in enumerate(triggers[:kills]):
        index = fresh(work / "kill" / str(point))
        shutil.rmtree(index)  # the run creates it, as on a first `sahafa index`
        rows.append(_kill_once(corpus, index, trigger, clean))
        shutil.rmtree(index, ignore_errors=True)
    return {"clean_seconds": round(clean_seconds, 1), "articles": len(clean["articles"]), "points": rows}


def _kill_once(corpus: Path, index: Path, trigger: str, clean: dict) -> dict:
    process = sahafa("index", corpus, "--index", index, "-q", stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    seen: set[str] = set()
    last_read = 0.0
    while process.poll() is None:
        now = time.perf_counter() - started
        if trigger == "schema" and (index / "sahafa.sqlite").exists():
            break
        if trigger.startswith("faiss save") and (seen or trigger == "faiss save") and index.is_dir():
            if any(index.glob(".*.faiss.*.tmp")):
                break
        if trigger.endswith("s") and trigger[:-1].replace(".", "").isdigit() and now >= float(trigger[:-1]):
            break
        if now - last_read > (0.02 if trigger == "faiss save after commits" else 0.1):
            seen = committed_ids(index) or seen
            last_read = now
        time.sleep(0.0005)
    finished = process.poll() is not None
    if not finished:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    at = time.perf_counter() - started
    row = {"trigger": trigger, "at_s": round(at, 2), "finished_first": finished, "seen_committed": len(seen)}
    row["temporary_left"] = sorted(p.name for p in index.glob(".*.tmp")) if index.is_dir() else []
    try:
        row["open_problems"] = agrees(index) if (index / "config.json").is_file() else ["no config.json yet"]
        after = committed_ids(index)
        row["articles_after_kill"] = len(after)
        row["lost"] = sorted(seen - after)
    except Exception as exc:  # noqa: BLE001 - an index that does not open is the finding
        row["open_problems"] = [f"{type(exc).__name__}: {exc}"]
        row["lost"] = sorted(seen)
    if row["open_problems"] == ["no config.json yet"]:
        row["open_problems"] = []  # killed before creation finished: the rerun must still succeed
    rerun = subprocess.run([sys.executable, "-m", "search_app.cli", "index", str(corpus), "--index", str(index), "-q"],
                           cwd=ROOT, env=ENV, capture_output=True, text=True)  # fmt: skip
    row["rerun_exit"] = rerun.returncode
    row["rerun_error"] = rerun.stderr[-300:] if rerun.returncode else ""
    row["differs_from_clean"] = same_as(contents(index), clean) + agrees(index) if rerun.returncode == 0 else ["rerun"]
    return row


# --- hostile corpus --------------------------------------------------------------------------------------


def hostile_corpus(work: Path) -> dict:
    made = hostile.corpus(fresh(work / "hostile-corpus"), news_rows(10))
    index = work / "hostile-index"
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    with (work / "hostile-index.out").open("w+b") as out, (work / "hostile-index.err").open("w+b") as err:
        run = sahafa("index", made.folder, "--index", index, stdout=out, stderr=err)
        _, status, usage = os.wait4(run.pid, 0)  # this child's own peak, not the bench's other children
        run.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak = usage.ru_maxrss
    messages = stderr.decode("utf-8", "replace").splitlines()
    indexed = committed_ids(index)
    reported = [b for b in made.bad if any(line.startswith(b + ":") for line in messages)]
    skipped = [f for f in made.skipped_files if any(f in line for line in messages)]
    return {
        "exit_code": run.returncode,
        "summary": stdout.decode("utf-8", "replace").strip(),
        "valid": len(made.valid),
        "valid_indexed": len(made.valid & indexed),
        "missing": sorted(made.valid - indexed),
        "bad": len(made.bad),
        "bad_reported": len(reported),
        "unreported": sorted(set(made.bad) - set(reported)),
        "files_skipped_with_warning": f"{len(skipped)} of {len(made.skipped_files)}",
        "traceback": "Traceback" in stderr.decode("utf-8", "replace"),
        "peak_rss_mib": round(peak / 1024),
        "seconds": round(seconds, 1),
        "messages": [m for m in messages if "warning" in m or ":" in m][:40],
    }


# --- one long article ------------------------------------------------------------------------------------

QUOTE_PROBE = """
import json, resource, sys, time
from search_app.quotes import check_quote
from search_app.search import Searcher
searcher = Searcher.open(sys.argv[1])
check_quote(searcher, "warm up the encoder")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
check = check_quote(searcher, sys.argv[2])
seconds = time.perf_counter() - started
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"verdict": check.verdict, "seconds": round(seconds, 3), "peak_growth_mib": round(grew / 1024)}))
"""


def long_article(work: Path) -> dict:
    """One article of about 1,000,000 characters (the ingest limit; Arabic news-dev texts in a row): what
    indexing it costs, and a quote check of a re-spelled sentence near its end."""
    texts = [r["text"] for r in news_rows() if r["lang"] == "ar"]
    text = ""
    for i in range(10**6):
        if len(text) >= 990_000:
            break
        text += texts[i % len(texts)] + "\n"
    source = write_jsonl(work / "long.jsonl", [{"id": "long", "text": text, "lang": "ar", "date": "2020-01-01"}])
    index = work / "long-index"
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    run = sahafa("index", source, "--index", index, "-q", stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(run.pid, 0)
    seconds = time.perf_counter() - started
    sentence = text[-3000:].split(".")[2].strip()
    quote = sentence.replace("ة", "ه").replace("أ", "ا")
    probe = subprocess.run([sys.executable, "-c", QUOTE_PROBE, str(index), quote], cwd=ROOT, env=ENV,
                           capture_output=True, text=True, check=True)  # fmt: skip
    return {
        "characters": len(text),
        "index_exit": os.waitstatus_to_exitcode(status),
        "index_seconds": round(seconds, 1),
        "index_peak_rss_mib": round(usage.ru_maxrss / 1024),
        "quote_words": len(quote.split()),
        "quote": json.loads(probe.stdout.strip().splitlines()[-1]),
    }


# --- report ----------------------------------------------------------------------------------------------


def table(results: dict) -> str:
    lines = ["| check | result |", "|---|---|"]
    q = results.get("queries")
    if q:
        cli, lib = q["cli"], q["library"]
        lines.append(
            f"| {lib['queries']:,} hostile queries, CLI batch (+5 malformed lines) | {cli['crashes']} crashes; "
            f"{cli['answered']:,} answered, {cli['messages']} clear messages, exit {cli['exit_code']} "
            f"({cli['seconds']} s) |"
        )
        lines.append(
            f"| the same through `Searcher.results` (random options), {lib['quote_checks']:,} also through "
            f"`check_quote` | {lib['crashes']} crashes; {lib['answered']:,} answered, {lib['messages']} clear "
            f"messages ({lib['seconds']} s) |"
        )
    w = results.get("writes")
    if w:
        for name, label in (("index", "`sahafa index` of news-dev (1,000 articles)"), ("delete", "`sahafa delete`")):
            p = w["phases"][name]
            lines.append(
                f"| {w['readers']} reader processes ({w['rate_per_reader']:g} queries/s each) during {label} | "
                f"{p['errors']} errors, {p['missed']} committed "
                f"articles missed, {p['ghosts']} deleted shown; {p['queries']:,} queries in {p['seconds']} s = "
                f"{p['per_second']}/s |"
            )
    k = results.get("kills")
    if k:
        points = k["points"]
        opened = sum(not p["open_problems"] for p in points)
        lost = sum(len(p["lost"]) for p in points)
        equal = sum(not p["differs_from_clean"] for p in points)
        during = sum(bool(p["temporary_left"]) for p in points if p["trigger"].startswith("faiss save"))
        landed = sum(not p["finished_first"] for p in points)
        lines.append(
            f"| kill -9 at {len(points)} points of `sahafa index` ({k['articles']} articles; schema creation, "
            f"{during} inside a FAISS save, random times; {landed} landed before the run ended) | opens "
            f"{opened}/{len(points)}, committed articles lost {lost}, rerun equal to a clean build "
            f"{equal}/{len(points)} |"
        )
    c = results.get("corpus")
    if c:
        lines.append(
            f"| hostile corpus (bad UTF-8, BOM, CRLF, 50 MB field, 70 MB line, deep JSON, huge integer, stray CSV "
            f"quote, markup, `javascript:` URL, bidi, symlink out, FIFO, latin-1) | {c['valid_indexed']}/{c['valid']} "
            f"valid indexed, {c['bad_reported']}/{c['bad']} bad reported as file:line, "
            f"{c['files_skipped_with_warning']} files skipped with a warning, peak RSS {c['peak_rss_mib']:,} MiB |"
        )
    g = results.get("long")
    if g:
        q = g["quote"]
        lines.append(
            f"| one article of {g['characters']:,} characters | indexed in {g['index_seconds']} s, peak RSS "
            f"{g['index_peak_rss_mib']:,} MiB; a re-spelled {g['quote_words']}-word quote near its end: "
            f"`{q['verdict']}` in {q['seconds']:.2f} s, peak memory +{q['peak_growth_mib']} MiB |"
        )
    return "\n".join(lines)


SECTIONS = ("queries", "writes", "kills", "corpus", "long")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000, help="hostile queries to generate")
    parser.add_argument("--readers", type=int, default=3, help="reader processes during the writes")
    parser.add_argument("--rate", type=float, default=10, help="queries a second each reader aims at")
    parser.add_argument("--kills", type=int, default=20, help="kill -9 points")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these parts (repeatable)")
    args = parser.parse_args()
    work = OUT
    work.mkdir(parents=True, exist_ok=True)
    results_file = work / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() and args.only else {}
    runs = {
        "queries": lambda: hostile_queries(args.queries, work),
        "writes": lambda: under_writes(args.readers, args.rate, work),
        "kills": lambda: kill_points(args.kills, work),
        "corpus": lambda: hostile_corpus(work),
        "long": lambda: long_article(work),
    }
    for name in args.only or SECTIONS:
        started = time.perf_counter()
        print(f"{name}…", flush=True)
        results[name] = runs[name]()
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
        results_file.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    print(table(results))


if __name__ == "__main__":
    main()
