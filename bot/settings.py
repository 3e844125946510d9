"""Bot settings, read from the environment (and `.env` via python-dotenv); see .env.example."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import urlparse

ENV_NAMES = {
    "token": "DISCORD_TOKEN",
    "device": "EXPRESSIONS_DEVICE",
    "weights": "EXPRESSIONS_WEIGHTS",
    "queue_depth": "EXPRESSIONS_QUEUE_DEPTH",
    "batch_cap": "EXPRESSIONS_BATCH_CAP",
    "batch_window_ms": "EXPRESSIONS_BATCH_WINDOW_MS",
    "per_user": "EXPRESSIONS_PER_USER",
    "batching": "EXPRESSIONS_BATCHING",
    "dev_guild": "EXPRESSIONS_DEV_GUILD",
    "fake_discord_url": "EXPRESSIONS_FAKE_DISCORD_URL",
}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Settings:
    token: str | None = None
    device: str = "auto"  # auto = cuda when torch sees a GPU, else cpu
    weights: str | None = None  # generator file; None = the shipped one
    queue_depth: int = 64  # requests waiting or being drawn, all users together
    batch_cap: int = 32  # latents per generator call
    batch_window_ms: float = 10.0  # how long the first request of a batch waits for company
    per_user: int = 2  # requests one user may have in the queue
    batching: bool = True
    dev_guild: int | None = None  # sync commands to this guild only (instant, for development)
    fake_discord_url: str | None = None  # tests only: a fake Discord on this machine

    def __post_init__(self) -> None:
        for name, lo in (("queue_depth", 1), ("batch_cap", 1), ("per_user", 1), ("batch_window_ms", 0)):
            if getattr(self, name) < lo:
                raise ValueError(f"{ENV_NAMES[name]} must be at least {lo}, got {getattr(self, name)}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"{ENV_NAMES['device']} must be auto, cpu or cuda, got {self.device!r}")
        if self.fake_discord_url and urlparse(self.fake_discord_url).hostname not in LOOPBACK_HOSTS:
            raise ValueError(f"{ENV_NAMES['fake_discord_url']} is for tests and must point at this machine (127.0.0.1)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read every setting that is set and non-empty; ValueError names a malformed one."""
        kwargs = {}
        for f in fields(cls):
            raw = env.get(ENV_NAMES[f.name], "").strip()
            if not raw:
                continue
            try:
                if f.name == "batching":
                    kwargs[f.name] = raw.lower() not in ("0", "false", "no", "off")
                elif f.name in ("queue_depth", "batch_cap", "per_user", "dev_guild"):
                    kwargs[f.name] = int(raw)
                elif f.name == "batch_window_ms":
                    kwargs[f.name] = float(raw)
                else:
                    kwargs[f.name] = raw
            except ValueError:
                raise ValueError(f"{ENV_NAMES[f.name]} must be a number, got {raw!r}") from None
        return cls(**kwargs)
