"""What the Jira, Confluence and PagerDuty sandboxes share (`sandbox.http`): the same fault book and
lifecycle behave alike whichever vendor answers, each wording the answer its own way."""

from __future__ import annotations

import asyncio
import base64
import ssl

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from sandbox.jira import SandboxJira
from sandbox.pagerduty import SandboxPagerDuty
from sandbox.pagerduty.server import ACCEPT

pytestmark = pytest.mark.asyncio


def _basic(email: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()}


async def _get(
    url: str, headers: dict[str, str], *, trust: ssl.SSLContext | None = None
) -> tuple[int, CIMultiDictProxy[str]]:
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(url, ssl=trust if trust is not None else True) as answer,
    ):
        await answer.read()
        return answer.status, answer.headers


async def test_a_retry_after_of_zero_is_sent_as_is() -> None:
    """`Retry-After: 0` says "retry now"; leaving the header out lets a client pick its own wait."""
    async with SandboxJira() as jira:
        jira.inject_rate_limit(r"/myself$", retry_after=0)
        auth = _basic(jira.bot.email, jira.bot.api_token)
        status, headers = await _get(f"{jira.base_url}/rest/api/3/myself", auth)
        assert (status, headers.get("Retry-After")) == (429, "0")
        jira.assert_no_violations()


def _pagerduty_headers(pd: SandboxPagerDuty) -> dict[str, str]:
    return {
        "Accept": ACCEPT,
        "Authorization": f"Token token={pd.api_token}",
        "Content-Type": "application/json",
    }


async def test_a_stopped_sandbox_refuses_connections_then_comes_back_on_the_same_port() -> None:
    """Over TLS too: the restarted PagerDuty presents the same CA, written out again."""
    async with SandboxPagerDuty() as pd:
        url = f"{pd.base_url}/users"
        await pd.stop()
        with pytest.raises(aiohttp.ClientConnectorError):
            await _get(url, _pagerduty_headers(pd), trust=pd.client_ssl_context())
        await pd.start()
        assert f"{pd.base_url}/users" == url
        trusting = ssl.create_default_context(cafile=pd.ca_pem_path)
        status, _ = await _get(url, _pagerduty_headers(pd), trust=trusting)
        assert status == 200
        pd.assert_no_violations()


async def test_an_outage_can_say_when_to_come_back() -> None:
    async with SandboxJira() as jira:
        jira.start_outage(429, retry_after=5)
        auth = _basic(jira.bot.email, jira.bot.api_token)
        status, headers = await _get(f"{jira.base_url}/rest/api/3/myself", auth)
        assert (status, headers.get("Retry-After")) == (429, "5")
        jira.end_outage()
        assert (await _get(f"{jira.base_url}/rest/api/3/myself", auth))[0] == 200
        jira.assert_no_violations()


async def test_a_slow_answer_tells_the_test_when_the_request_is_in_flight() -> None:
    async with SandboxPagerDuty() as pd:
        slow = pd.slow_down(0.3, path_pattern="^/users$")
        call = asyncio.create_task(
            _get(f"{pd.base_url}/users", _pagerduty_headers(pd), trust=pd.client_ssl_context())
        )
        await asyncio.wait_for(slow.arrived.wait(), 5)
        assert not call.done()  # held by the sandbox, not yet answered
        assert (await call)[0] == 200
        assert slow.times == 0
        pd.assert_no_violations()
