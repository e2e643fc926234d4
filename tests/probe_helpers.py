"""Helpers the probe tests share: cancelling a probe mid-way, checking a kind's schema."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
import yaml

from monitor.config.schema import Ctx, Field


async def cancel_soon(coro: Any) -> None:
    """Start a probe, cancel it mid-way, and expect the cancellation back."""
    task = asyncio.create_task(coro)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)  # let the transport's close callbacks run
    gc.collect()  # an unclosed socket would now raise ResourceWarning (an error here)


def check_schema(schema: Field, kind: str, text: str) -> tuple[Any, list[str]]:
    """Validate `text` as `checks[0].KIND`: the built value and the problems as printed."""
    ctx = Ctx("checks.yaml", env={})
    value = schema.check(yaml.compose(text), f"checks[0].{kind}", ctx)
    return value, [str(p) for p in ctx.problems]
