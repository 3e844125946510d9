"""Load test: N concurrent /face requests through the real bot process, with batching on and off.

    python bench/bot_load.py [--n 200] [--window-ms 10] [--batch-cap 32] [--backend local|ray] [--replicas 2]
                             [--repeat 1] [--bursts 1] [--processes 1] [--no-unbatched] [--random] [--edited]
                             [--metrics]

The bot runs as `python -m bot` against the Discord stand-in (bot/discord_standin.py) (REST + gateway on
127.0.0.1), on the GPU when torch sees one. All N interactions are delivered over the gateway at
once, each from its own user; latency is from delivery to the moment the follow-up carrying the
image arrives over HTTP. With `--processes P` the bot runs as P processes holding one gateway shard
each (each with its own local backend, or all sharing the Ray one) and the requests are spread
over the shards. With `--random` every /face comes without a seed, so the bot picks each one
through the random-face critic, as for most users. With `--edited` every /face carries EDITS
(a slider and a toggle, through their per-face editors). With `--metrics` each run is made twice,
with the bot's Prometheus metrics off and on (scraped every SCRAPE_S, far more often than
Prometheus would), alternating, and both medians are printed.

Beside the bot's faces/s (B) it prints the generator's own faces/s at the bot's batch size on this
machine (G, measured alone just before each run), so the figure holds whichever generator is
shipped; the targets are B >= 0.5 G and p99 <= N / B + 0.3 s. It also prints the CPU time per face
of the bot (and of its event loop thread alone) and of the Discord stand-in (which shares the machine).
This machine's speed drifts by several percent from minute to minute: quote the median of
`--repeat 9` or so. To compare two versions of the bot, the CPU per face over `--bursts 10` (bursts of
N one after another, to one bot process) varies by 1 to 3 %, where B varies by 5 % from run to run.
With `--backend ray` this script starts one local Ray, deploys the generator there with `--replicas`
replicas (one GPU each on a GPU, else one CPU each), and every bot process joins it and shares
them, as in docs/scaling.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import statistics
import sys
import time
from asyncio.subprocess import DEVNULL
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
EDITS = {"smiling": 2.0, "glasses": "on"}  # --edited: what every /face asks for
SCRAPE_S = 1.0  # --metrics: how often /metrics is read during a run
sys.path.insert(0, str(ROOT))
from bot.discord_standin import DiscordStandIn  # noqa: E402
from gan import Faces  # noqa: E402
from tests.bot_process import start_bot  # noqa: E402


def cpu_seconds(pid: int, thread: int | None = None) -> float | None:
    """User + system CPU time so far of a process, or of one of its threads (Linux /proc), or None
    elsewhere."""
    try:
        stat = Path(f"/proc/{pid}" + (f"/task/{thread}" if thread is not None else "") + "/stat")
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def generator_rate(batch: int, device: str, seconds: float = 3.0) -> float:
    """The generator alone: faces/s of Faces.decode at this batch size, in this process."""
    faces = Faces.load(device=device)
    z = faces.latent(list(range(batch)))
    faces.decode(z)  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        faces.decode(z)
        done += batch
    return done / (time.perf_counter() - start)


async def run_once(
    n: int,
    batching: bool,
    window_ms: float,
    batch_cap: int,
    backend: str,
    replicas: int,
    ray_address: str | None,
    device: str,
    bursts: int = 1,
    processes: int = 1,
    random: bool = False,
    edited: bool = False,
    metrics: bool = False,
) -> dict:
    sent: dict[str, float] = {}
    warm_tokens: set[str] = set()
    done: dict[str, float] = {}  # every follow-up with a file, by token (also ones that beat `sent`)
    all_done = asyncio.Event()
    expected = 0  # requests in the bursts sent so far

    def check() -> None:  # O(1) per arrival: done only ever holds tokens of this run
        if len(sent) == expected and len(done) == expected:
            all_done.set()

    def arrived(r) -> None:  # the picture: /interactions/{id}/{token}/callback or /webhooks/{app}/{token}[/...]
        if r.files and r.status < 400 and (token := r.path.split("/")[3]) not in warm_tokens:
            done.setdefault(token, time.perf_counter())
            check()

    def cpu(thread: bool = False) -> float | None:  # all bot processes together (each one's event loop thread)
        times = [cpu_seconds(p.pid, thread=p.pid if thread else None) for p in procs]
        return None if None in times else sum(times)

    discord = DiscordStandIn(token="bench-token", listener=arrived, shards=processes)
    url = await discord.start()
    settings = {
        "DISCORD_TOKEN": "bench-token",
        "EXPRESSIONS_FAKE_DISCORD_URL": url,
        "EXPRESSIONS_DEVICE": device,
        "EXPRESSIONS_QUEUE_DEPTH": str(n + 16),
        "EXPRESSIONS_BATCHING": "1" if batching else "0",
        "EXPRESSIONS_BATCH_WINDOW_MS": str(window_ms),
        "EXPRESSIONS_BATCH_CAP": str(batch_cap),
        "EXPRESSIONS_BACKEND": backend,
        "EXPRESSIONS_RAY_REPLICAS": str(replicas),
        "EXPRESSIONS_RAY_ADDRESS": ray_address or "",
    }
    if processes > 1:
        settings["EXPRESSIONS_SHARD_COUNT"] = str(processes)
    ports = [free_port() for _ in range(processes)] if metrics else []

    def own(i: int) -> dict[str, str]:  # bot process i's settings: its shard, its metrics port
        shard = {"EXPRESSIONS_SHARD_IDS": str(i)} if processes > 1 else {}
        return settings | shard | ({"EXPRESSIONS_METRICS_PORT": str(ports[i])} if metrics else {})

    procs = [await start_bot(own(i), output=DEVNULL) for i in range(processes)]
    scraping = asyncio.create_task(scrape(ports))
    try:
        for _ in range(1200):  # every shard connected, within 120 s
            if len(discord.shards) == processes:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"only {len(discord.shards)} of {processes} bot processes connected in 120 s")
        await asyncio.sleep(1.0)
        for warm in range(3 * processes):  # first calls pay for lazy initialisation
            token = await discord.slash("face", {"seed": warm}, user_id=str(10**17 + warm), shard=warm % processes)
            warm_tokens.add(token)
            await discord.wait_for(lambda r, t=token: t in r.path and r.files)
        # a bot's main thread runs its event loop: discord.py, the commands, the REST calls
        loop0, cpu0, own0, elapsed = cpu(thread=True), cpu(), time.process_time(), 0.0
        for burst in range(bursts):  # each sent when the last is answered, to the same bot processes
            start, expected = time.perf_counter(), expected + n
            all_done.clear()
            for i in range(n):
                t0 = time.perf_counter()
                user = str(2 * 10**17 + i)
                options = ({} if random else {"seed": 1000 + burst * n + i}) | (EDITS if edited else {})
                token = await discord.slash("face", options, user_id=user, shard=i % processes)
                sent[token] = t0
            check()
            try:
                await asyncio.wait_for(all_done.wait(), 300)
            except TimeoutError:
                pass  # counted as lost below
            elapsed += max(start, *done.values()) - start  # to this burst's last answer
        cpu1, own1, loop1 = cpu(), time.process_time(), cpu(thread=True)
    finally:
        scraping.cancel()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await proc.wait()
        await discord.stop()
    lat = sorted(done[t] - sent[t] for t in sent if t in done)
    return {
        "lost": sum(1 for t in sent if t not in done),
        "p50": statistics.median(lat),
        "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "max": lat[-1],
        "img_s": len(lat) / elapsed,
        "bot_cpu_ms": None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) * 1000 / len(sent),
        "loop_cpu_ms": None if loop0 is None or loop1 is None else (loop1 - loop0) * 1000 / len(sent),
        "standin_cpu_ms": (own1 - own0) * 1000 / len(sent),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def scrape(ports: list[int]) -> None:
    """Read every bot process's /metrics each SCRAPE_S, as Prometheus would (until cancelled)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        while ports:
            await asyncio.sleep(SCRAPE_S)
            for port in ports:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/metrics") as r:
                        await r.read()
                except aiohttp.ClientError:
                    pass  # still starting


def start_ray(device: str, replicas: int) -> str:
    """A local Ray for the bot processes to share, with the generator deployed on it (so no bot
    process races another to deploy), stopped when this script exits; its address."""
    import ray

    from bot.ray_serve import connect
    from bot.settings import Settings

    gpus = torch.cuda.device_count() if device == "cuda" else 0
    address = ray.init(num_gpus=gpus, include_dashboard=False, log_to_driver=False).address_info["gcs_address"]
    connect(Settings(backend="ray", device=device, ray_address=address, ray_replicas=replicas))
    return address


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--window-ms", type=float, default=10.0)
    p.add_argument("--batch-cap", type=int, default=32)
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--replicas", type=int, default=2, help="Ray replicas, one GPU or CPU each (--backend ray)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the bot and G draw")
    p.add_argument("--processes", type=int, default=1, help="bot processes, one gateway shard each")
    p.add_argument("--no-unbatched", action="store_true", help="skip the run with batching off")
    p.add_argument("--random", action="store_true", help="every /face without a seed: the bot picks it (the critic)")
    p.add_argument("--edited", action="store_true", help=f"every /face with edits: {EDITS}")
    p.add_argument("--metrics", action="store_true", help="each run with the metrics off, then on (scraped)")
    p.add_argument("--repeat", type=int, default=1, help="runs of each kind; the median is the figure to quote")
    p.add_argument(
        "--bursts", type=int, default=1, help="bursts of N per run, one after another, to the same bot process"
    )
    args = p.parse_args()
    device = args.device if args.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    gpu = f"{torch.cuda.get_device_name()} and " if device == "cuda" else ""
    print(
        f"{args.n} concurrent /face, {gpu}CPU ({os.cpu_count()} cores), backend {args.backend}, "
        f"window {args.window_ms} ms, cap {args.batch_cap}, {args.processes} bot process(es)"
        + (", every face random" if args.random else "")
        + (f", every face edited {EDITS}" if args.edited else "")
    )
    ray_address = start_ray(device, args.replicas) if args.backend == "ray" else None
    variants = (False, True) if args.metrics else (False,)  # metrics off / on, alternating
    for batching in (True,) if args.no_unbatched else (True, False):
        ratios: dict[bool, list[float]] = {v: [] for v in variants}
        p99s: dict[bool, list[float]] = {v: [] for v in variants}
        for _ in range(args.repeat):
            for metrics in variants:
                g = generator_rate(args.batch_cap, device)  # next to each run: this machine's speed drifts
                # The Discord stand-in shares this process with torch: a full collection of that heap stops it
                # for ~60 ms, which the bot's figures would take for its own (the bot freezes its heap too)
                gc.collect()
                gc.freeze()
                r = asyncio.run(
                    run_once(
                        args.n,
                        batching,
                        args.window_ms,
                        args.batch_cap,
                        args.backend,
                        args.replicas,
                        ray_address,
                        device,
                        args.bursts,
                        args.processes,
                        args.random,
                        args.edited,
                        metrics,
                    )
                )
                b, target = r["img_s"], args.n / r["img_s"] + 0.3
                bot_cpu = (
                    "?" if r["bot_cpu_ms"] is None else f"{r['bot_cpu_ms']:.2f} ms (event loop {r['loop_cpu_ms']:.2f})"
                )
                print(
                    f"batching {'on ' if batching else 'off'}{', metrics on ' if metrics else ''}: G = {g:.0f} "
                    f"faces/s (the generator alone at batch {args.batch_cap})  B = {b:.0f} faces/s = {b / g:.2f} G  "
                    f"p50 {r['p50']:.2f} s  p99 {r['p99']:.2f} s (target {target:.2f})  max {r['max']:.2f} s  "
                    f"lost {r['lost']}  CPU per face: bot {bot_cpu}, stand-in {r['standin_cpu_ms']:.2f} ms"
                )
                ratios[metrics].append(b / g)
                p99s[metrics].append(r["p99"] - target)
        for metrics in variants:
            if args.repeat > 1:
                print(
                    f"  median of {args.repeat}{' with metrics on' if metrics else ''}: "
                    f"B = {statistics.median(ratios[metrics]):.2f} G (target 0.5), "
                    f"p99 {statistics.median(p99s[metrics]):+.2f} s from its target"
                )
        if args.metrics:
            off, on = (statistics.median(ratios[v]) for v in variants)
            print(f"  metrics on against off: B {100 * (on / off - 1):+.1f} % (target: within 3 %)")


if __name__ == "__main__":
    main()
