"""Past one machine: the Ray Serve backend on a real local Ray (2 CPU replicas), and gateway shards
split across two bot processes that share it."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import ray
from ray import serve

from bot.discord_standin import DiscordStandIn
from bot.ray_serve import APP, RayBackend
from bot.settings import Settings
from gan import Faces
from tests.bot_process import start_bot


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray for this module (4 logical CPUs: two replicas and room to spare); torn down after."""
    context = ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield context.address_info["gcs_address"]
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="module")
def settings(ray_address) -> Settings:
    return Settings(backend="ray", ray_address=ray_address, ray_replicas=2)


async def replica_calls(backend: RayBackend) -> list[tuple[int, list[str]]]:
    """The recent calls of every replica, asked until both have answered. Serve's router can send a
    run of calls to one replica (once in about 15 runs, all 40 of 40 calls made one after another),
    so they go four at a time, for up to 20 s."""
    seen: dict[int, list] = {}
    for _ in range(100):
        for stats in await asyncio.gather(*(backend.handle.stats.remote() for _ in range(4))):
            seen[stats["pid"]] = stats["calls"]
        if len(seen) == 2:
            break
        await asyncio.sleep(0.2)
    assert len(seen) == 2, "two replicas serve the deployment"
    return [call for calls in seen.values() for call in calls]


async def test_ray_faces_equal_the_local_ones(settings, faces: Faces):
    backend = RayBackend(settings)
    z = faces.edit(faces.latent(list(range(12))), {"smiling": 2.0}, 0.7)
    images = await backend.draw(z)
    assert images.dtype == np.uint8 and images.shape == (12, 64, 64, 3)
    assert np.abs(images.astype(int) - faces.decode(z).astype(int)).max() <= 1


async def test_requests_from_two_bot_instances_share_a_call(settings, faces: Faces):
    a, b = RayBackend(settings, client="bot-a"), RayBackend(settings, client="bot-b")
    results = await asyncio.gather(*((a if i % 2 else b).draw(faces.latent([i])) for i in range(64)))
    for i, images in enumerate(results):
        assert np.array_equal(images, faces.render([i]))
    calls = [clients for _, clients in await replica_calls(a) if {"bot-a", "bot-b"} <= set(clients)]
    assert calls, "some generator call held requests of both bot instances"


async def test_two_bot_processes_hold_different_shards_and_share_the_backend(ray_address):
    discord = DiscordStandIn(token="shard-token", shards=2)
    url = await discord.start()
    common = {
        "DISCORD_TOKEN": "shard-token",
        "EXPRESSIONS_FAKE_DISCORD_URL": url,
        "EXPRESSIONS_BACKEND": "ray",
        "EXPRESSIONS_RAY_ADDRESS": ray_address,
        "EXPRESSIONS_RAY_REPLICAS": "2",
        "EXPRESSIONS_SHARD_COUNT": "2",
    }
    procs = [await start_bot({**common, "EXPRESSIONS_SHARD_IDS": str(i)}) for i in (0, 1)]
    try:
        for _ in range(600):
            if set(discord.shards) == {0, 1}:
                break
            assert all(p.returncode is None for p in procs), "a bot process exited"
            await asyncio.sleep(0.1)
        assert set(discord.shards) == {0, 1}, "each process connected its own shard"
        await asyncio.sleep(1.0)
        tokens = [await discord.slash("face", {"seed": 40 + shard}, shard=shard) for shard in (0, 1)]
        for shard, token in enumerate(tokens):
            reply = await discord.wait_for(lambda r, t=token: t in r.path and r.files, timeout=60)
            assert reply.content == f"seed {40 + shard}" and [r.json["type"] for r in discord.acks(token)] == [4]
    finally:
        logs = []
        for p in procs:
            p.terminate()
            logs.append((await asyncio.wait_for(p.communicate(), 30))[0].decode())
        await discord.stop()
    assert all(p.returncode == 0 for p in procs), logs


async def test_a_replica_killed_mid_run_loses_no_request(settings, faces: Faces):
    backend = RayBackend(settings)
    requests = [asyncio.ensure_future(backend.draw(faces.latent(list(range(i, i + 16))))) for i in range(48)]
    await asyncio.sleep(0.05)
    replicas = [
        a
        for a in ray.util.list_named_actors(all_namespaces=True)
        if "SERVE_REPLICA" in a["name"] and f"{APP}#" in a["name"]
    ]
    ray.kill(ray.get_actor(replicas[0]["name"], namespace=replicas[0]["namespace"]))
    done, pending = await asyncio.wait(requests, timeout=120)
    assert not pending, "every request ended"
    outcomes = [r.exception() or r.result() for r in done]
    drawn = [o for o in outcomes if isinstance(o, np.ndarray)]
    assert len(drawn) + sum(isinstance(o, Exception) for o in outcomes) == 48
    assert len(drawn) >= 40, f"retried on the live replica: {[o for o in outcomes if isinstance(o, Exception)]}"
