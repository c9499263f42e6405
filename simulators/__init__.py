"""Tier 1: reproducible event sources (mobile app, web, Postgres CDC, clickstream, external data)
and the code that produces them to Kafka. Runs without Dagster.

Public API (imported lazily, so ``python -m simulators --help`` and ``dataplat --help`` stay fast):

- :func:`run_burst` / :func:`run_bursts` -> :class:`BurstResult`: produce N messages as fast as possible
- :func:`run_continuous` -> :class:`ContinuousReport`: realistic rates until a duration or a stop event
- :class:`KafkaSink`, :func:`produce_burst`, :class:`ProduceError`, :class:`MissingTopicError`
- :func:`make_source`, :data:`SOURCES`, :data:`SOURCE_NAMES`, :func:`build_world`,
  :class:`VirtualClock`, :class:`WallClock`, :class:`SimMessage`: pure generation, no Kafka
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BurstResult": "simulators.producer",
    "KafkaSink": "simulators.producer",
    "MissingTopicError": "simulators.producer",
    "ProduceError": "simulators.producer",
    "produce_burst": "simulators.producer",
    "run_burst": "simulators.producer",
    "run_bursts": "simulators.producer",
    "ContinuousReport": "simulators.continuous",
    "RatePlan": "simulators.continuous",
    "run_continuous": "simulators.continuous",
    "SOURCES": "simulators.registry",
    "SOURCE_NAMES": "simulators.registry",
    "make_source": "simulators.registry",
    "parse_sources": "simulators.registry",
    "SimMessage": "simulators.base",
    "VirtualClock": "simulators.timeutil",
    "WallClock": "simulators.timeutil",
    "World": "simulators.world",
    "build_world": "simulators.world",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - names resolved by __getattr__


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'simulators' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
