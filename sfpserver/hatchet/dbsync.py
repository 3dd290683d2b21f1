"""Database calls that also work from inside a running event loop (async tasks, aio_ methods).

Django refuses ORM calls in a thread that runs an event loop; such calls are handed to a small pool of
threads whose connections are reused, and awaited from async code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import close_old_connections

T = TypeVar("T")
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hatchet-db")


def _fresh(fn: Callable[[], T]) -> Callable[[], T]:
    def call() -> T:
        close_old_connections()
        return fn()

    return call


def run_db(fn: Callable[[], T]) -> T:
    """Call `fn` now; from a thread with a running event loop, call it on a database thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    return _pool.submit(_fresh(fn)).result()


async def aio_db(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, _fresh(fn))
