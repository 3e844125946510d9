"""The real `python -m bot` process, started for a test against the Discord stand-in (bot/discord_standin.py)."""

from __future__ import annotations

import asyncio
import os
import sys

from bot.settings import ENV_NAMES
from tests.conftest import ROOT


def bot_env(env: dict) -> dict[str, str]:
    """This shell's environment without its bot settings: every one present and empty (python-dotenv
    never overrides a variable that is already set, so a developer's .env is never read), but `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "EXPRESSIONS_"))}
    return {**clean, **dict.fromkeys(ENV_NAMES.values(), ""), "EXPRESSIONS_DEVICE": "cpu", **env}


async def start_bot(
    env: dict, output: int | None = asyncio.subprocess.PIPE, prelude: str = "", args: tuple[str, ...] = ()
) -> asyncio.subprocess.Process:
    """Run `python -m bot` on the CPU with only the given bot settings (`bot_env`): a real token in a
    developer's .env is never used.
    `prelude` is Python run first in the bot's process (fault injection: a slow or hung generator);
    `args` are its command line (`--local`)."""
    stderr = asyncio.subprocess.STDOUT if output == asyncio.subprocess.PIPE else output
    run = f"import runpy, sys\nsys.argv[1:] = {list(args)!r}\nrunpy.run_module('bot', run_name='__main__')"
    launch = ["-m", "bot", *args] if not prelude else ["-c", f"{prelude}\n{run}"]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *launch,
        cwd=str(ROOT),
        env=bot_env(env),
        stdout=output,
        stderr=stderr,
    )
