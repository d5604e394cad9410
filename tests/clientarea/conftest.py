"""Fixtures of the client-area tests: the shipped templates and catalogs.

- ``renderer``: a fresh :class:`Renderer` on the shipped templates (no overrides).
- ``en``, ``pl``: the shipped English and Polish catalogs (one per test module).
"""

from __future__ import annotations

import pytest

from puq_bridge.clientarea.i18n import Catalog
from puq_bridge.clientarea.render import Renderer


@pytest.fixture(scope="module")
def pl() -> Catalog:
    return Renderer().catalog("pl")


@pytest.fixture(scope="module")
def en() -> Catalog:
    return Renderer().catalog("en")


@pytest.fixture
def renderer() -> Renderer:
    return Renderer()
