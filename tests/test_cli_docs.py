"""Every ``buka-nb`` sub-command is a real command and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from buka_nb.cli import COMMANDS, build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command):
    assert f"`buka-nb {command}" in README, f"README.md does not document `buka-nb {command}`"


def test_every_registered_command_is_listed_in_commands():
    parser = build_parser()
    registered = next(a for a in parser._actions if a.dest == "command").choices
    assert set(registered) <= set(COMMANDS)
