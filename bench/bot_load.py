"""Load test: N concurrent /face requests through the real bot process, with batching on and off.

    python bench/bot_load.py [--n 200] [--window-ms 10] [--batch-cap 32]

The bot runs as `python -m bot` against the fake Discord of the tests (REST + gateway on
127.0.0.1). All N interactions are delivered over the gateway at once, each from its own user;
latency is from delivery to the moment the follow-up carrying the PNG arrives over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.fake_discord import FakeDiscord, start_bot  # noqa: E402


async def run_once(n: int, batching: bool, window_ms: float, batch_cap: int) -> dict:
    sent: dict[str, float] = {}
    done: dict[str, float] = {}  # every follow-up with a file, by token (also ones that beat `sent`)
    all_done = asyncio.Event()

    def check() -> None:
        if len(sent) == n and all(t in done for t in sent):
            all_done.set()

    def arrived(r) -> None:  # the follow-up with the PNG: POST or PATCH /webhooks/{app}/{token}[/...]
        if r.files and r.path.startswith("/webhooks/"):
            done.setdefault(r.path.split("/")[3], time.perf_counter())
            check()

    discord = FakeDiscord(token="bench-token", listener=arrived)
    url = await discord.start()
    proc = await start_bot(
        {
            "DISCORD_TOKEN": "bench-token",
            "EXPRESSIONS_FAKE_DISCORD_URL": url,
            "EXPRESSIONS_QUEUE_DEPTH": str(n + 16),
            "EXPRESSIONS_BATCHING": "1" if batching else "0",
            "EXPRESSIONS_BATCH_WINDOW_MS": str(window_ms),
            "EXPRESSIONS_BATCH_CAP": str(batch_cap),
        },
        output=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(discord.identified.wait(), 60)
        await asyncio.sleep(1.0)
        for warm in range(3):  # first calls pay for lazy initialisation
            token = await discord.slash("face", {"seed": warm}, user_id=str(10**17 + warm))
            await discord.wait_for(lambda r, t=token: t in r.path and r.files)
        start = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            token = await discord.slash("face", {"seed": 1000 + i}, user_id=str(2 * 10**17 + i))
            sent[token] = t0
        check()
        await asyncio.wait_for(all_done.wait(), 300)
        elapsed = time.perf_counter() - start
    finally:
        proc.terminate()
        await proc.wait()
        await discord.stop()
    lat = sorted(done[t] - sent[t] for t in sent)
    return {
        "p50": statistics.median(lat),
        "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "max": lat[-1],
        "img_s": n / elapsed,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--window-ms", type=float, default=10.0)
    p.add_argument("--batch-cap", type=int, default=32)
    args = p.parse_args()
    print(f"{args.n} concurrent /face, CPU ({os.cpu_count()} cores), window {args.window_ms} ms, cap {args.batch_cap}")
    for batching in (True, False):
        r = asyncio.run(run_once(args.n, batching, args.window_ms, args.batch_cap))
        print(
            f"batching {'on ' if batching else 'off'}: p50 {r['p50']:.2f} s  p99 {r['p99']:.2f} s  "
            f"max {r['max']:.2f} s  {r['img_s']:.0f} img/s"
        )


if __name__ == "__main__":
    main()
