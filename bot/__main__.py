"""`python -m bot` (or `expressions-bot`): run Expressions with the settings in .env (see .env.example).
`python -m bot --local` (or `expressions-local`) runs it in a browser instead, without Discord (bot/local.py).

SIGTERM (what Procfile hosts, Docker and systemd send) and SIGINT (Ctrl-C) both stop it gently:
no new work is taken, queued requests are drawn or politely refused within the shutdown timeout,
every waiting user gets their answer, then the process exits 0. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import signal
import sys

import aiohttp
import discord
import torch
import yarl
from dotenv import load_dotenv

from gan import CheckpointError

from . import local
from .app import ExpressionsBot, create_bot
from .heap import keep_freed_buffers
from .logs import setup_logging
from .settings import ENV_NAMES, Settings

HINT = "copy .env.example to .env and set DISCORD_TOKEN (see the README)"
CLOSE_GRACE_S = 10.0  # after draining, how long the connection may take to close
log = logging.getLogger("bot")


class CannotListen(Exception):
    """The metrics server could not take its port (str(e) is the one line to print)."""


async def serve(bot: ExpressionsBot, token: str) -> None:
    """Run until Discord ends the session or a signal asks us to stop; the metrics server, if
    asked for, listens from before the first connection until the end."""
    server = bot.metrics_server()
    if server is not None:
        try:
            await server.start()
        except OSError as e:
            where = f"{server.host}:{server.port}"
            raise CannotListen(
                f"{ENV_NAMES['metrics_port']}: cannot listen on {where} ({e.strerror or e}); "
                "is another process using that port?"
            ) from None
    try:
        await _run(bot, token)
    finally:
        if server is not None:
            await server.stop()


async def _run(bot: ExpressionsBot, token: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s again: exiting now", sig.name)
            os._exit(1)
        log.info("%s: finishing the requests in flight, then exiting", sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    async with bot:
        running = asyncio.create_task(bot.start(token), name="discord")
        stopping = asyncio.create_task(stop.wait(), name="signals")
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            stopping.cancel()
            running.result()  # raises what ended the session (a rejected token, an unreachable Discord)
            return
        await bot.close()
        try:
            await asyncio.wait_for(running, CLOSE_GRACE_S)
        except (TimeoutError, discord.DiscordException, aiohttp.ClientError, OSError) as e:
            log.warning("the connection did not close cleanly: %s", e)


def share_cores(settings: Settings) -> Settings:
    """Fix the number of generator workers, then give each its share of torch's CPU threads (a
    process-wide setting, so it is made here, at the entry point, and not by the library)."""
    settings = dataclasses.replace(settings, workers=settings.inference_workers())
    threads = settings.torch_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    return settings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--local" in args:
        return local.main([a for a in args if a != "--local"])
    if args in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if args:
        print(f"usage: python -m bot [--local [--port N]]; {HINT}", file=sys.stderr)
        return 2
    load_dotenv()
    try:
        settings = Settings.from_env()
    except ValueError as e:
        print(f"error: {e} ({HINT})", file=sys.stderr)
        return 2
    if not settings.token:
        print(f"error: DISCORD_TOKEN is not set: {HINT}", file=sys.stderr)
        return 2
    if settings.fake_discord_url:
        base = settings.fake_discord_url.rstrip("/")
        discord.http.Route.BASE = base + "/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http", "ws", 1) + "/gateway")
        print(f"warning: talking to the Discord stand-in at {settings.fake_discord_url}, not Discord", file=sys.stderr)
    settings = share_cores(settings)
    keep_freed_buffers()
    try:
        bot = create_bot(settings)
    except (CheckpointError, ValueError) as e:
        print(f"error: cannot load the model: {e}", file=sys.stderr)
        return 2
    # torch, discord.py and the model leave ~200,000 objects that live as long as the process: out of
    # the collector's sight, a full collection under load takes ~5 ms instead of ~50 ms with every
    # thread stopped (docs/bot_load.md)
    gc.freeze()
    setup_logging(settings.log_format, settings.token)
    try:
        asyncio.run(serve(bot, settings.token))
    except CannotListen as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except discord.LoginFailure:
        print(f"error: Discord rejected DISCORD_TOKEN: {HINT}", file=sys.stderr)
        return 2
    except discord.PrivilegedIntentsRequired as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (aiohttp.ClientError, discord.GatewayNotFound, discord.HTTPException, OSError) as e:
        print(
            f"error: cannot reach Discord ({type(e).__name__}: {e}); check the network and try again", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
