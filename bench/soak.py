"""Soak test: N mixed interactions from many users against the real bot process.

    python bench/soak.py [--n 1000] [--users 40] [--concurrency 16] [--seed 0]

The bot runs as `python -m bot` against the Discord stand-in (bot/discord_standin.py) (REST + gateway on 127.0.0.1).
Each simulated user keeps sending: /face (with random options), /morph, /blend, /animate, /attributes,
presses on every kind of button of faces posted earlier (Reroll, Variations, Morph, Edit, Details,
Delete by the requester or by someone else), on the grids of variations and children (a pick, More
like these, Delete), and steps in the editors that Edit opened (a slider chosen, a step down or up,
Reset, Animate, Post). Prints how many interactions were answered
exactly once, lost or duplicated, ack and answer latencies (and the editor steps' own), and the
bot's RSS (start, middle, end).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.discord_standin import DiscordStandIn  # noqa: E402
from tests.bot_process import start_bot  # noqa: E402

SLIDERS = ("smiling", "age", "bangs", "masculine")
TOGGLES = ("glasses", "hat")
BUTTONS = ("Reroll", "Variations", "Morph to new face", "Edit", "Details", "Delete")
GRID_BUTTONS = ("1", "2", "3", "4", "More like these", "Delete")
EDITOR_BUTTONS = ("−0.5", "+0.5", "Off", "On", "Reset", "Animate", "Post")  # those not disabled are pressed
STEP_KINDS = ("pick", "−0.5", "+0.5", "Off", "On", "Reset")  # the editor's redraws in place
SETTLE_S = 30.0  # after the last interaction, how long late answers may still arrive


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 1024


def components(message: dict) -> list[dict]:
    return [c for row in message.get("components", []) for c in row["components"]]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Soak:
    def __init__(self, discord: DiscordStandIn, rng: random.Random, users: int):
        self.discord = discord
        self.rng = rng
        self.users = [str(5 * 10**17 + i) for i in range(users)]
        self.sent: dict[str, tuple[str, float]] = {}  # token -> (what, when)
        self.faces: list[tuple[dict, str]] = []  # posted faces with buttons: (message, requester)
        self.grids: list[tuple[dict, str]] = []  # posted grids of variations or children: (message, requester)
        self.editors: list[tuple[dict, str]] = []  # open editors not being used: (message, its user)

    async def one(self, user: str) -> None:
        """Send one interaction and wait (bounded) for its answer."""
        r = self.rng.random()
        if r < 0.42 or not self.faces:
            options = {"seed": self.rng.randrange(2**32)}
            if self.rng.random() < 0.3:
                options["truncation"] = round(self.rng.uniform(0.3, 1.0), 2)
            if self.rng.random() < 0.5:
                options[self.rng.choice(SLIDERS)] = round(self.rng.uniform(-3, 3), 1)
            if self.rng.random() < 0.2:
                options[self.rng.choice(TOGGLES)] = self.rng.choice(["on", "off"])
            what, token = "face", await self.discord.slash("face", options, user)
        elif r < 0.49:
            frames = self.rng.randint(2, 16)
            options = {
                "seed_a": str(self.rng.randrange(1000)),
                "seed_b": str(self.rng.randrange(1000)),
                "frames": frames,
            }
            what, token = "morph", await self.discord.slash("morph", options, user)
        elif r < 0.51:
            what, token = "attributes", await self.discord.slash("attributes", {}, user)
        elif r < 0.54:
            options = {"seed_a": str(self.rng.randrange(1000)), "seed_b": str(self.rng.randrange(1000))}
            what, token = "blend", await self.discord.slash("blend", options, user)
        elif r < 0.58:
            options = {"seed": str(self.rng.randrange(1000)), "slider": self.rng.choice((*SLIDERS, *TOGGLES))}
            if self.rng.random() < 0.5:
                options["frames"] = self.rng.randint(2, 24)
            what, token = "animate", await self.discord.slash("animate", options, user)
        elif r < 0.76 and self.editors:
            what, token, user = await self.step(*self.editors.pop(self.rng.randrange(len(self.editors))))
        else:
            posted = self.grids if r < 0.84 and self.grids else self.faces
            message, owner = self.rng.choice(posted)
            label = self.rng.choice(GRID_BUTTONS if posted is self.grids else BUTTONS)
            custom_id = next(c["custom_id"] for c in components(message) if c["label"] == label)
            presser = owner if label == "Delete" and self.rng.random() < 0.5 else user
            what = label if posted is self.faces else "Pick" if label.isdigit() else label
            token = await self.discord.click(message, custom_id, presser)
            if label == "Delete" and presser == owner and (message, owner) in posted:
                posted.remove((message, owner))  # a deleted message has no buttons left to press
        self.sent[token] = (what, time.perf_counter())
        deadline = time.monotonic() + 60
        while not self.discord.answers(token) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for answer in self.discord.answers(token):
            m = answer.message
            labels = [c.get("label") for c in components(m)] if m else []
            if labels == list(BUTTONS):
                self.faces.append((m, user))
            elif labels == list(GRID_BUTTONS):
                self.grids.append((m, user))
            elif "Post" in labels and m["flags"] & 64:  # an editor, opened or redrawn: its user's again
                self.editors.append((m, user))

    async def step(self, editor: dict, user: str) -> tuple[str, str, str]:
        """One press in an open editor: a slider chosen, or one of its enabled buttons."""
        if self.rng.random() < 0.25:
            (select,) = [c for c in components(editor) if c["type"] == 3]
            key = self.rng.choice(select["options"])["value"]
            return "pick", await self.discord.choose(editor, select["custom_id"], [key], user), user
        enabled = [c for c in components(editor) if c.get("label") in EDITOR_BUTTONS and not c.get("disabled")]
        weights = [0.05 if c["label"] in ("Animate", "Post") else 1.0 for c in enabled]  # mostly steps
        button = self.rng.choices(enabled, weights)[0]
        if button["label"] not in ("Animate", "Post"):
            return button["label"], await self.discord.click(editor, button["custom_id"], user), user
        self.editors.append((editor, user))  # a post leaves the editor open as it was
        return button["label"], await self.discord.click(editor, button["custom_id"], user), user

    async def user_loop(self, budget: list[int], gate: asyncio.Semaphore) -> None:
        user = self.rng.choice(self.users)
        while budget[0] > 0:
            budget[0] -= 1
            async with gate:
                await self.one(user)
            user = self.rng.choice(self.users)


async def run(args: argparse.Namespace) -> dict:
    discord = DiscordStandIn(token="soak-token")
    url = await discord.start()
    proc = await start_bot(
        {"DISCORD_TOKEN": "soak-token", "EXPRESSIONS_FAKE_DISCORD_URL": url}, output=asyncio.subprocess.DEVNULL
    )
    soak = Soak(discord, random.Random(args.seed), args.users)
    try:
        await asyncio.wait_for(discord.identified.wait(), 60)
        await asyncio.sleep(1.0)
        for warm in range(3):  # lazy initialisation is not what a soak measures
            await soak.one(soak.users[warm])
        soak.sent.clear()
        rss = [rss_mib(proc.pid)]
        start = time.perf_counter()
        budget, gate = [args.n // 2], asyncio.Semaphore(args.concurrency)
        await asyncio.gather(*(soak.user_loop(budget, gate) for _ in range(args.concurrency)))
        rss.append(rss_mib(proc.pid))
        budget[0] = args.n - args.n // 2
        await asyncio.gather(*(soak.user_loop(budget, gate) for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - start
        deadline = time.monotonic() + SETTLE_S
        while any(not discord.answers(t) for t in soak.sent) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a duplicate would arrive now
        rss.append(rss_mib(proc.pid))
    finally:
        proc.terminate()
        code = await proc.wait()
        await discord.stop()
    acks = {t: discord.acks(t) for t in soak.sent}
    answers = {t: discord.answers(t) for t in soak.sent}
    once = [t for t in soak.sent if len(acks[t]) == 1 and len(answers[t]) == 1]
    ack_s = [acks[t][0].at - soak.sent[t][1] for t in soak.sent if acks[t]]
    answer_s = [answers[t][0].at - soak.sent[t][1] for t in soak.sent if answers[t]]
    step_s = [answers[t][0].at - soak.sent[t][1] for t in soak.sent if answers[t] and soak.sent[t][0] in STEP_KINDS]
    kinds = {}
    for what, _ in soak.sent.values():
        kinds[what] = kinds.get(what, 0) + 1
    return {
        "interactions": len(soak.sent),
        "kinds": kinds,
        "seconds": elapsed,
        "answered_once": len(once),
        "lost": sum(1 for t in soak.sent if not answers[t]),
        "duplicated": sum(1 for t in soak.sent if len(answers[t]) > 1 or len(acks[t]) > 1),
        "ack": (statistics.median(ack_s), percentile(ack_s, 0.99), max(ack_s)),
        "answer": (statistics.median(answer_s), percentile(answer_s, 0.99)),
        "step": (statistics.median(step_s), percentile(step_s, 0.99)) if step_s else (float("nan"),) * 2,
        "rss": rss,
        "exit": code,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1000, help="interactions in all")
    p.add_argument("--users", type=int, default=40)
    p.add_argument("--concurrency", type=int, default=16, help="interactions in flight at once")
    p.add_argument("--seed", type=int, default=0)
    r = asyncio.run(run(p.parse_args()))
    print(f"{r['interactions']} interactions in {r['seconds']:.0f} s: {r['kinds']}")
    print(f"answered exactly once {r['answered_once']}, lost {r['lost']}, duplicated {r['duplicated']}")
    print("ack     p50 {:.0f} ms  p99 {:.0f} ms  max {:.0f} ms".format(*(1000 * x for x in r["ack"])))
    print("answer  p50 {:.0f} ms  p99 {:.0f} ms".format(*(1000 * x for x in r["answer"])))
    print(
        "editor step (redrawn in place) answer  p50 {:.0f} ms  p99 {:.0f} ms (target: p99 under 1 s)".format(
            *(1000 * x for x in r["step"])
        )
    )
    start, mid, end = r["rss"]
    print(
        f"bot RSS start {start:.0f} MiB, middle {mid:.0f} MiB, end {end:.0f} MiB "
        f"(last half {100 * (end - mid) / mid:+.1f} %); exit code after SIGTERM {r['exit']}"
    )


if __name__ == "__main__":
    main()
