"""The real `python -m bot` process, started for a test against the Discord stand-in (bot/discord_standin.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.settings import ENV_NAMES
from tests.conftest import ROOT

WAIT_S = 60  # how long a test waits for the local channel to start, or for what it shows


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


@dataclass
class Channel:
    url: str
    output: list[str] = field(default_factory=list)  # what the process printed so far


@contextlib.contextmanager
def local_channel() -> Iterator[Channel]:
    """`python -m bot --local --port 0` with no bot settings from this shell; stopped with Ctrl-C's
    signal, after which it must exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--local", "--port", "0"],
        cwd=ROOT,
        env=bot_env({}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    channel = Channel("")

    def read() -> None:
        for line in proc.stdout:
            channel.output.append(line)
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        found = re.search(r"http://127\.0\.0\.1:\d+", lines.get(timeout=WAIT_S))
        assert found, channel.output
        channel.url = found.group()
        yield channel
    finally:
        proc.send_signal(2)
        assert proc.wait(60) == 0, "".join(channel.output[-40:])
