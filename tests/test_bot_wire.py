"""The real `python -m bot` process against the Discord stand-in on 127.0.0.1: over real HTTP and websocket.

Signals, REST failures, hung generator calls and forged payloads are tested here, on the wire, as
production would meet them. A test slows or hangs the generator by running a prelude in the bot's
process that wraps `Faces.decode` for one seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import socket
import time

import pytest
from PIL import Image

from bot.app import HTTP_CONNECTIONS
from bot.discord_standin import DiscordStandIn, Request
from tests.bot_process import start_bot

TOKEN = "wire-token"
USERS = [str(400000000000000001 + i) for i in range(8)]
HANG_SEED, SLOW_SEED = 666, 777
FAULTY_DECODE = f"""
import threading, time, torch
from gan import faces as _faces
_decode = _faces.Faces.decode
def decode(self, z, batch=256):
    for seed, act in (({HANG_SEED}, lambda: threading.Event().wait()), ({SLOW_SEED}, lambda: time.sleep(1.6))):
        if any(torch.equal(row, self.latent([seed])[0]) for row in z):
            act()
    return _decode(self, z, batch)
_faces.Faces.decode = decode
"""


async def stop(proc: asyncio.subprocess.Process) -> str:
    if proc.returncode is None:
        proc.terminate()
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode()


@contextlib.asynccontextmanager
async def running_bot(settings: dict | None = None, prelude: str = FAULTY_DECODE):
    """The Discord stand-in and the real bot process connected to it; yields (discord, process) and then
    stops both, keeping the bot's output in `discord.log`."""
    discord = DiscordStandIn(token=TOKEN)
    url = await discord.start()
    env = {"DISCORD_TOKEN": TOKEN, "EXPRESSIONS_FAKE_DISCORD_URL": url, **(settings or {})}
    proc = await start_bot(env, prelude=prelude)
    try:
        await asyncio.wait_for(discord.identified.wait(), 60)
        await discord.wait_for(lambda r: r.method == "PUT" and r.path.endswith("/commands"))
        await asyncio.sleep(0.5)  # let the shard finish READY
        yield discord, proc
    finally:
        discord.log = await stop(proc)
        await discord.stop()
    assert TOKEN not in discord.log, "the token never appears in logs"


async def answered(discord: DiscordStandIn, token: str, timeout: float = 60) -> Request:
    """Wait for the one answer of an interaction."""
    deadline = time.monotonic() + timeout
    while not discord.answers(token):
        assert time.monotonic() < deadline, (
            f"no answer for {token}: {[(r.method, r.path) for r in discord.requests if token in r.path]}"
        )
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # anything more would be a duplicate
    (answer,) = discord.answers(token)
    assert len(discord.acks(token)) == 1
    return answer


async def test_face_over_the_wire():
    async with running_bot() as (discord, _):
        commands = next(r.json for r in discord.requests if r.method == "PUT")
        assert {c["name"] for c in commands} == {"face", "morph", "blend", "animate", "attributes"}
        assert discord.intents == {0: 1}, "the guilds intent alone: no message or typing events to parse"
        token = await discord.slash("face", {"seed": 42})
        reply = await answered(discord, token)
        assert [r.json["type"] for r in discord.acks(token)] == [4], "the picture is the response itself"
        ((name, data),) = reply.files.items()
        img = Image.open(io.BytesIO(data))
        assert name.endswith(".jpg") and img.format == "JPEG" and img.size == (256, 256)
        assert reply.content == "seed 42"
        assert len([r for r in discord.requests if token in r.path]) == 1, "one REST call for a quick face"


async def test_a_burst_of_answers_shares_a_few_connections():
    """60 faces at once: each answered once, over at most HTTP_CONNECTIONS connections (discord.py
    alone would open one per answer; on the real Discord each is a TLS handshake)."""
    users = [str(500000000000000001 + i) for i in range(60)]
    async with running_bot({"EXPRESSIONS_QUEUE_DEPTH": "100"}) as (discord, _):
        tokens = [await discord.slash("face", {"seed": i}, user) for i, user in enumerate(users)]
        await discord.wait_for(lambda r: all(discord.answers(t) for t in tokens), timeout=60)
        await asyncio.sleep(0.3)  # anything more would be a duplicate
        ports = {r.client_port for r in discord.requests if any(t in r.path for t in tokens)}
        assert 1 <= len(ports) <= HTTP_CONNECTIONS
        assert all(len(discord.answers(t)) == 1 and discord.answers(t)[0].files for t in tokens)


async def test_a_slow_face_shows_the_queue_note_then_becomes_the_face():
    async with running_bot() as (discord, _):
        token = await discord.slash("face", {"seed": SLOW_SEED})
        reply = await answered(discord, token)
        assert [r.content for r in discord.acks(token)] == ["🎨 Drawing…"], "the response is the note"
        assert reply.method == "PATCH" and reply.files and reply.content == f"seed {SLOW_SEED}", "edited into the face"


async def test_a_refused_queue_note_changes_nothing():
    """The note is best effort: Discord refuses it, "thinking..." stands in, the face arrives."""
    async with running_bot() as (discord, _):
        discord.fail("POST", "/interactions/*/callback", status=400)
        token = await discord.slash("face", {"seed": SLOW_SEED})
        reply = await answered(discord, token)
        assert [r.json["type"] for r in discord.acks(token)] == [5]
        assert reply.files and reply.content == f"seed {SLOW_SEED}"
        assert not [r for r in discord.requests if token in r.path and "⚠️" in r.content]


@pytest.mark.parametrize(
    "seed, method, path, status, times",
    [
        (5, "POST", "/interactions/*/callback", 400, 1),
        (SLOW_SEED, "PATCH", "/webhooks/*", 400, 1),
        (SLOW_SEED, "PATCH", "/webhooks/*", 502, 5),
    ],
)
async def test_a_refused_picture_still_ends_in_a_message(seed, method, path, status, times):
    """Discord refuses the picture, as the response or as the edit of the queue note (a 400
    once, or a 5xx through all five of discord.py's tries): the user is told so instead."""
    async with running_bot() as (discord, _):
        discord.fail(method, path, status=status, times=times)
        token = await discord.slash("face", {"seed": seed})
        reply = await answered(discord, token)
        assert "Discord would not take the message" in reply.content and not reply.files


async def test_sigterm_answers_every_morph_in_flight_then_exits_0():
    """Three 48-frame morphs in flight when the host stops the process."""
    async with running_bot() as (discord, proc):
        morphs = [{"seed_a": str(SLOW_SEED), "seed_b": str(i), "frames": 48} for i in range(3)]  # 1.6 s each to draw
        tokens = [await discord.slash("morph", options, USERS[i]) for i, options in enumerate(morphs)]
        for token in tokens:  # each has its place in the queue showing
            await discord.wait_for(lambda r, t=token: r.path.endswith("/callback") and t in r.path)
        assert not any(discord.answers(t) for t in tokens), "all three still in flight"
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        late = await discord.slash("face", {"seed": 1}, USERS[4])  # arrives while draining
        code = await asyncio.wait_for(proc.wait(), 30)
        assert "restarting" in (await answered(discord, late)).content
        for token in tokens:
            (reply,) = discord.answers(token)
            assert reply.files and next(iter(reply.files)).endswith(".gif")
        assert code == 0
    assert "SIGTERM: finishing the requests in flight" in discord.log


async def test_a_hung_generator_call_times_out_alone_and_sigint_still_ends_the_bot():
    """The hung request is told, the next user is answered, shutdown stays bounded."""
    async with running_bot({"EXPRESSIONS_DRAW_TIMEOUT_S": "2", "EXPRESSIONS_SHUTDOWN_TIMEOUT_S": "3"}) as (
        discord,
        proc,
    ):
        hung = await discord.slash("face", {"seed": HANG_SEED}, USERS[0])
        await asyncio.sleep(0.2)
        start = time.monotonic()
        other = await discord.slash("face", {"seed": 8}, USERS[1])
        assert (await answered(discord, other)).files
        assert time.monotonic() - start < 2 + 4, "answered within the timeout plus a few seconds"
        assert "longer than 2 s" in (await answered(discord, hung)).content
        again = await discord.slash("face", {"seed": 9}, USERS[2])
        assert (await answered(discord, again)).files, "a new worker serves after the hung one"
        await discord.slash("face", {"seed": HANG_SEED}, USERS[3])  # hangs the new worker during shutdown
        await asyncio.sleep(0.5)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 15)
        assert code == 0 and time.monotonic() - start < 15


@pytest.mark.parametrize(
    "command, options, message",
    [
        ("morph", {"seed_a": "1", "seed_b": "2", "frames": 300}, "frames must be a whole number from 2 to 48"),
        ("face", {"seed": 1, "truncation": 0.0}, "truncation must be a number from 0.1 to 1"),
        ("face", {"seed": -1}, "seed must be a whole number"),
        ("face", {"seed": 2**40}, "seed must be a whole number"),
        ("face", {"seed": 1, "smiling": 99.0}, "smiling must be from -3 to 3"),
        ("face", {"seed": 1, "glasses": "maybe"}, "glasses is a toggle"),
        ("morph", {"seed_a": "1"}, "This /morph came without seed_b"),
        ("morph", {"seed_b": "1"}, "This /morph came without seed_a"),
    ],
)
async def test_forged_payloads_get_a_clear_answer_and_draw_nothing(command, options, message):
    """Discord's option limits are checked again by the bot."""
    async with running_bot() as (discord, _):
        start = time.monotonic()
        token = await discord.slash(command, options)
        reply = await answered(discord, token)
        assert reply.path.endswith("/callback") and message in reply.content, reply.content
        assert reply.json["data"]["flags"] & 64, "ephemeral"
        assert time.monotonic() - start < 3 and not any(r.files for r in discord.requests)
    assert "ERROR" not in discord.log, "a bad option is the user's mistake, not the bot's"


async def test_malformed_and_unknown_buttons_get_an_answer():
    """A press on a button the bot cannot read is acknowledged with a clear message."""
    async with running_bot() as (discord, _):
        face = await answered(discord, await discord.slash("face", {"seed": 3}))
        message = discord.messages[next(m for m in discord.messages if discord.messages[m]["content"] == "seed 3")]
        assert face.files
        cases = {
            "xp:reroll:not-a-state:123": "damaged",
            "xp:vary:3.100.zzzz.:abc": "damaged",
            "xp:details:3.100.0000.sm:1": "damaged",
            "xp:details:3.5.0000.:1": "damaged",
            "xp:details:3.100.0000.sm+:1": "dropped sm on",
            "xp:pick3:1v1x.100.0000.:1": "damaged",  # a blend without its parent
            "xp:more:5v999.100.0000.:1": "numbered from 1 to 999",
            "xp:vary:5v1v1v1v1v1v1.100.0000.:1": "steps deep",
            "xp:pick9:1v1.100.0000.:1": "older version",
            "xp:bogus:1.2.3:4": "older version",
            "something-else-entirely": "older version",
        }
        for custom_id, expected in cases.items():
            token = await discord.click(message, custom_id)
            reply = await answered(discord, token)
            assert expected in reply.content and reply.json["data"]["flags"] & 64, (custom_id, reply.content)


async def test_a_refused_text_reply_still_ends_in_a_message_the_user_sees():
    async with running_bot() as (discord, _):
        await answered(discord, await discord.slash("face", {"seed": 3}))
        message = next(m for m in discord.messages.values() if m["content"] == "seed 3")
        details = next(
            c["custom_id"] for row in message["components"] for c in row["components"] if "details" in c["custom_id"]
        )
        discord.fail("POST", "/interactions/*/callback", status=400, times=1)
        reply = await answered(discord, await discord.click(message, details))
        assert reply.path.endswith("/callback") and "would not take my answer" in reply.content
        assert reply.json["data"]["flags"] & 64, "ephemeral, like the answer it stands for"


@pytest.mark.parametrize("frame", ["NaN", '{"op": 0, "t": "INTERACTION_CRE'])
async def test_a_gateway_frame_that_is_not_json_costs_only_that_connection(frame):
    async with running_bot() as (discord, proc):
        first = discord.shards[0]
        discord.identified.clear()
        await discord.send_raw(frame)
        await asyncio.wait_for(discord.identified.wait(), 30)  # the shard identified again
        assert discord.shards[0] is not first and proc.returncode is None
        await asyncio.sleep(0.5)  # READY handled
        reply = await answered(discord, await discord.slash("face", {"seed": 2}))
        assert reply.files
    assert discord.log.count("not JSON") == 1 and "Traceback" not in discord.log


async def test_a_press_on_a_button_that_is_not_on_the_message_is_answered():
    async with running_bot() as (discord, _):
        await answered(discord, await discord.slash("face", {"seed": 3}))
        message = next(m for m in discord.messages.values() if m["content"] == "seed 3")
        other = message["components"][0]["components"][0]["custom_id"].replace("xp:reroll:3.", "xp:reroll:4.")
        reply = await answered(discord, await discord.click(message, other, on_message=False))
        assert "older version" in reply.content and reply.json["data"]["flags"] & 64, reply.content
        assert sum(1 for r in discord.requests if r.files) == 1, "only the first face was drawn"


async def test_every_button_over_the_wire():
    async with running_bot() as (discord, _):
        await answered(discord, await discord.slash("face", {"seed": 3, "smiling": 0.4}, USERS[0]))
        message = next(m for m in discord.messages.values() if m["content"].startswith("seed 3"))
        ids = {c["label"]: c["custom_id"] for row in message["components"] for c in row["components"]}
        assert list(ids) == ["Reroll", "Variations", "Morph to new face", "Edit", "Details", "Delete"]
        details = (await answered(discord, await discord.click(message, ids["Details"], USERS[1]))).content
        assert "**smiling** +0.4" in details, "+0.4 survives the button"
        for label in ("Reroll", "Variations", "Morph to new face"):
            reply = await answered(discord, await discord.click(message, ids[label], USERS[0]))
            assert reply.files and reply.message["components"], label
        refused = await answered(discord, await discord.click(message, ids["Delete"], USERS[1]))
        assert "Only <@" in refused.content
        deleted = await answered(discord, await discord.click(message, ids["Delete"], USERS[0]))
        assert deleted.method == "DELETE"


async def test_a_failed_delete_is_reported():
    """Discord refuses the deletion: the requester is told."""
    async with running_bot() as (discord, _):
        await answered(discord, await discord.slash("face", {"seed": 4}))
        message = next(m for m in discord.messages.values() if m["content"] == "seed 4")
        delete = next(
            c["custom_id"] for row in message["components"] for c in row["components"] if c["label"] == "Delete"
        )
        discord.fail("DELETE", "/webhooks/*/messages/@original", status=403)
        token = await discord.click(message, delete)
        reply = await answered(discord, token)
        assert "would not delete" in reply.content


async def test_unreachable_discord_is_one_line():
    with socket.socket() as s:  # a port on this machine that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await start_bot({"DISCORD_TOKEN": "x", "EXPRESSIONS_FAKE_DISCORD_URL": f"http://127.0.0.1:{port}"})
    code = await asyncio.wait_for(proc.wait(), 60)
    log = await stop(proc)
    assert code == 1 and "error: cannot reach Discord" in log and "Traceback" not in log, log


async def test_rejected_token_exits_with_one_clear_line():
    discord = DiscordStandIn(token="the-right-token")
    url = await discord.start()
    proc = await start_bot({"DISCORD_TOKEN": "a-wrong-token", "EXPRESSIONS_FAKE_DISCORD_URL": url})
    try:
        code = await asyncio.wait_for(proc.wait(), 60)
        log = await stop(proc)
    finally:
        await discord.stop()
    assert code == 2
    assert "error: Discord rejected DISCORD_TOKEN" in log and ".env.example" in log
    assert "a-wrong-token" not in log and "Traceback" not in log


async def test_missing_token_exits_with_one_clear_line():
    proc = await start_bot({})
    code = await asyncio.wait_for(proc.wait(), 60)
    log = await stop(proc)
    assert code == 2 and "DISCORD_TOKEN is not set" in log and ".env.example" in log


async def test_standin_setting_refuses_other_hosts():
    proc = await start_bot({"DISCORD_TOKEN": "x", "EXPRESSIONS_FAKE_DISCORD_URL": "http://discord.example.com"})
    code = await asyncio.wait_for(proc.wait(), 60)
    log = await stop(proc)
    assert code == 2 and "must be on this machine" in log


def by_label(message: dict, label: str) -> str:
    return next(c["custom_id"] for row in message["components"] for c in row["components"] if c.get("label") == label)


async def test_the_editor_over_the_wire():
    """Edit under a face, a step, a slider chosen, a toggle, Post; damaged and forged editor ids."""
    async with running_bot() as (discord, _):
        face = await answered(discord, await discord.slash("face", {"seed": 3}))
        opened = await answered(discord, await discord.click(face.message, by_label(face.message, "Edit")))
        assert opened.json["data"]["flags"] & 64 and "preview.jpg" in opened.files, "a private preview"
        stepped = await answered(discord, await discord.click(opened.message, by_label(opened.message, "+0.5")))
        assert stepped.json["type"] == 7 and "seed 3 · smiling +0.5" in stepped.content and stepped.files
        assert stepped.message["id"] == opened.message["id"], "the same message, redrawn"
        (select,) = [c for row in stepped.message["components"] for c in row["components"] if c["type"] == 3]
        picked = await answered(discord, await discord.choose(stepped.message, select["custom_id"], ["gl"]))
        assert picked.json["type"] == 7 and "**glasses** is not set" in picked.content and not picked.files
        on = await answered(discord, await discord.click(picked.message, by_label(picked.message, "On")))
        assert "smiling +0.5, glasses on" in on.content
        posted = await answered(discord, await discord.click(on.message, by_label(on.message, "Post")))
        assert posted.json["type"] == 4 and not posted.json["data"].get("flags", 0) & 64
        assert posted.content == "seed 3 · smiling +0.5, glasses on" and "face.jpg" in posted.files
        cases = {
            "xe:up:not-a-state:sm": "damaged",
            "xe:down:3.100.0000.sm:sm": "damaged",  # a slider without its value
            "xe:pick:3.100.0000.:!!": "damaged",
            "xe:animate:3.5.0000.:sm": "damaged",  # truncation out of range
            "xe:bogus:3.100.0000.:sm": "older version",
        }
        for custom_id, expected in cases.items():
            reply = await answered(discord, await discord.click(on.message, custom_id))
            assert expected in reply.content and reply.json["data"]["flags"] & 64, (custom_id, reply.content)
        (select,) = [c for row in on.message["components"] for c in row["components"] if c["type"] == 3]
        forged = await answered(discord, await discord.choose(on.message, select["custom_id"], ["zz"]))
        assert "damaged" in forged.content, "a choice no slider has"
        too_long = {"seed": "3", "slider": "smiling", "frames": 99}
        frames = await answered(discord, await discord.slash("animate", too_long))
        assert "frames must be a whole number from 2 to 48" in frames.content
        unknown = await answered(discord, await discord.slash("animate", {"seed": "3", "slider": "wings"}))
        assert "slider must be one of smiling" in unknown.content
    assert "ERROR" not in discord.log
