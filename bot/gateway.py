"""One gateway frame that is not JSON costs its connection, not the process.

discord.py parses every frame in `DiscordWebSocket.received_message`; a frame it cannot parse (a bare
`NaN`, a frame cut short) raises a JSON error that no shard worker handles, and the whole client stops.
Here such a frame is logged and its shard reconnects with a fresh IDENTIFY (the session it belonged to
may be what went wrong), while every other shard goes on answering its users.
"""

from __future__ import annotations

import functools
import json
import logging

from discord.gateway import DiscordWebSocket, ReconnectWebSocket

log = logging.getLogger(__name__)


def tolerate_bad_frames() -> None:
    """Wrap discord.py's frame handler once (idempotent): a frame that is not JSON -> reconnect that shard."""
    original = DiscordWebSocket.received_message
    if getattr(original, "tolerates_bad_frames", False):
        return

    @functools.wraps(original)
    async def received_message(self: DiscordWebSocket, msg, /) -> None:
        try:
            await original(self, msg)
        except json.JSONDecodeError as e:  # orjson's decode error is one too
            log.warning("shard %s: a gateway frame that is not JSON (%s); reconnecting that shard", self.shard_id, e)
            raise ReconnectWebSocket(self.shard_id, resume=False) from None

    received_message.tolerates_bad_frames = True  # type: ignore[attr-defined]
    DiscordWebSocket.received_message = received_message  # type: ignore[method-assign]
