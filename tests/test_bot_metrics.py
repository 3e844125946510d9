"""What the host sees of the real `python -m bot` process: Prometheus metrics, the health check and
JSON logs, read over HTTP and from its output while it serves the fake Discord."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
from pathlib import Path

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import PrometheusMetrics, Vitals
from gan import Faces
from tests.bot_process import start_bot
from tests.test_bot_wire import HANG_SEED, SLOW_SEED, USERS, answered, running_bot, stop

Samples = dict[tuple[str, frozenset], float]
ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
OPERATIONS = ROOT / "docs" / "operations"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, await r.text()


async def scrape(port: int) -> Samples:
    status, text = await get(port, "/metrics")
    assert status == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def docker_healthcheck(port: int) -> int:
    """Exit status of the Dockerfile's own HEALTHCHECK command (lines joined as Docker joins them)."""
    text = DOCKERFILE.read_text().replace("\\\n", "")
    command = re.search(r"^HEALTHCHECK .*? CMD (.*)$", text, re.M)[1]
    proc = await asyncio.create_subprocess_shell(command, env={**os.environ, "EXPRESSIONS_METRICS_PORT": str(port)})
    return await asyncio.wait_for(proc.wait(), 30)


async def test_metrics_and_health_over_the_wire():
    """A face, a morph, a hung draw and a refusal as the queue is full, each counted; /healthz is 200
    while connected and 503 while the bot drains on SIGTERM; the log lines are JSON, tagged."""
    port = free_port()
    settings = {
        "EXPRESSIONS_METRICS_PORT": str(port),
        "EXPRESSIONS_LOG_FORMAT": "json",
        "EXPRESSIONS_WORKERS": "1",
        "EXPRESSIONS_QUEUE_DEPTH": "2",
        "EXPRESSIONS_DRAW_TIMEOUT_S": "2",
    }
    async with running_bot(settings) as (discord, proc):
        assert await get(port, "/healthz") == (200, "ok\n")
        assert await docker_healthcheck(port) == 0
        assert (await answered(discord, await discord.slash("face", {"seed": 1}, USERS[0]))).files
        morph = await discord.slash("morph", {"seed_a": "1", "seed_b": "2", "frames": 4}, USERS[1])
        assert (await answered(discord, morph)).files
        hung = await discord.slash("face", {"seed": HANG_SEED}, USERS[2])
        await asyncio.sleep(0.3)
        waiting = await discord.slash("face", {"seed": 3}, USERS[3])  # behind the hung call: the queue is full
        await asyncio.sleep(0.2)
        assert "busy" in (await answered(discord, await discord.slash("face", {"seed": 4}, USERS[4]))).content
        assert "longer than 2 s" in (await answered(discord, hung)).content
        assert (await answered(discord, waiting)).files, "a new worker draws the face that waited"
        forged = await discord.click(discord.messages[next(iter(discord.messages))], "xp:bogus:1.2.3:4")
        await answered(discord, forged)

        m = await scrape(port)
        count = "expressions_interactions_total"
        assert value(m, count, kind="/face", outcome="answered") == 2
        assert value(m, count, kind="/morph", outcome="answered") == 1
        assert value(m, count, kind="/face", outcome="busy") == 1
        assert value(m, count, kind="/face", outcome="timed_out") == 1
        assert value(m, count, kind="unknown", outcome="invalid") == 1
        assert value(m, "expressions_answer_seconds_count", kind="/face") == 2
        assert 0 < value(m, "expressions_answer_seconds_sum", kind="/face") < 10
        assert value(m, "expressions_answer_seconds_bucket", kind="/face", le="+Inf") == 2
        drawn = value(m, "expressions_draw_seconds_count")
        assert drawn >= 3 and value(m, "expressions_batch_size_sum") >= 1 + 4 + 1, "the hung call is not a draw"
        assert value(m, "expressions_batch_size_count") == drawn
        assert value(m, "expressions_draw_timeouts_total") == 1 and value(m, "expressions_workers_replaced_total") == 1
        assert value(m, "expressions_queue_depth") == 0 and value(m, "expressions_batches_in_flight") == 0
        assert value(m, "expressions_shards") == 1 and value(m, "expressions_shards_connected") == 1
        sliders = Faces.load().sliders.fingerprint
        assert any(name == "expressions_model_info" and ("sliders", sliders) in labels for name, labels in m)

        slow = await discord.slash("face", {"seed": SLOW_SEED}, USERS[5])  # still drawing when SIGTERM comes
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.1)
        assert await docker_healthcheck(port) != 0, "unhealthy while draining"
        health = []
        while proc.returncode is None:
            try:
                health.append(await get(port, "/healthz"))
            except aiohttp.ClientError:
                break  # the server has closed: the bot is on its way out
            await asyncio.sleep(0.05)
        assert (503, "draining: shutting down\n") in health, health
        assert (await answered(discord, slow)).files
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    lines = [json.loads(line) for line in discord.log.splitlines() if line.startswith("{")]
    assert lines and {"time", "level", "logger", "message", "interaction", "guild", "shard"} <= set(lines[0])
    forged_id = int(forged.rsplit("-", 1)[1])
    tagged = [line for line in lines if line["interaction"] == forged_id]
    assert any("unknown button" in line["message"] for line in tagged) and tagged[0]["shard"] == 0


async def test_a_metrics_port_in_use_stops_the_start_with_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await start_bot(
            {
                "DISCORD_TOKEN": "x",
                "EXPRESSIONS_METRICS_PORT": str(port),
                "EXPRESSIONS_FAKE_DISCORD_URL": "http://127.0.0.1:9",
            }
        )
        code = await asyncio.wait_for(proc.wait(), 60)
        log = await stop(proc)
    assert code == 2 and f"EXPRESSIONS_METRICS_PORT: cannot listen on 127.0.0.1:{port}" in log, log
    assert "Traceback" not in log


def test_the_dashboard_alerts_and_docs_name_only_metrics_the_bot_exports():
    model = {"generator": "g", "arch": "dcgan", "sliders": "abcd"}
    metrics = PrometheusMetrics(lambda: Vitals(0, 0, 0, 0, 1, 1, model))
    metrics.interaction("/face", "answered", 0.2)
    metrics.batch(32, 0.04)
    families = text_string_to_metric_families(metrics.exposition().decode())
    exported = {s.name for family in families for s in family.samples}
    rules = yaml.safe_load((OPERATIONS / "alerts.yml").read_text())["groups"][0]["rules"]
    dashboard = json.loads((OPERATIONS / "grafana.json").read_text())
    queries = [r["expr"] for r in rules] + [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    named = set(re.findall(r"expressions_[a-z_]+", " ".join(queries)))
    named |= set(re.findall(r"`(expressions_[a-z_]+)`", (ROOT / "docs" / "operations.md").read_text()))
    assert len(named) >= 11
    for name in named:
        assert name in exported or f"{name}_total" in exported or f"{name}_count" in exported, name
    assert len(rules) == 6 and len(dashboard["panels"]) == 4
    scrape = yaml.safe_load((OPERATIONS / "prometheus.yml").read_text())
    assert scrape["rule_files"] == ["alerts.yml"] and scrape["scrape_configs"][0]["job_name"] == "expressions"
    assert "process_resident_memory_bytes" in exported
