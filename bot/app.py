"""The bot object: a discord.py AutoShardedBot that assembles the parts (the drawing service and the
views it posts under, the commands' cog, the face buttons and the editor, the metrics) and drains
the service before it disconnects."""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord.ext import commands

from gan import Faces

from .backends import Backend, create_backend
from .buttons import FACE_BUTTONS, GRID_BUTTONS, face_view, grid_view, result_view
from .cog import FaceCog
from .drawing import DrawingService, Views
from .editor import EDITOR_ITEMS
from .gateway import tolerate_bad_frames
from .logs import bind
from .metrics import Metrics, MetricsServer, PrometheusMetrics, Vitals
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
        self.metrics = PrometheusMetrics(self.vitals) if settings.metrics_port is not None else Metrics()
        self._drained = False
        self.tree.interaction_check = self._take  # type: ignore[method-assign]

    async def _take(self, interaction: discord.Interaction) -> bool:
        """Every slash command passes here first: tag its log lines."""
        bind(interaction)
        return True

    def metrics_server(self) -> MetricsServer | None:
        """The /metrics and /healthz server the settings ask for (None: metrics off); not started."""
        if not isinstance(self.metrics, PrometheusMetrics):  # made exactly when a port is set
            return None
        return MetricsServer(self.metrics, self.health, self.settings.metrics_host, self.settings.metrics_port)

    def vitals(self) -> Vitals:
        queue = self.drawing.queue if self.drawing is not None else None
        return Vitals(
            queue_depth=queue.depth if queue else 0,
            batches_in_flight=queue.in_flight if queue else 0,
            draw_timeouts=queue.timeouts if queue else 0,
            workers_replaced=getattr(self.backend, "abandoned", 0),
            shards=len(self.shards),
            shards_connected=sum(not s.is_closed() for s in self.shards.values()),
            model={
                "generator": str(self.faces.meta.get("source", "unknown")),
                "arch": str(self.faces.meta.get("config", {}).get("arch", "unknown")),
                "sliders": self.faces.sliders.fingerprint,
            },
        )

    def health(self) -> str | None:
        """Why the bot is not healthy now, or None: it must be connected (every shard it holds), not
        draining, and its workers must have drawn within the draw timeout whenever work waited."""
        if self._drained:
            return "draining: shutting down"
        if not self.shards or self.is_closed():
            return "not connected to Discord"
        down = sorted(i for i, s in self.shards.items() if s.is_closed())
        if down:
            return f"shards {down} disconnected"
        stalled = self.drawing.queue.stalled_s() if self.drawing is not None else 0.0
        if stalled > self.settings.draw_timeout_s:
            return f"no faces drawn for {stalled:.0f} s while requests waited"
        return None

    async def login(self, token: str) -> None:
        # discord.py's default pool has no limit: 200 answers at once would open 200 connections
        # (a TLS handshake apiece on the real Discord). Per host, since a gateway websocket holds
        # its connection for good (on Discord that is another host); made here, as aiohttp needs a
        # running loop.
        self.http.connector = aiohttp.TCPConnector(limit=0, limit_per_host=HTTP_CONNECTIONS)
        await super().login(token)

    async def setup_hook(self) -> None:
        views = Views(face=face_view, grid=grid_view, result=result_view)
        self.drawing = DrawingService(self.faces, self.backend, self.settings, views, self.metrics)
        await self.add_cog(FaceCog(self, self.drawing))
        self.add_dynamic_items(*FACE_BUTTONS, *GRID_BUTTONS, *EDITOR_ITEMS)
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
