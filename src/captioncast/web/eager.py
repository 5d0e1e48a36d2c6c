"""Run a coroutine at once, in the caller, until it first has to wait.

A WebSocket send through the ASGI server almost never waits: the frame goes into the
socket's buffer and the coroutine returns. Wrapping each one in a task, as a viewer's pump
task or ``asyncio.wait_for`` would, costs a task step and a future per viewer per message,
which is most of the fan-out's time with thousands of viewers. ``start_eagerly`` runs the
coroutine synchronously instead and makes a task only for the rare send that must wait
(a viewer whose socket buffer is full). Python 3.12's eager task factory does the same.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


def start_eagerly(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T] | None:
    """Run ``coro`` now; None if it finished, else a task that finishes it.

    Exceptions raised before the coroutine first waits propagate to the caller.
    """
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    except BaseException:
        coro.close()
        raise
    task = asyncio.get_running_loop().create_task(_resume(coro, waiting_on))
    # A task cancelled before its first step never resumes ``coro``: close it then, so that
    # its cleanup runs (closing a finished coroutine does nothing).
    task.add_done_callback(lambda _: coro.close())
    return task


@types.coroutine
def _resume(coro: Coroutine[Any, Any, T], waiting_on: Any) -> Generator[Any, None, T]:
    """Go on driving ``coro`` inside a task, from the future it was waiting on.

    The task waits on each future ``coro`` yields, then resumes it; an exception thrown
    into the task (its cancellation) is thrown into ``coro``.
    """
    while True:
        try:
            yield waiting_on
        except BaseException as exc:
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        try:
            waiting_on = coro.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
