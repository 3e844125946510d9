"""`python -m bot`: run Expressions with the settings in .env (see .env.example)."""

from __future__ import annotations

import logging
import sys

import discord
from dotenv import load_dotenv

from gan import CheckpointError

from .app import create_bot
from .settings import Settings

HINT = "copy .env.example to .env and set DISCORD_TOKEN (see the README)"


def main() -> int:
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
        discord.http.Route.BASE = settings.fake_discord_url.rstrip("/") + "/api/v10"
        print(f"warning: talking to a fake Discord at {settings.fake_discord_url} (tests only)", file=sys.stderr)
    fields = {k: v for k, v in vars(settings).items() if k not in ("token", "fake_discord_url")}
    try:
        bot = create_bot(**fields)
    except (CheckpointError, ValueError) as e:
        print(f"error: cannot load the model: {e}", file=sys.stderr)
        return 2
    try:
        bot.run(settings.token, log_level=logging.INFO, root_logger=True)
    except discord.LoginFailure:
        print(f"error: Discord rejected DISCORD_TOKEN: {HINT}", file=sys.stderr)
        return 2
    except discord.PrivilegedIntentsRequired as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
