"""Every face can be carried on: picks from variation and blend grids, faces by their code (simcord, real model)."""

from __future__ import annotations

import re

import pytest

from bot import Settings, create_bot
from bot.render import FACE_PX
from gan.imaging import grid, upscale
from gan.recipes import MAX_STEPS
from tests.test_bot_commands import GRID_LABELS, labels, picture, pixels, psnr

pytestmark = pytest.mark.simcord(shard_count=1)
FACE_BUTTON_LABELS = ["Reroll", "Variations", "Morph to new face", "Edit", "Details", "Delete"]


@pytest.fixture
def simcord_bot(faces):
    return create_bot(Settings(batch_window_ms=0), faces)


def exact(faces, codes: list[str], edits: dict | None = None):
    return upscale(faces.render(codes, edits=edits), FACE_PX)


def shown_code(details: str) -> str:
    return re.search(r"\*\*Code\*\* `([^`]+)`", details)[1]


async def test_pick_a_variation_edit_it_and_draw_it_again_by_its_code(world, faces):
    env, channel, alice, bob = world
    face = (await alice.slash(channel, "face", seed=42)).response
    varied = (await alice.click(face, label="Variations")).response
    assert varied.content.startswith("Variations 1–4 of seed 42") and labels(varied) == [*GRID_LABELS, "Delete"]
    expected_grid = grid(exact(faces, ["42v1", "42v2", "42v3", "42v4"]), cols=2, pad=4)
    assert psnr(pixels(await picture(varied)), expected_grid) > 40

    picked = (await bob.click(varied, label="3")).response  # anyone may pick
    assert picked.content == "face 42v3" and labels(picked) == FACE_BUTTON_LABELS
    assert psnr(pixels(await picture(picked)), exact(faces, ["42v3"])[0]) > 40

    editor = (await bob.click(picked, label="Edit")).response
    smiling = (await bob.select(editor, ["sm"])).response
    stepped = (await bob.click(smiling, label="+0.5")).response
    stepped = (await bob.click(stepped, label="+0.5")).response
    posted = (await bob.click(stepped, label="Post")).response
    assert posted.content == "face 42v3 · smiling +1"

    code = shown_code((await alice.click(posted, label="Details")).response.content)
    assert code == "42v3"
    again = (await alice.slash(channel, "face", code=code, smiling=1.0)).response
    assert again.content == posted.content
    assert pixels(await picture(again)).tolist() == pixels(await picture(posted)).tolist(), "the same face"


async def test_more_like_these_and_variations_of_a_variation(world, faces):
    env, channel, alice, _ = world
    varied = (await alice.slash(channel, "face", seed=7, glasses="on")).response
    grid_1 = (await alice.click(varied, label="Variations")).response
    grid_2 = (await alice.click(grid_1, label="More like these")).response
    assert grid_2.content.startswith("Variations 5–8 of seed 7 · glasses on")
    expected = grid(exact(faces, ["7v5", "7v6", "7v7", "7v8"], {"glasses": "on"}), cols=2, pad=4)
    assert psnr(pixels(await picture(grid_2)), expected) > 40
    picked = (await alice.click(grid_2, label="2")).response
    assert picked.content == "face 7v6 · glasses on"
    deeper = (await alice.click((await alice.click(picked, label="Variations")).response, label="1")).response
    assert deeper.content == "face 7v6v1 · glasses on"


async def test_blend_two_faces_pick_a_child_and_morph_it(world, faces):
    env, channel, alice, _ = world
    blended = (await alice.slash(channel, "blend", seed_a="42", seed_b="17v2", smiling=1.0)).response
    assert blended.content.startswith("Children 1–4 of seed 42 and face 17v2 · smiling +1")
    expected = grid(exact(faces, [f"42x(17v2)c{i}" for i in range(1, 5)], {"smiling": 1.0}), cols=2, pad=4)
    assert psnr(pixels(await picture(blended)), expected) > 40
    child = (await alice.click(blended, label="4")).response
    assert child.content == "face 42x(17v2)c4 · smiling +1" and labels(child) == FACE_BUTTON_LABELS
    morph = (await alice.click(child, label="Morph to new face")).response
    assert (await picture(morph)).format == "GIF" and morph.content.startswith("face 42x(17v2)c4 · smiling +1 → seed ")
    by_code = (await alice.slash(channel, "morph", seed_a="42x(17v2)c4", seed_b="3", frames=3)).response
    assert by_code.content == "face 42x(17v2)c4 → seed 3 · 3 frames"


@pytest.mark.parametrize(
    "command, options, said",
    [
        ("face", {"code": "42x17"}, "the child's number"),
        ("face", {"code": "42q"}, "characters codes do not use"),
        ("face", {"seed": 4, "code": "4"}, "a seed or a code, not both"),
        ("blend", {"seed_a": "42" + "v1" * MAX_STEPS, "seed_b": "1"}, "steps deep"),
        ("morph", {"seed_a": "1", "seed_b": "x"}, "seed"),
    ],
)
async def test_a_malformed_or_too_deep_code_is_refused_in_one_line(world, command, options, said):
    env, channel, alice, _ = world
    result = await alice.slash(channel, command, **options)
    assert result.ephemeral and said in result.response.content and "\n" not in result.response.content
    assert channel.last_message is None, "nothing was drawn"


async def test_a_variation_past_the_depth_limit_is_refused_in_one_line(world):
    env, channel, alice, _ = world
    deepest = (await alice.slash(channel, "face", code="5" + "v1" * MAX_STEPS)).response
    refused = await alice.click(deepest, label="Variations")
    assert refused.ephemeral and "steps deep" in refused.response.content
    assert "\n" not in refused.response.content


async def test_animate_takes_a_code(world, faces):
    env, channel, alice, _ = world
    gif = (await alice.slash(channel, "animate", seed="42x17c2", slider="smiling", frames=4)).response
    assert gif.content.startswith("face 42x17c2 · smiling -3 → +3 → -3") and (await picture(gif)).format == "GIF"
