"""Suite-wide fixtures and the order in which pytest-xdist hands out the test files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def asv_envs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This worker's folder of asv environments (tests/helpers/asvenvs.py)."""
    return tmp_path_factory.mktemp("asv-envs")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Integration tests first (stable otherwise): xdist hands out files in collection order,
    so the long files start at once and the many quick ones fill the end of the run, instead
    of one worker finishing a long file alone while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("integration") is None)
