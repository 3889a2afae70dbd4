"""AI voice endpoints (stub)."""
from __future__ import annotations
ROUTES = []
def call_report(state, row):
    return {}
