"""The private editor under a face and /animate, driven through simcord with the real model."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot import Settings, create_bot
from bot.render import FACE_PX
from gan.imaging import upscale
from tests.conftest import with_sliders
from tests.test_bot_commands import picture, pixels, psnr

pytestmark = pytest.mark.simcord(shard_count=1)


@pytest.fixture
def simcord_bot(faces):
    return create_bot(Settings(batch_window_ms=0), faces)


def face(faces, seed: int, edits: dict | None = None) -> np.ndarray:
    """The exact picture of a face, at the size the bot posts."""
    return upscale(faces.render([seed], edits=edits)[0], FACE_PX)


def custom_ids(message) -> list[str]:
    return [c["custom_id"] for row in message.components for c in row["components"]]


def component(message, label: str) -> dict:
    return next(c for row in message.components for c in row["components"] if c.get("label") == label)


async def frames(message) -> list[np.ndarray]:
    (attachment,) = message.attachments
    gif = Image.open(io.BytesIO(await attachment.read()))
    out = []
    for i in range(gif.n_frames):
        gif.seek(i)
        out.append(np.asarray(gif.convert("RGB")))
    return out


async def test_the_editor_end_to_end(world, faces):
    env, channel, alice, _ = world
    posted = (await alice.slash(channel, "face", seed=42, smiling=1.0)).response
    opened = await alice.click(posted, label="Edit")
    editor = opened.response
    assert (
        opened.ephemeral
        and "**Editing** seed 42 · smiling +1" in editor.content
        and "**smiling** is +1" in editor.content
    )
    assert psnr(pixels(await picture(editor)), face(faces, 42, {"smiling": 1.0})) > 40
    assert all(len(i) <= 100 for i in custom_ids(editor)) and len(editor.components) <= 5
    (select,) = [c for row in editor.components for c in row["components"] if c["type"] == 3]
    assert [o["label"] for o in select["options"]][:2] == ["smiling (+1)", "glasses"] and len(select["options"]) <= 25

    picked = await alice.select(editor, ["gl"])
    assert "**glasses** is not set" in picked.response.content
    assert [component(picked.response, label)["disabled"] for label in ("Off", "On")] == [False, False]
    on = (await alice.click(picked.response, label="On")).response
    assert on.id == editor.id, "redrawn in place"
    assert "smiling +1, glasses on" in on.content and component(on, "On")["disabled"]
    assert psnr(pixels(await picture(on)), face(faces, 42, {"smiling": 1.0, "glasses": "on"})) > 40

    smiling = (await alice.select(on, ["sm"])).response
    for _ in range(4):  # +0.5 four times from +1: +3, where the button stops
        smiling = (await alice.click(smiling, label="+0.5")).response
    assert "smiling +3, glasses on" in smiling.content and component(smiling, "+0.5")["disabled"]
    down = (await alice.click(smiling, label="−0.5")).response
    assert "smiling +2.5, glasses on" in down.content
    assert psnr(pixels(await picture(down)), face(faces, 42, {"smiling": 2.5, "glasses": "on"})) > 40

    reset = (await alice.click(down, label="Reset")).response
    assert "**Editing** seed 42\n" in reset.content and component(reset, "Reset")["disabled"]
    assert psnr(pixels(await picture(reset)), face(faces, 42)) > 40
    stepped = (await alice.click(reset, label="−0.5")).response
    public = await alice.click(stepped, label="Post")
    assert not public.ephemeral and public.response.content == "seed 42 · smiling -0.5"
    assert psnr(pixels(await picture(public.response)), face(faces, 42, {"smiling": -0.5})) > 40
    assert "Edit" in [c["label"] for row in public.response.components for c in row["components"]]
    assert any(m.id == public.response.id for m in channel.history()) and all(
        m.id != editor.id for m in channel.history()
    )


async def test_an_open_editor_survives_a_restart_and_a_refit(world, faces):
    """Forged and damaged editor ids are answered on the wire (tests/test_bot_wire.py)."""
    env, channel, alice, _ = world
    posted = (await alice.slash(channel, "face", seed=7, glasses="on")).response
    editor = (await alice.click(posted, label="Edit")).response
    smiling = (await alice.select(editor, ["sm"])).response
    await env.restart_bot(create_bot(Settings(batch_window_ms=0), faces))  # a new process: nothing in memory
    again = (await alice.click(smiling, label="+0.5")).response
    assert "seed 7 · smiling +0.5, glasses on" in again.content and "ℹ️" not in again.content
    refit = with_sliders(faces, [a for a in faces.sliders if a.name != "smiling"])
    await env.restart_bot(create_bot(Settings(batch_window_ms=0), refit))
    after = (await alice.click(again, label="+0.5")).response
    assert "is gone since the sliders changed" in after.content and "dropped sm +0.5" in after.content
    assert "**glasses** is on" in after.content, "the first slider left is chosen; its step up is on"
    assert psnr(pixels(await picture(after)), upscale(refit.render([7], edits={"glasses": "on"})[0], FACE_PX)) > 40
    fresh = (await alice.click(after, label="Off")).response
    assert "ℹ️" not in fresh.content, "once redrawn, the editor is of the new slider set"


async def test_animate_a_slider_and_a_toggle(world, faces):
    env, channel, alice, _ = world
    gif = (await alice.slash(channel, "animate", seed="5", slider="smiling", frames=8)).response
    assert gif.content == "seed 5 · smiling -3 → +3 → -3 · 8 frames"
    shots = await frames(gif)
    assert len(shots) == 8
    assert (
        psnr(shots[0], face(faces, 5, {"smiling": -3.0})) > 30 and psnr(shots[4], face(faces, 5, {"smiling": 3.0})) > 30
    )
    toggle = await frames((await alice.slash(channel, "animate", seed="5", slider="glasses", frames=6)).response)
    assert len(toggle) == 6
    assert (
        psnr(toggle[0], face(faces, 5, {"glasses": "off"})) > 30
        and psnr(toggle[3], face(faces, 5, {"glasses": "on"})) > 30
    )

    posted = (await alice.slash(channel, "face", seed=5, glasses="on", smiling=2.0)).response
    editor = (await alice.click(posted, label="Edit")).response  # smiling chosen: the first edited slider
    held = (await alice.click(editor, label="Animate")).response
    assert held.content.startswith("seed 5 · glasses on · smiling -3 → +3 → -3") and not held.flags.ephemeral
    shots = await frames(held)
    assert psnr(shots[0], face(faces, 5, {"smiling": -3.0, "glasses": "on"})) > 30, "the other edits held"
