"""The bot object: a discord.py AutoShardedBot that assembles the parts (the drawing service, the
commands' cog, the face buttons) and drains the service before it disconnects."""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord.ext import commands

from gan import Faces

from .backends import Backend, create_backend
from .buttons import FACE_BUTTONS
from .cog import FaceCog
from .drawing import DrawingService
from .gateway import tolerate_bad_frames
from .settings import Settings

log = logging.getLogger("bot")
HTTP_CONNECTIONS = 16  # to each Discord host: a burst of answers takes turns on these, not one each
# Interactions come whatever the intents; the default ones would also send every shard every message,
# reaction and typing event of every server the bot is in, to parse and throw away.
INTENTS = discord.Intents(guilds=True)
tolerate_bad_frames()


class ExpressionsBot(commands.AutoShardedBot):
    def __init__(self, settings: Settings, faces: Faces, backend: Backend):
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=INTENTS,
            help_command=None,
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids is not None else None,
        )
        self.settings = settings
        self.faces = faces
        self.backend = backend
        self.drawing: DrawingService | None = None  # built in setup_hook, with the event loop running
        self._drained = False

    async def login(self, token: str) -> None:
        # discord.py's default pool has no limit: 200 answers at once would open 200 connections
        # (a TLS handshake apiece on the real Discord). Per host, since a gateway websocket holds
        # its connection for good (on Discord that is another host); made here, as aiohttp needs a
        # running loop.
        self.http.connector = aiohttp.TCPConnector(limit=0, limit_per_host=HTTP_CONNECTIONS)
        await super().login(token)

    async def setup_hook(self) -> None:
        self.drawing = DrawingService(self.faces, self.backend, self.settings)
        await self.add_cog(FaceCog(self, self.drawing))
        self.add_dynamic_items(*FACE_BUTTONS)
        if self.settings.dev_guild:
            guild = discord.Object(self.settings.dev_guild)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def close(self) -> None:
        """Finish (or politely refuse) every request before the connection goes; bounded by the
        shutdown timeout, so a hung generator call cannot hold the process open."""
        if not self._drained:
            self._drained = True
            if self.drawing is not None:
                log.info("finishing the requests in flight before disconnecting")
                await self.drawing.drain()
        await super().close()


def create_bot(settings: Settings, faces: Faces | None = None) -> ExpressionsBot:
    """Build the bot without touching Discord (tests and benchmarks pass a Faces)."""
    backend, faces = create_backend(settings, faces)
    return ExpressionsBot(settings, faces, backend)
