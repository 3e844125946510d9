"""Bot settings, read from the environment (and `.env` via python-dotenv); see .env.example.

Every value is checked once, here: numbers must be finite and inside their range, switches must be
a word we know, and each problem is one line naming the variable. The token never appears in a repr.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import urlparse

import torch

from gan.faces import PRECISIONS

ENV_PREFIX = "EXPRESSIONS_"  # every setting's variable is this and its name in capitals ...
TOKEN_ENV = "DISCORD_TOKEN"  # ... but the token's, which keeps the name every Discord host knows
RANGES = {  # inclusive; a value outside is refused at start rather than breaking the bot later
    "workers": (1, 256),
    "queue_depth": (1, 10_000),
    "batch_cap": (1, 4096),
    "batch_window_ms": (0, 1000),
    "per_user": (1, 100),
    "draw_timeout_s": (1, 600),
    "shutdown_timeout_s": (1, 300),
    "ray_replicas": (1, 256),
    "ray_max_replicas": (1, 256),
    "shard_count": (1, 100_000),
    "dev_guild": (1, 2**64 - 1),
    "metrics_port": (1, 65535),
}
OPTIONAL = {"workers", "ray_max_replicas", "shard_count", "dev_guild", "metrics_port"}  # None = not set
SWITCH = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("local", "ray")
LOG_FORMATS = ("text", "json")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Settings:
    token: str | None = field(default=None, repr=False)
    device: str = "auto"  # auto = cuda when torch sees a GPU, else cpu
    weights: str | None = None  # generator file; None = the shipped one
    precision: str = "fp32"  # fp32: exact faces; bf16: within a few grey levels, faster on AMX CPUs
    workers: int | None = None  # local generator threads (None: 1 on a GPU, one per CPU core)
    queue_depth: int = 64  # requests waiting or being drawn, all users together
    batch_cap: int = 32  # latents per generator call
    batch_window_ms: float = 10.0  # how long the first request of a batch waits for company
    per_user: int = 2  # requests one user may have in the queue
    batching: bool = True
    draw_timeout_s: float = 30.0  # a generator call taking longer is abandoned and its requester told
    shutdown_timeout_s: float = 8.0  # on SIGTERM/SIGINT: time to finish queued work before refusing the rest
    backend: str = "local"  # local: worker threads here; ray: a Ray Serve deployment shared by bot processes
    ray_address: str | None = None  # the Ray cluster to join; None = start a local Ray
    ray_replicas: int = 1  # generator replicas (one per GPU, or per CPU worker)
    ray_max_replicas: int | None = None  # above ray_replicas: Serve autoscales between the two
    shard_count: int | None = None  # gateway shards in all, across every bot process (None: Discord's advice)
    shard_ids: tuple[int, ...] | None = None  # the shards this process holds (None: all of them)
    dev_guild: int | None = None  # sync commands to this guild only (instant, for development)
    metrics_port: int | None = None  # Prometheus /metrics and /healthz on this port (None: off)
    metrics_host: str = "127.0.0.1"  # the address they listen on (0.0.0.0: every interface)
    log_format: str = "text"  # text: readable lines; json: one JSON object per line, for log shippers
    fake_discord_url: str | None = None  # the Discord stand-in on this machine (tests and --local)

    def __post_init__(self) -> None:
        for name, (lo, hi) in RANGES.items():
            value = getattr(self, name)
            if value is None and name in OPTIONAL:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{ENV_NAMES[name]} must be a finite number, got {value!r}")
            if not lo <= value <= hi:
                raise ValueError(f"{ENV_NAMES[name]} must be from {lo} to {hi}, got {value:g}")
        if not isinstance(self.batching, bool):
            raise ValueError(f"{ENV_NAMES['batching']} must be on or off, got {self.batching!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"{ENV_NAMES['precision']} must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"{ENV_NAMES['backend']} must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.ray_max_replicas is not None and self.ray_max_replicas < self.ray_replicas:
            raise ValueError(f"{ENV_NAMES['ray_max_replicas']} must be at least {ENV_NAMES['ray_replicas']}")
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError(f"{ENV_NAMES['shard_ids']} needs {ENV_NAMES['shard_count']} (the shards in all)")
            bad = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
            if bad or not self.shard_ids or len(set(self.shard_ids)) != len(self.shard_ids):
                raise ValueError(
                    f"{ENV_NAMES['shard_ids']} must be distinct shard numbers from 0 to {self.shard_count - 1}, "
                    f"got {self.shard_ids}"
                )
        if self.log_format not in LOG_FORMATS:
            raise ValueError(
                f"{ENV_NAMES['log_format']} must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}"
            )
        if not self.metrics_host or any(c.isspace() for c in self.metrics_host):
            raise ValueError(
                f"{ENV_NAMES['metrics_host']} must be an address such as 127.0.0.1, got {self.metrics_host!r}"
            )
        if self.device not in DEVICES:
            raise ValueError(f"{ENV_NAMES['device']} must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.fake_discord_url and urlparse(self.fake_discord_url).hostname not in LOOPBACK_HOSTS:
            raise ValueError(
                f"{ENV_NAMES['fake_discord_url']} is for the Discord stand-in: it must be on this machine (127.0.0.1)"
            )

    def torch_device(self) -> str:
        """Where this process runs the generator: auto is cuda when torch sees a GPU, else cpu."""
        if self.device != "auto":
            return self.device
        return "cuda" if torch.cuda.is_available() else "cpu"

    def inference_workers(self) -> int:
        """Threads drawing batches side by side in the local backend: one on a GPU (it runs one
        batch at a time anyway), else one per core that torch would use."""
        if self.workers is not None:
            return self.workers
        return 1 if self.torch_device() == "cuda" else torch.get_num_threads()

    def torch_threads(self) -> int | None:
        """On a CPU, the torch threads each worker gets (the cores shared out); None on a GPU."""
        if self.torch_device() == "cuda":
            return None
        return max(1, torch.get_num_threads() // self.inference_workers())

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read every setting that is set and non-empty; ValueError names a malformed one."""
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_NAMES[f.name], "").strip()
            if not raw:
                continue
            kwargs[f.name] = _parse(f.name, f.type, raw)
        return cls(**kwargs)


def env_name(setting: str) -> str:
    """The environment variable of a Settings field."""
    return TOKEN_ENV if setting == "token" else ENV_PREFIX + setting.upper()


ENV_NAMES = {f.name: env_name(f.name) for f in fields(Settings)}


def _parse(name: str, kind: str, raw: str) -> object:
    if name == "shard_ids":
        return _shard_ids(raw)
    if kind == "bool":
        if raw.lower() not in SWITCH:
            raise ValueError(f"{ENV_NAMES[name]} must be one of {', '.join(SWITCH)}, got {raw!r}")
        return SWITCH[raw.lower()]
    number = {"int": int, "int | None": int, "float": float}.get(kind)
    if number is None:
        return raw
    try:
        return number(raw)
    except ValueError:
        what = "a whole number" if number is int else "a number"
        raise ValueError(f"{ENV_NAMES[name]} must be {what}, got {raw!r}") from None


def _shard_ids(raw: str) -> tuple[int, ...]:
    """'0,2' or '0-3' or '0-3,8' -> shard numbers."""
    ids: list[int] = []
    try:
        for part in raw.split(","):
            lo, _, hi = part.strip().partition("-")
            if int(hi or lo) - int(lo) > RANGES["shard_count"][1]:
                raise ValueError
            ids += range(int(lo), int(hi or lo) + 1)
    except ValueError:
        raise ValueError(f"{ENV_NAMES['shard_ids']} looks like 0,1 or 0-3; got {raw!r}") from None
    return tuple(ids)
