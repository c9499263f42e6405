"""``dataplat simulate run|burst``: the event simulators (tier 1, sources).

The commands live in :mod:`simulators.cli` so ``python -m simulators`` works without the
``dataplat`` package's other dependencies; this module only re-exports the typer app.
"""

from __future__ import annotations

from simulators.cli import app

__all__ = ["app"]
