"""Fixtures for the sandbox Confluence's own tests: a started sandbox, and a bare HTTP client that
speaks to it as any Confluence client would (Basic auth with e-mail and API token)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio

from sandbox.confluence import Account, SandboxConfluence


@pytest_asyncio.fixture
async def confluence() -> AsyncIterator[SandboxConfluence]:
    """A Confluence sandbox; the test fails at teardown if any request broke the contract."""
    async with SandboxConfluence() as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def error(self) -> str:
        """The title of a v2 error answer (`{"errors": [{"title": ...}]}`)."""
        return str(self.body["errors"][0]["title"])


@dataclass
class Http:
    session: aiohttp.ClientSession
    sandbox: SandboxConfluence

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
        json_body: Any = None,
        as_user: Account | None = None,
        password: str | None = None,
    ) -> Answer:
        user = as_user or self.sandbox.bot
        auth = aiohttp.encode_basic_auth(user.email, password or user.api_token)
        async with self.session.request(
            method,
            self.sandbox.base_url + path,
            params=params,
            json=json_body,
            headers={"Authorization": auth, "Accept": "application/json"},
        ) as response:
            text = await response.text()
            return Answer(response.status, json.loads(text) if text else None, response.headers)


@pytest_asyncio.fixture
async def http(confluence: SandboxConfluence) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield Http(session, confluence)


def storage(value: str) -> dict[str, str]:
    return {"representation": "storage", "value": value}
