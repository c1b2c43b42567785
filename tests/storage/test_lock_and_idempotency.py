"""Leases give a job to one replica at a time; idempotency keys remember handled intents."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage import db, idempotency, lock
from tests.storage.conftest import T0

pytestmark = pytest.mark.usefixtures("db")


async def test_a_lease_has_one_holder_until_it_expires() -> None:
    assert await lock.try_acquire("reminders", "replica-a", timedelta(seconds=60), now=T0)
    assert not await lock.try_acquire("reminders", "replica-b", 60, now=T0 + timedelta(seconds=30))
    assert await lock.holder("reminders", now=T0) == "replica-a"
    assert await lock.try_acquire("other-job", "replica-b", 60, now=T0)

    later = T0 + timedelta(seconds=60)
    assert await lock.try_acquire("reminders", "replica-b", 60, now=later)
    assert await lock.holder("reminders", now=later) == "replica-b"
    assert not await lock.renew("reminders", "replica-a", 60, now=later)
    assert not await lock.release("reminders", "replica-a")
    assert await lock.release("reminders", "replica-b")
    assert await lock.holder("reminders", now=later) is None


async def test_the_holder_renews_its_lease_to_keep_it() -> None:
    assert await lock.try_acquire("jira-pull", "a", 10, now=T0)
    assert await lock.renew("jira-pull", "a", 10, now=T0 + timedelta(seconds=9))
    assert not await lock.try_acquire("jira-pull", "b", 10, now=T0 + timedelta(seconds=15))
    assert await lock.try_acquire("jira-pull", "a", 10, now=T0 + timedelta(seconds=15))


async def test_of_racing_replicas_exactly_one_gets_the_lease() -> None:
    results = await asyncio.gather(
        *(lock.try_acquire("digest", f"replica-{n}", 60, now=T0) for n in range(5))
    )
    assert results.count(True) == 1


async def test_a_leased_block_gives_the_lease_back_even_when_it_fails() -> None:
    with pytest.raises(RuntimeError):
        async with lock.leased("pull:jira", "replica-a", 60, now=T0) as held:
            assert held
            assert await lock.holder("pull:jira", now=T0) == "replica-a"
            raise RuntimeError("the cycle failed")

    assert await lock.holder("pull:jira", now=T0) is None


async def test_a_leased_block_held_elsewhere_runs_without_the_lease_and_frees_nothing() -> None:
    assert await lock.try_acquire("pull:jira", "replica-a", 60, now=T0)

    async with lock.leased("pull:jira", "replica-b", 60, now=T0) as held:
        assert not held

    assert await lock.holder("pull:jira", now=T0) == "replica-a"


async def test_an_intent_is_handled_the_first_time_only() -> None:
    assert await idempotency.remember("envelope:Ev01", now=T0)
    assert not await idempotency.remember("envelope:Ev01", now=T0)
    remembered = await idempotency.recall("envelope:Ev01")
    assert remembered is not None
    assert remembered.created_at == T0
    assert remembered.result is None
    assert await idempotency.store_result("envelope:Ev01", {"incident": 12})
    recalled = await idempotency.recall("envelope:Ev01")
    assert recalled is not None
    assert recalled.result == {"incident": 12}
    assert await idempotency.recall("envelope:Ev02") is None


async def test_concurrent_redeliveries_are_handled_once() -> None:
    results = await asyncio.gather(*(idempotency.remember("view:V1", now=T0) for _ in range(5)))
    assert results.count(True) == 1


async def test_an_intent_whose_work_rolled_back_is_handled_again() -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            assert await idempotency.remember("envelope:Ev03", now=T0)
            raise RuntimeError("the work failed")
    assert await idempotency.remember("envelope:Ev03", now=T0)


async def test_a_repeat_inside_a_transaction_keeps_the_transaction_usable() -> None:
    await idempotency.remember("k", now=T0)
    async with db.transaction():
        assert not await idempotency.remember("k", now=T0)
        assert await idempotency.remember("k2", now=T0)
    assert await idempotency.recall("k2") is not None


async def test_old_keys_are_forgotten() -> None:
    await idempotency.remember("old", now=T0)
    await idempotency.remember("new", now=T0 + timedelta(hours=2))
    assert await idempotency.forget_before(T0 + timedelta(hours=1)) == 1
    assert await idempotency.recall("old") is None
    assert await idempotency.recall("new") is not None


async def test_an_empty_or_overlong_key_is_refused() -> None:
    for key in ("", "k" * 256):
        with pytest.raises(ValueError, match="idempotency key"):
            await idempotency.remember(key)
