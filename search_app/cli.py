"""The ``sahafa`` command: a thin click shell over the indexer and the search library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from indexer.errors import SahafaError

DEFAULT_INDEX = "index"


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sahafa")
def cli() -> None:
    """Sahafa: bilingual Arabic/English semantic search over press coverage."""


@cli.command("index")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--index",
    "index_dir",
    default=DEFAULT_INDEX,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Index directory (created if missing).",
)
@click.option(
    "--encoder",
    default=None,
    help="e5-small (default for a new index), use, or st:NAME_OR_PATH for any sentence-transformers model.",
)
@click.option("--strict", is_flag=True, help="Exit non-zero if any record was skipped.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no per-record messages.")
def index_cmd(
    sources: tuple[Path, ...], index_dir: Path, encoder: str | None, strict: bool, quiet: bool
) -> None:
    """Index SOURCES (JSONL, CSV, .txt/.html files or folders) into an index directory.

    Indexing again embeds only new or changed articles; an interrupted run leaves the index at its
    last committed batch, and running the same command again completes it.
    """
    from indexer.build import index_sources

    def say(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    try:
        report = index_sources(
            sources,
            index_dir,
            encoder=encoder,
            progress=not quiet,
            on_problem=say,
            on_warning=lambda m: say(f"warning: {m}"),
        )
    except SahafaError as exc:
        _fail(exc)
    click.echo(report.summary())
    if strict and report.skipped:
        raise click.ClickException(f"--strict: {report.skipped} record(s) skipped")


@cli.command("delete")
@click.argument("ids", nargs=-1, required=True)
@click.option(
    "--index", "index_dir", default=DEFAULT_INDEX, show_default=True, type=click.Path(path_type=Path)
)
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
@click.option(
    "--index", "index_dir", default=DEFAULT_INDEX, show_default=True, type=click.Path(path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_cmd(index_dir: Path, as_json: bool) -> None:
    """Describe an index: encoder, counts, languages, outlets, dates, size on disk."""
    from indexer.info import describe

    try:
        info = describe(index_dir)
    except SahafaError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        click.echo(f"{key:>18}: {value}")


def main() -> None:
    cli(prog_name="sahafa")


if __name__ == "__main__":
    sys.exit(main())
