"""A faithful local BUKA API simulator: a real HTTP server on 127.0.0.1 for tests, demos and rehearsals."""

from __future__ import annotations

from .app import Simulator
from .config import DeliveryModel, Fault, Scenario
from .state import Account

__all__ = ["Account", "DeliveryModel", "Fault", "Scenario", "Simulator"]
