"""A faithful local BUKA API simulator: a real HTTP server on 127.0.0.1 for tests, demos and rehearsals.

``Simulator`` runs in-process (background threads); ``SimulatorProcess`` runs it as a child process.
Configuration objects: ``Account``, ``Fault``, ``Scenario``, ``DeliveryModel`` (spec formats in
:mod:`buka_nb.simulator.config`); control endpoints in :mod:`buka_nb.simulator.control`.

Attributes load lazily so ``import buka_nb.simulator`` (e.g. by the CLI parser) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Simulator": ".app",
    "SimulatorProcess": ".process",
    "Account": ".accounts",
    "Fault": ".config",
    "Scenario": ".config",
    "DeliveryModel": ".config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
