"""Email endpoints (stub)."""
from __future__ import annotations
ROUTES = []
