"""start_eagerly: a coroutine runs in the caller until it first waits, then in a task."""

from __future__ import annotations

import asyncio

import pytest

from captioncast.web.eager import start_eagerly


async def doubled(x: int) -> int:
    return x * 2


async def test_a_coroutine_that_never_waits_finishes_in_the_call() -> None:
    assert start_eagerly(doubled(2)) is None


async def test_a_coroutine_that_waits_goes_on_in_a_task() -> None:
    gate, steps = asyncio.Event(), []

    async def two_steps() -> str:
        steps.append("before")
        await gate.wait()
        steps.append("after")
        await asyncio.sleep(0)
        return "done"

    task = start_eagerly(two_steps())
    assert steps == ["before"] and task is not None
    gate.set()
    assert await task == "done" and steps == ["before", "after"]


async def test_cancelling_the_task_cancels_the_coroutine() -> None:
    cleaned = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    task = start_eagerly(forever())
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set()


async def test_errors_before_the_first_wait_reach_the_caller_and_later_ones_the_task() -> None:
    async def fails_now() -> None:
        raise OSError("gone")

    with pytest.raises(OSError):
        start_eagerly(fails_now())

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise OSError("gone later")

    task = start_eagerly(fails_later())
    assert task is not None
    with pytest.raises(OSError):
        await task
