"""The real `python -m bot` process, started for a test against the Discord stand-in (bot/discord_standin.py)."""

from __future__ import annotations

import asyncio
import os
import sys

from bot.settings import ENV_NAMES
from tests.conftest import ROOT


async def start_bot(
    env: dict, output: int | None = asyncio.subprocess.PIPE, prelude: str = ""
) -> asyncio.subprocess.Process:
    """Run `python -m bot` on the CPU with only the given bot settings: none inherited from this shell,
    and none from a developer's .env (every setting is present, empty unless given, and python-dotenv
    never overrides a variable that is already set, so a real token there is never used).
    `prelude` is Python run first in the bot's process (fault injection: a slow or hung generator)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "EXPRESSIONS_"))}
    unset = dict.fromkeys(ENV_NAMES.values(), "")
    stderr = asyncio.subprocess.STDOUT if output == asyncio.subprocess.PIPE else output
    launch = (
        ["-m", "bot"]
        if not prelude
        else ["-c", f"{prelude}\nimport runpy\nrunpy.run_module('bot', run_name='__main__')"]
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *launch,
        cwd=str(ROOT),
        env={**clean, **unset, "EXPRESSIONS_DEVICE": "cpu", **env},
        stdout=output,
        stderr=stderr,
    )
