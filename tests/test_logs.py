"""The bot's log lines: JSON for log shippers, tagged with their interaction, and never the token."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace

import pytest

from bot.logs import HIDDEN, bind, setup_logging

TOKEN = "MTIz.secret-token"


@pytest.fixture
def root_handlers():
    """Leave the root logger as it was."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = before, level


def interaction(id: int, guild: int | None, shards: int = 4) -> SimpleNamespace:
    return SimpleNamespace(id=id, guild_id=guild, client=SimpleNamespace(shard_count=shards))


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_each_format_hides_the_token_and_json_lines_carry_the_interaction(root_handlers, capsys, log_format):
    setup_logging(log_format, TOKEN)
    log = logging.getLogger("bot.test")
    guild = (123 << 22) | 5  # Discord's shard rule: (guild >> 22) % shards

    async def request() -> None:
        bind(interaction(42, guild))
        log.info("drawing for %s", "alice")
        try:
            raise RuntimeError(f"Authorization: Bot {TOKEN}")  # a library that puts the token in an error
        except RuntimeError:
            log.exception("failed")

    await asyncio.gather(request(), asyncio.sleep(0))
    log.warning("outside any interaction, token %s", TOKEN)
    err = capsys.readouterr().err
    assert TOKEN not in err and err.count(HIDDEN) == 2
    if log_format == "text":
        assert "[INFO    ] bot.test: drawing for alice" in err
        return
    first, failed, outside = (json.loads(line) for line in err.splitlines() if line.startswith("{"))
    assert first["message"] == "drawing for alice" and first["level"] == "INFO" and first["logger"] == "bot.test"
    assert (first["interaction"], first["guild"], first["shard"]) == (42, guild, 123 % 4)
    assert first["time"].endswith("+00:00") and "RuntimeError" in failed["exception"]
    assert outside["interaction"] is None and outside["guild"] is None, "the tags stay with their own task"


def test_direct_messages_are_shard_0():
    async def tags():
        bind(interaction(7, None))
        from bot.logs import _tags

        return _tags.get()

    assert asyncio.run(tags()) == {"interaction": 7, "guild": None, "shard": 0}
