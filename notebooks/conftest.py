"""nbval: run every notebook's kernel without the caller's BUKA_* variables.

Each notebook starts its own simulator, whose default account comes from ``BUKA_API_KEY`` /
``BUKA_API_SECRET`` when they are set; a developer's real credentials would then change saved
outputs (and have no business in a rehearsal). The kernel inherits the environment when nbval
starts it during the first cell's setup, so the variables are removed just for that moment.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._buka_env = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("BUKA_")}


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    os.environ.update(getattr(item, "_buka_env", {}))
