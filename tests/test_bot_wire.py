"""The real `python -m bot` process against a fake Discord on 127.0.0.1: over real HTTP and websocket."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from tests.fake_discord import FakeDiscord, start_bot


async def stop(proc: asyncio.subprocess.Process) -> str:
    if proc.returncode is None:
        proc.terminate()
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode()


@pytest.mark.parametrize("window_ms", [10, 1500])
async def test_face_over_the_wire(window_ms):
    """With a 1.5 s batch window the request waits over a second: the user sees their place first."""
    discord = FakeDiscord(token="wire-token")
    url = await discord.start()
    proc = await start_bot(
        {
            "DISCORD_TOKEN": "wire-token",
            "EXPRESSIONS_FAKE_DISCORD_URL": url,
            "EXPRESSIONS_BATCH_WINDOW_MS": str(window_ms),
        }
    )
    try:
        await asyncio.wait_for(discord.identified.wait(), 60)
        await discord.wait_for(lambda r: r.method == "PUT" and r.path.endswith("/commands"))
        commands = next(r.json for r in discord.requests if r.method == "PUT")
        assert {c["name"] for c in commands} == {"face", "morph", "attributes"}
        await asyncio.sleep(0.5)  # let the shard finish READY
        token = await discord.slash("face", {"seed": 42})
        ack = await discord.wait_for(lambda r: r.path.endswith("/callback") and token in r.path)
        assert ack.json["type"] == 5, "deferred first"
        reply = await discord.wait_for(lambda r: r.method in ("POST", "PATCH") and token in r.path and r.files)
        ((name, data),) = reply.files.items()
        img = Image.open(io.BytesIO(data))
        assert name.endswith(".png") and img.format == "PNG" and img.size == (256, 256)
        assert reply.json["content"] == "seed 42"
        notes = [r.json["content"] for r in discord.requests if r.method == "PATCH" and token in r.path]
        if window_ms > 1000:
            assert notes == ["⏳ You're #1 in the queue…"]
            await discord.wait_for(lambda r: r.method == "DELETE" and token in r.path)
        else:
            assert notes == [], "a quick answer needs no progress note"
    finally:
        log = await stop(proc)
        await discord.stop()
    assert "wire-token" not in log, "the token never appears in logs"


async def test_rejected_token_exits_with_one_clear_line():
    discord = FakeDiscord(token="the-right-token")
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


async def test_fake_discord_setting_refuses_other_hosts():
    proc = await start_bot({"DISCORD_TOKEN": "x", "EXPRESSIONS_FAKE_DISCORD_URL": "http://discord.example.com"})
    code = await asyncio.wait_for(proc.wait(), 60)
    log = await stop(proc)
    assert code == 2 and "must point at this machine" in log
