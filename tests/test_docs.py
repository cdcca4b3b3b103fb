"""The README tells the same story as the CLI: every command, with help text, and every one of its options."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from search_app.cli import cli
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_and_its_options_are_in_the_readme(name: str) -> None:
    command = cli.commands[name]
    shown = CliRunner().invoke(cli, [name, "--help"])
    assert shown.exit_code == 0 and (command.help or "").strip(), name
    assert f"sahafa {name}" in README
    options = [o for p in command.params if isinstance(p, click.Option) for o in p.opts if o.startswith("--")]
    assert [o for o in options if o not in README] == [], name
