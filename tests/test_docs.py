"""Documentation stays true: every ``buka-nb`` command is in the README, the notebooks show no secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from buka_nb.cli import COMMANDS, build_parser
from buka_nb.credentials import DEMO

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command):
    assert f"`buka-nb {command}" in README, f"README.md does not document `buka-nb {command}`"


def test_every_registered_command_is_listed_in_commands():
    parser = build_parser()
    registered = next(a for a in parser._actions if a.dest == "command").choices
    assert set(registered) == set(COMMANDS)


def _saved_outputs(path: Path) -> str:
    book = json.loads(path.read_text(encoding="utf-8"))
    texts = []
    for cell in book["cells"]:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            for mime, value in output.get("data", {}).items():
                if mime not in ("image/png", "application/vnd.jupyter.widget-view+json"):
                    texts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(texts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_start_their_own_simulator_and_show_no_secret_or_sign(path):
    source = path.read_text(encoding="utf-8")
    assert "Simulator(" in source, f"{path.name} must start its own simulator"
    outputs = _saved_outputs(path)
    assert outputs, f"{path.name} has no saved outputs: execute it before committing"
    assert DEMO["api_secret"] not in outputs
    assert not re.search(r"\b[0-9a-f]{32}\b", outputs), f"{path.name} shows something like a Sign value"
