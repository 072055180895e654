"""People in the live tests: local accounts with one known password, and HTTP clients signed in as them
(the session cookie and the CSRF token a page would send)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import psycopg

from sealguard.people.passwords import hash_password
from sealguard.store import people

PASSWORD = "correct horse battery staple"
_hashed: list[str] = []


async def add_person(database_url: str, tenant: str, role: str, username: str, name: str) -> None:
    """A local account with the tests' password (hashed once per test run: scrypt is slow on purpose)."""
    if not _hashed:
        _hashed.append(hash_password(PASSWORD))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        if await people.by_username(conn, username) is None:
            await people.add(conn, username, name, tenant, role, password_hash=_hashed[0])  # type: ignore[arg-type]


@asynccontextmanager
async def signed_in(base: str, database_url: str, tenant: str, role: str, username: str,
                    name: str) -> AsyncIterator[httpx.AsyncClient]:  # fmt: skip
    """An HTTP client signed in as a person, as their browser would be."""
    await add_person(database_url, tenant, role, username, name)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        resp = await client.post("/auth/login", json={"username": username, "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        client.headers["X-CSRF-Token"] = resp.json()["csrf"]
        yield client
