"""Spark tests share one local[2] session (see ``tests/spark_fixtures.py``); tests using it are marked ``spark``."""

from __future__ import annotations

import pytest

from tests.spark_fixtures import bronze, layout, spark

__all__ = ["bronze", "layout", "spark"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
