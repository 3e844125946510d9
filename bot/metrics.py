"""What the bot does, for whoever runs it: Prometheus metrics and a health check (docs/operations.md).

`Metrics` is what the request path records into: interactions by kind and outcome, how long each
drawing took to answer, each generator call's size and time. The plain class records nothing (the
metrics server is off); `PrometheusMetrics` keeps them in its own registry, beside the values the
bot already holds (queue depth, batches in flight, hung workers replaced, shards connected, the
model), which are read at scrape time from a `Vitals` snapshot rather than copied on every change.
`MetricsServer` serves `/metrics` and `/healthz` from the bot's event loop, so a loop that hangs
fails the health check too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import discord
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
NAMESPACE = "expressions"
ACTION = re.compile(r"([a-z]+)\d?")  # a component's action; the pick buttons number theirs (pick1..pick4: "pick")
COMPONENT_KINDS = {"xp": "", "xe": "editor_"}  # custom_id prefix (bot/buttons.py, bot/editor.py) -> kind prefix
ANSWER_BUCKETS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)  # Discord's 3 s among them
DRAW_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)


def kind_of(interaction: discord.Interaction) -> str:
    """The metrics' name for what was asked: '/face' for a slash command, the action for a face button
    ('reroll'), 'editor_' and the op for the editor's ('editor_up'). Only registered commands and
    components reach the request path, so the names are a fixed few (a label per forged id would grow
    the metrics without bound)."""
    if interaction.type is discord.InteractionType.application_command:
        return f"/{interaction.command.name}" if interaction.command is not None else "unknown"
    parts = str((interaction.data or {}).get("custom_id", "")).split(":")
    action = ACTION.fullmatch(parts[1]) if len(parts) > 2 else None
    prefix = COMPONENT_KINDS.get(parts[0]) if action else None
    return "unknown" if prefix is None or action is None else prefix + action[1]


class Metrics:
    """Where the request path records what happened; this base records nothing (metrics off)."""

    def interaction(self, kind: str, outcome: str, answer_s: float | None = None) -> None:
        """An interaction ended with `outcome`: "answered" (drawn and posted); refused at once as
        "busy" (queue full), "over_cap" (the user's cap) or "shutting_down"; "timed_out" (the draw
        timeout); "failed" (an error); "invalid" (a bad value, forged id or missing right); or "gone"
        (it could not be answered any more). `answer_s`: seconds from taking it to posting its
        picture, for drawings."""

    def batch(self, size: int, draw_s: float) -> None:
        """One generator call of `size` latents took `draw_s` seconds."""


@dataclass(frozen=True)
class Vitals:
    """What the bot holds now, read at each scrape."""

    queue_depth: int  # requests waiting or being drawn
    batches_in_flight: int
    draw_timeouts: int  # generator calls abandoned since start
    workers_replaced: int  # local generator threads given up on (hung) and replaced
    shards: int  # gateway shards this process holds
    shards_connected: int
    model: dict[str, str]  # labels of the info metric: generator, its fingerprint, the sliders'


class _Live(Collector):
    def __init__(self, vitals: Callable[[], Vitals]):
        self.vitals = vitals

    def collect(self) -> Iterator:
        v = self.vitals()
        yield GaugeMetricFamily(f"{NAMESPACE}_queue_depth", "Requests waiting or being drawn.", v.queue_depth)
        yield GaugeMetricFamily(
            f"{NAMESPACE}_batches_in_flight", "Generator calls being drawn now.", v.batches_in_flight
        )
        yield CounterMetricFamily(
            f"{NAMESPACE}_draw_timeouts", "Generator calls abandoned after the draw timeout.", v.draw_timeouts
        )
        yield CounterMetricFamily(
            f"{NAMESPACE}_workers_replaced", "Hung generator threads given up on and replaced.", v.workers_replaced
        )
        yield GaugeMetricFamily(f"{NAMESPACE}_shards", "Gateway shards this process holds.", v.shards)
        yield GaugeMetricFamily(
            f"{NAMESPACE}_shards_connected", "Gateway shards of this process connected now.", v.shards_connected
        )
        yield InfoMetricFamily(f"{NAMESPACE}_model", "The generator and slider set this process draws with.", v.model)


class PrometheusMetrics(Metrics):
    """The metrics in a registry of their own (several bots in one test process do not collide)."""

    def __init__(self, vitals: Callable[[], Vitals]):
        self.registry = CollectorRegistry()
        self._interactions = Counter(
            f"{NAMESPACE}_interactions",
            "Interactions by command or button and how they ended.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self._answer = Histogram(
            f"{NAMESPACE}_answer_seconds",
            "Seconds from taking a drawing request to posting its picture.",
            ["kind"],
            buckets=ANSWER_BUCKETS,
            registry=self.registry,
        )
        self._batch_size = Histogram(
            f"{NAMESPACE}_batch_size", "Latents per generator call.", buckets=BATCH_BUCKETS, registry=self.registry
        )
        self._draw = Histogram(
            f"{NAMESPACE}_draw_seconds",
            "Seconds per generator call (the batch, upscaled).",
            buckets=DRAW_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_Live(vitals))
        ProcessCollector(registry=self.registry)  # process_*: CPU seconds, resident memory, open files

    def interaction(self, kind: str, outcome: str, answer_s: float | None = None) -> None:
        self._interactions.labels(kind, outcome).inc()
        if answer_s is not None:
            self._answer.labels(kind).observe(answer_s)

    def batch(self, size: int, draw_s: float) -> None:
        self._batch_size.observe(size)
        self._draw.observe(draw_s)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """`/metrics` (Prometheus' text format) and `/healthz` (200 "ok", or 503 and the reason) on one port."""

    def __init__(self, metrics: PrometheusMetrics, health: Callable[[], str | None], host: str, port: int):
        self.metrics, self.health, self.host, self.port = metrics, health, host, port
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> None:
        """Listen; OSError if the port cannot be had (in use, not allowed)."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError:
            await self._runner.cleanup()
            raise
        log.info("metrics on http://%s:%d/metrics, health check on /healthz", self.host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _metrics(self, _: web.Request) -> web.Response:
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _: web.Request) -> web.Response:
        problem = self.health()
        return web.Response(status=503 if problem else 200, text=f"{problem or 'ok'}\n")
