"""The bot's log lines: readable text (the default) or one JSON object per line for log shippers
(EXPRESSIONS_LOG_FORMAT=json), tagged with the interaction they belong to, and never the token.

A request's log lines carry its interaction id, guild and shard: `bind` puts them in a context
variable at each place an interaction enters the bot's code (the command tree's check, a face
button's check, the stray-button listener); asyncio runs each in a task of its own, so the tags
follow that interaction and no other. Lines from the generator threads belong to a batch, not an
interaction, and carry none.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import discord

TEXT_FORMAT = "[{asctime}] [{levelname:<8}] {name}: {message}"  # discord.py's own layout
TEXT_DATES = "%Y-%m-%d %H:%M:%S"
TAGS = ("interaction", "guild", "shard")
HIDDEN = "[token]"
_tags: ContextVar[dict[str, int | None] | None] = ContextVar("interaction_tags", default=None)


def bind(interaction: discord.Interaction) -> None:
    """Tag this task's log lines with the interaction."""
    client = interaction.client
    guild, shards = interaction.guild_id, client.shard_count or 1
    shard = (guild >> 22) % shards if guild is not None else 0  # Discord's rule; direct messages go to shard 0
    _tags.set({"interaction": interaction.id, "guild": guild, "shard": shard})


class _Tagged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        tags = _tags.get() or {}
        for key in TAGS:
            setattr(record, key, tags.get(key))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the interaction's
    tags (null outside one), and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **{key: getattr(record, key, None) for key in TAGS},
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class Redacting(logging.Formatter):
    """Another formatter's lines with `secret` blanked out, wherever a library put it."""

    def __init__(self, inner: logging.Formatter, secret: str):
        super().__init__()
        self.inner, self.secret = inner, secret

    def format(self, record: logging.LogRecord) -> str:
        return self.inner.format(record).replace(self.secret, HIDDEN)


def setup_logging(log_format: str, token: str | None, level: int = logging.INFO) -> None:
    """Send every logger's lines at `level` and above to stderr in `log_format` ("text" or "json")."""
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT, TEXT_DATES, style="{")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redacting(formatter, token) if token else formatter)
    handler.addFilter(_Tagged())
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(handler)
