"""A real PostgreSQL for the centre's tests: started once per test session (per worker)."""

from __future__ import annotations

import pytest
from centralrig import PostgreSQL


@pytest.fixture(scope="session")
def postgres():
    server = PostgreSQL()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(postgres: PostgreSQL) -> str:
    """A fresh, empty database of that server for one test."""
    return postgres.create_database()
