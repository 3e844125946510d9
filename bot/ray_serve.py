"""The Ray backend: the generator as a Ray Serve deployment that every bot process shares.

    pip install -e '.[ray]'
    EXPRESSIONS_BACKEND=ray EXPRESSIONS_RAY_ADDRESS=<head>:6379 python -m bot

`FaceGenerator` replicas (one per GPU, or one per CPU worker) each load the generator and batch the
requests that reach them with `@serve.batch`, counted in latents, so requests from bot processes on
different machines are drawn in one call. The bot reaches the deployment through a handle; if the
application is not running yet, the first bot process deploys it. A request whose replica dies is
sent once more (Serve routes it to a live replica); a second failure reaches the requester as an
error, so nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque

import numpy as np
import ray
import torch
from ray import serve
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
from ray.serve.exceptions import RayServeException

from gan import Faces
from gan.regions import joined

from .heap import keep_freed_buffers
from .settings import Settings

log = logging.getLogger(__name__)
APP = "expressions"
MAX_BATCH = 256  # latents in one replica call
BATCH_WAIT_S = 0.005  # how long a replica waits for requests to share a call
REPLICA_GONE = (ActorDiedError, ActorUnavailableError, RayActorError)


def _rows(requests: list[tuple[str, np.ndarray]]) -> int:
    return sum(len(z) for _, z in requests)


@serve.deployment(name="FaceGenerator", max_ongoing_requests=256)
class FaceGenerator:
    """One replica: the generator on this replica's device, drawing batches of requests."""

    def __init__(self, weights: str | None, device: str, precision: str, threads: int):
        torch.set_num_threads(threads)
        keep_freed_buffers()  # a replica is a process of its own
        self.faces = Faces.load(weights, device=device, precision=precision)
        self.recent: deque[tuple[int, list[str]]] = deque(maxlen=1024)  # (latents, clients) per call

    @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=BATCH_WAIT_S, batch_size_fn=_rows)
    async def __call__(self, requests: list[tuple[str, np.ndarray]]) -> list[np.ndarray]:
        """Each request is (client, latents (n, nz) or their drawings, float32); returns uint8 (n, 64, 64, 3) each."""
        images = self.faces.decode(joined([torch.from_numpy(z) for _, z in requests]))
        self.recent.append((len(images), [c for c, _ in requests]))
        bounds = np.cumsum([len(z) for _, z in requests])[:-1]
        return np.split(images, bounds)

    def stats(self) -> dict:
        """Recent calls of this replica, for monitoring and tests."""
        return {"pid": os.getpid(), "calls": list(self.recent)}


def deployment_options(settings: Settings) -> dict:
    """Replicas: one GPU each on a GPU cluster, else CPU workers; autoscaled if a maximum is set."""
    gpu = settings.torch_device() == "cuda"
    options: dict = {"ray_actor_options": {"num_gpus": 1} if gpu else {"num_cpus": 1}}
    if settings.ray_max_replicas and settings.ray_max_replicas > settings.ray_replicas:
        options["autoscaling_config"] = {
            "min_replicas": settings.ray_replicas,
            "max_replicas": settings.ray_max_replicas,
            "target_ongoing_requests": 8,
        }
    else:
        options["num_replicas"] = settings.ray_replicas
    return options


def connect(settings: Settings) -> serve.handle.DeploymentHandle:
    """Join (or start) Ray, and return a handle to the running application, deploying it first
    if no bot process has yet."""
    if not ray.is_initialized():
        ray.init(address=settings.ray_address or None, log_to_driver=False, include_dashboard=False)
    try:
        return serve.get_app_handle(APP)
    except RayServeException:
        log.info("deploying the %s application on Ray Serve", APP)
    options = deployment_options(settings)
    app = FaceGenerator.options(**options).bind(settings.weights, settings.torch_device(), settings.precision, 1)
    return serve.run(app, name=APP, route_prefix=None)


class RayBackend:
    """Draws on the shared deployment; `client` names this bot process in the replicas' stats."""

    def __init__(self, settings: Settings, client: str | None = None):
        self.handle = connect(settings)
        shards = "all" if settings.shard_ids is None else ",".join(map(str, settings.shard_ids))
        self.client = client or f"{socket.gethostname()}/{os.getpid()}/shards {shards}"
        self.retries = 0
        # two calls per replica in flight: one drawing while the other's faces travel back
        self.concurrency = 2 * (settings.ray_max_replicas or settings.ray_replicas)

    async def draw(self, z: torch.Tensor) -> np.ndarray:
        """Images of z, sent in requests of at most MAX_BATCH latents (a replica call's size)."""
        z = z.numpy().astype(np.float32, copy=False)
        parts = await asyncio.gather(*(self._draw(z[i : i + MAX_BATCH]) for i in range(0, len(z), MAX_BATCH)))
        return np.concatenate(parts)

    async def _draw(self, z: np.ndarray) -> np.ndarray:
        try:
            return await self.handle.remote((self.client, z))
        except REPLICA_GONE as e:  # the replica died mid-call: once more, on a live one
            log.warning("a generator replica died (%s); sending the request again", type(e).__name__)
            self.retries += 1
            return await self.handle.remote((self.client, z))

    async def close(self) -> None:
        """The deployment outlives this bot process: other shards still use it."""
