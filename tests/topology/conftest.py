"""The topology test runs only when asked (`make test-topology`): it starts a whole deployment."""

from __future__ import annotations

import os

import pytest

SWITCH = "REGISTER_TEST_TOPOLOGY"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker the topology test carries."""
    config.addinivalue_line("markers", "topology: the deployment test of `make test-topology`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the topology test unless REGISTER_TEST_TOPOLOGY=1 (`make test-topology` sets it)."""
    if os.environ.get(SWITCH) == "1":
        return
    skip = pytest.mark.skip(reason=f"the deployment test: run `make test-topology` ({SWITCH}=1)")
    for item in items:
        if item.get_closest_marker("topology"):
            item.add_marker(skip)
