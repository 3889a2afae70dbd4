"""Shared fixtures: an isolated environment (no real credentials, journal in tmp) and a simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: BUKA's original platform page (signing example, status-code tables): the copy in tests/golden is what
#: the tests read; the project's shared/seeds folder beside the checkout, when there, must still match it.
SEED = REPO / "tests" / "golden" / "000_229be1948776f3d0.txt"
SHARED_SEED = REPO.parent / "shared" / "seeds" / SEED.name


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    for var in ("BUKA_API_KEY", "BUKA_API_SECRET", "BUKA_SMS_APP_ID", "BUKA_EMAIL_APP_ID", "BUKA_VOICE_APP_ID",
                "BUKA_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BUKA_JOURNAL", str(tmp_path / "default-journal.sqlite3"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sim():
    from buka_nb.simulator import Simulator

    with Simulator(seed=7, report_delay=(0.0, 0.0)) as simulator:
        yield simulator


@pytest.fixture
def journal_path(tmp_path):
    return tmp_path / "journal.sqlite3"
