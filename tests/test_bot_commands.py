"""The bot's commands and buttons, driven through simcord's in-memory Discord with the real model."""

from __future__ import annotations

import io

import numpy as np
import pytest
import simcord
import torch
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from bot import Settings, create_bot
from bot.render import FACE_PX, jpeg
from gan import Faces
from gan.critic import LatentCritic
from gan.imaging import grid, jpeg_bytes, upscale
from gan.sheet import SHEET_SEED, sheet_latents, sheet_picture
from tests.conftest import callbacks, with_sliders

pytestmark = pytest.mark.simcord(shard_count=1)


class FailingFaces(Faces):
    """The real model, except that drawing the face of one seed raises (fault injection)."""

    BAD_SEED = 666

    def decode(self, z: torch.Tensor, batch: int = 256) -> np.ndarray:
        if any(torch.equal(row, self.latent([self.BAD_SEED])[0]) for row in z):
            raise RuntimeError("simulated GPU failure")
        return super().decode(z, batch)


@pytest.fixture
def settings() -> dict:
    return {"batch_window_ms": 0}


@pytest.fixture
def simcord_bot(faces, settings):
    return create_bot(
        Settings(**settings), FailingFaces(faces.generator, faces.meta, faces.sliders, critic=faces.critic)
    )


GRID_LABELS = ["1", "2", "3", "4", "More like these"]


def labels(message) -> list[str]:
    return [c["label"] for row in message.components for c in row["components"]]


async def picture(message) -> Image.Image:
    (attachment,) = message.attachments
    img = Image.open(io.BytesIO(await attachment.read()))
    img.load()
    return img


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """How close a posted JPEG is to the exact picture: over 40 dB looks the same, two different
    faces score about 15."""
    mse = ((a.astype(float) - np.asarray(b, dtype=float)) ** 2).mean()
    return 10 * np.log10(255**2 / max(mse, 1e-9))


async def test_face_sends_a_jpeg_of_that_seed(world, faces):
    env, channel, alice, _ = world
    result = await alice.slash(channel, "face", seed=42)
    assert result.acknowledged and list(callbacks(env).values()) == [[4]], "the picture is the response itself"
    msg = result.response
    assert msg.content == "seed 42" and not msg.ephemeral
    img = await picture(msg)
    assert img.format == "JPEG" and img.size == (FACE_PX, FACE_PX)
    assert psnr(pixels(img), upscale(faces.render([42])[0], FACE_PX)) > 40
    again = await picture((await alice.slash(channel, "face", seed=42)).response)
    assert np.array_equal(pixels(again), pixels(img)), "same seed, same face"


def test_the_bots_jpeg_encoder_makes_the_librarys_jpeg(faces):
    """The bot encodes with simplejpeg (no GIL held), the CLI and docs with Pillow: same quality, same
    chroma, so the same picture (today the same bytes: both wrap libjpeg-turbo)."""
    faces_256 = upscale(faces.render([1, 2, 3, 4]), FACE_PX)
    for image in [*faces_256, grid(faces_256, cols=2, pad=4)]:
        ours, theirs = jpeg(image), jpeg_bytes(image)
        assert abs(len(ours) - len(theirs)) <= 0.02 * len(theirs)
        decoded = [pixels(Image.open(io.BytesIO(b))).astype(int) for b in (ours, theirs)]
        assert decoded[0].shape == image.shape and np.abs(decoded[0] - decoded[1]).max() <= 1


async def test_face_with_sliders_as_typed(world, faces):
    env, channel, alice, _ = world
    if not faces.attributes:
        pytest.skip("the shipped model has no sliders")
    result = await alice.slash(channel, "face", seed=7, smiling=2.0, glasses="on")
    msg = result.response
    assert msg.content == "seed 7 · smiling +2, glasses on"
    expected = faces.render([7], edits={"smiling": 2.0, "glasses": "on"})[0]
    assert psnr(pixels(await picture(msg)), upscale(expected, FACE_PX)) > 40
    plain = pixels(await picture((await alice.slash(channel, "face", seed=7)).response))
    assert not np.array_equal(plain, pixels(await picture(msg))), "the edits changed the face"


async def test_slider_values_snap_to_tenths(world, faces):
    env, channel, alice, _ = world
    if not faces.attributes:
        pytest.skip("the shipped model has no sliders")
    msg = (await alice.slash(channel, "face", seed=7, smiling=1.234)).response
    assert msg.content == "seed 7 · smiling +1.2"


@pytest.mark.parametrize(
    "options", [{"seed": -1}, {"seed": 2**32}, {"truncation": 0.0}, {"smiling": 3.5}, {"glasses": "maybe"}]
)
async def test_invalid_options_are_refused_by_discord(world, options):
    env, channel, alice, _ = world
    with pytest.raises(simcord.OptionError):
        await alice.slash(channel, "face", **options)
    assert channel.last_message is None, "nothing was drawn"


async def test_morph_sends_a_looping_gif(world):
    env, channel, alice, _ = world
    result = await alice.slash(channel, "morph", seed_a="1", seed_b="2", frames=5)
    msg = result.response
    assert result.acknowledged and msg.content == "seed 1 → seed 2 · 5 frames"
    gif = await picture(msg)
    assert gif.format == "GIF" and gif.size == (FACE_PX, FACE_PX) and gif.n_frames == 8 and gif.info["loop"] == 0
    with pytest.raises(simcord.OptionError):
        await alice.slash(channel, "morph", seed_a="1", seed_b="2", frames=49)


async def test_attributes_shows_the_sheet_of_every_slider_ephemerally(world, faces):
    env, channel, alice, bob = world
    result = await alice.slash(channel, "attributes")
    assert result.ephemeral and channel.last_message is None, "seen by its user alone"
    for name in faces.attributes:
        assert f"**{name}**" in result.response.content
    (attachment,) = result.response.attachments
    assert attachment.filename == f"sliders-{faces.sliders.fingerprint}-{SHEET_SEED}.jpg", "the set names it"
    sheet = pixels(await picture(result.response))
    expected = sheet_picture(faces, upscale(faces.decode(sheet_latents(faces, SHEET_SEED)), FACE_PX), SHEET_SEED)
    assert sheet.shape == expected.shape and psnr(sheet, expected) > 35
    drawn = env.bot.drawing.queue.images
    again = await bob.slash(channel, "attributes")
    assert np.array_equal(pixels(await picture(again.response)), sheet)
    assert env.bot.drawing.queue.images == drawn, "kept, not drawn again"
    other = await alice.slash(channel, "attributes", seed=7)
    assert "seed 7" in other.response.content
    assert psnr(pixels(await picture(other.response)), sheet) < 25, "another face"


async def test_buttons(world):
    env, channel, alice, bob = world
    face = (await alice.slash(channel, "face", seed=42)).response
    labels = [c["label"] for row in face.components for c in row["components"]]
    assert labels == ["Reroll", "Variations", "Morph to new face", "Edit", "Details", "Delete"]

    reroll = await bob.click(face, label="Reroll")
    assert reroll.acknowledged
    new = reroll.response
    assert new.content.startswith("seed ") and new.content != "seed 42" and new.id != face.id

    vary = await alice.click(face, label="Variations")
    assert (await picture(vary.response)).size == (2 * FACE_PX + 12, 2 * FACE_PX + 12)

    morph = await alice.click(face, label="Morph to new face")
    assert (await picture(morph.response)).format == "GIF"

    details = await bob.click(face, label="Details")
    text = details.response.content
    assert details.ephemeral and "**Code** `42`" in text and "/face seed:42" in text

    refused = await bob.click(face, label="Delete")
    assert refused.ephemeral and "Only" in refused.response.content
    assert any(m.id == face.id for m in channel.history())
    deleted = await alice.click(face, label="Delete")
    assert deleted.acknowledged
    assert all(m.id != face.id for m in channel.history())


@pytest.mark.parametrize("settings", [{"batch_window_ms": 0, "metrics_port": 9100}])  # recorded; not served here
async def test_every_interaction_is_counted_by_kind_and_outcome(world):
    env, channel, alice, bob = world
    face = (await alice.slash(channel, "face", seed=42)).response
    await alice.slash(channel, "attributes")
    for label in ("Reroll", "Variations", "Details"):
        await bob.click(face, label=label)
    blended = (await bob.slash(channel, "blend", seed_a="1", seed_b="2")).response
    await bob.click(blended, label="1")
    await bob.click(blended, label="More like these")
    editor = (await bob.click(face, label="Edit")).response
    await bob.click(editor, label="+0.5")
    await bob.click(face, label="Delete")  # not bob's to delete
    await alice.click(face, label="Delete")
    await alice.slash(channel, "face", seed=FailingFaces.BAD_SEED)
    env.errors.clear()  # the failure was logged on purpose
    families = text_string_to_metric_families(env.bot.metrics.exposition().decode())
    counted = {
        (s.labels["kind"], s.labels["outcome"]): s.value
        for family in families
        for s in family.samples
        if s.name == "expressions_interactions_total"
    }
    assert counted == {
        ("/face", "answered"): 1,
        ("/face", "failed"): 1,
        ("/attributes", "answered"): 1,
        ("reroll", "answered"): 1,
        ("vary", "answered"): 1,
        ("/blend", "answered"): 1,
        ("pick", "answered"): 1,
        ("more", "answered"): 1,
        ("details", "answered"): 1,
        ("edit", "answered"): 1,
        ("editor_up", "answered"): 1,
        ("delete", "invalid"): 1,
        ("delete", "answered"): 1,
    }


async def test_buttons_survive_a_restart(world, faces):
    env, channel, alice, _ = world
    face = (await alice.slash(channel, "face", seed=5)).response
    await env.restart_bot(create_bot(Settings(batch_window_ms=0), faces))  # a new process: nothing in memory
    details = await alice.click(face, label="Details")
    assert "**Code** `5`" in details.response.content
    reroll = await alice.click(face, label="Reroll")
    assert reroll.response.attachments


def first_coordinate_critic(nz: int) -> LatentCritic:
    """A critic that accepts a latent only when its first coordinate is positive: half the seeds, so a
    bot that ignored it would draw a rejected one within a few random faces (all six pass by chance
    once in 64 runs), while it finds an accepted seed within CRITIC_TRIES for all but 1 in 65,536."""
    critic = LatentCritic(nz, hidden=1)
    with torch.no_grad():
        for layer in critic.net[::2]:
            layer.weight.zero_(), layer.bias.zero_()
        critic.net[0].weight[0, 0] = 1.0
        critic.net[2].weight.fill_(1.0)
        critic.net[4].weight.fill_(1.0)
    critic.threshold = 0.0  # silu(silu(z0)) >= 0 exactly when z0 >= 0
    return critic.eval()


def accepted(faces: Faces, critic: LatentCritic, seed: int) -> bool:
    return bool(critic.accepts(faces.latent([seed])).item())


async def test_the_bot_picks_random_faces_the_critic_accepts(world, faces):
    env, channel, alice, _ = world
    critic = first_coordinate_critic(faces.nz)
    await env.restart_bot(
        create_bot(Settings(batch_window_ms=0), Faces(faces.generator, faces.meta, faces.sliders, critic=critic))
    )
    for _ in range(4):
        msg = (await alice.slash(channel, "face")).response
        seed = int(msg.content.removeprefix("seed "))
        assert accepted(faces, critic, seed), f"/face without a seed drew seed {seed}, which the critic rejects"
        assert psnr(pixels(await picture(msg)), upscale(faces.render([seed])[0], FACE_PX)) > 40
    reroll = (await alice.click(msg, label="Reroll")).response
    assert accepted(faces, critic, int(reroll.content.removeprefix("seed ")))
    morph = (await alice.click(msg, label="Morph to new face")).response
    assert accepted(faces, critic, int(morph.content.split("→ seed ")[1].split()[0]))
    rejected = next(s for s in range(100) if not accepted(faces, critic, s))
    asked = (await alice.slash(channel, "face", seed=rejected)).response
    assert asked.content == f"seed {rejected}", "an explicit seed is drawn as asked, rejected or not"
    assert psnr(pixels(await picture(asked)), upscale(faces.render([rejected])[0], FACE_PX)) > 40


async def test_failing_render_is_reported_and_the_bot_goes_on(world):
    env, channel, alice, bob = world
    failed = await alice.slash(channel, "face", seed=FailingFaces.BAD_SEED)
    assert failed.acknowledged and "went wrong" in failed.response.content and not failed.response.attachments
    ok = await bob.slash(channel, "face", seed=7)
    assert ok.response.content == "seed 7" and ok.response.attachments
    env.errors.clear()  # the failure was logged on purpose


@pytest.mark.parametrize("settings", [{"batch_window_ms": 0, "queue_depth": 1}])
async def test_full_queue_answers_at_once(world, faces):
    env, channel, alice, bob = world
    bot = env.bot
    other = bot.drawing.queue.submit(faces.latent([1]), user_id=999)  # someone else's request fills the queue
    result = await alice.slash(channel, "face", seed=3)
    assert result.ephemeral and list(callbacks(env).values()) == [[4]] and "busy" in result.response.content
    await other.future
    assert (await bob.slash(channel, "face", seed=3)).response.attachments, "free again once drawn"


@pytest.mark.parametrize("settings", [{"batch_window_ms": 0, "per_user": 1}])
async def test_per_user_cap(world, faces):
    env, channel, alice, bob = world
    bot = env.bot
    bot.drawing.queue.submit(faces.latent([1]), user_id=alice.id)
    refused = await alice.slash(channel, "face", seed=3)
    assert refused.ephemeral and "already have 1" in refused.response.content
    assert (await bob.slash(channel, "face", seed=3)).response.attachments, "other users are not capped"


async def test_truncation_is_rounded_where_it_enters(world, faces):
    """What is drawn is what the buttons store and what Details says to type."""
    env, channel, alice, _ = world
    msg = (await alice.slash(channel, "face", seed=7, truncation=0.123)).response
    assert msg.content == "seed 7 · truncation 0.12"
    assert psnr(pixels(await picture(msg)), upscale(faces.render([7], 0.12)[0], FACE_PX)) > 40
    assert psnr(pixels(await picture(msg)), upscale(faces.render([7], 0.123)[0], FACE_PX)) < psnr(
        pixels(await picture(msg)), upscale(faces.render([7], 0.12)[0], FACE_PX)
    ), "drawn at 0.12, not 0.123"
    details = (await alice.click(msg, label="Details")).response.content
    assert "`/face seed:7 truncation:0.12`" in details
    full = (await alice.slash(channel, "face", seed=7, truncation=0.999)).response
    assert full.content == "seed 7", "0.999 is 1.00 both when drawn and when stored"


def reordered(faces: Faces, keep=lambda a: True) -> Faces:
    return with_sliders(faces, [a for a in reversed(list(faces.sliders)) if keep(a)])


async def test_old_buttons_after_the_sliders_are_reordered(world, faces):
    """A refit that reorders the sliders changes nothing for faces already posted."""
    env, channel, alice, _ = world
    face = (await alice.slash(channel, "face", seed=5, smiling=2.0, glasses="on")).response
    await env.restart_bot(create_bot(Settings(batch_window_ms=0), reordered(faces)))
    details = (await alice.click(face, label="Details")).response.content
    assert "**smiling** +2" in details and "**glasses** on" in details and "dropped" not in details
    reroll = (await alice.click(face, label="Reroll")).response
    assert reroll.content.endswith("· glasses on, smiling +2") and reroll.attachments


async def test_old_buttons_when_sliders_are_gone(world, faces):
    env, channel, alice, _ = world
    face = (await alice.slash(channel, "face", seed=5, smiling=2.0, bangs=1.0)).response
    await env.restart_bot(create_bot(Settings(batch_window_ms=0), reordered(faces, lambda a: a.name != "bangs")))
    reroll = (await alice.click(face, label="Reroll")).response
    assert "smiling +2" in reroll.content and "dropped bn +1" in reroll.content and reroll.attachments
    await env.restart_bot(create_bot(Settings(batch_window_ms=0), reordered(faces, lambda a: False)))
    details = await alice.click(face, label="Details")
    assert details.acknowledged and "dropped sm +2, bn +1" in details.response.content


async def test_variations_and_morphs_can_be_deleted_by_their_requester(world):
    """Every picture the bot posts can be removed by whoever asked for it."""
    env, channel, alice, bob = world
    face = (await alice.slash(channel, "face", seed=9)).response
    for label, buttons in (("Variations", [*GRID_LABELS, "Delete"]), ("Morph to new face", ["Delete"])):
        result = (await bob.click(face, label=label)).response
        assert labels(result) == buttons
        refused = await alice.click(result, label="Delete")
        assert refused.ephemeral and f"Only <@{bob.id}>" in refused.response.content
        await bob.click(result, label="Delete")
        assert all(m.id != result.id for m in channel.history())
    morph = (await alice.slash(channel, "morph", seed_a="1", seed_b="2", frames=3)).response
    assert [c["label"] for row in morph.components for c in row["components"]] == ["Delete"]


async def test_a_failed_response_still_ends_in_a_message(simcord_env):
    """The picture's response fails (a 5xx): the user is still told something."""
    channel = simcord_env.create_guild().create_text_channel("faces")
    alice = channel.guild.add_member(simcord_env.create_user("alice"))
    face = (await alice.slash(channel, "face", seed=9)).response
    simcord_env.inject_error("POST", "/interactions/*/callback", status=500, times=1)
    result = await alice.click(face, label="Reroll")
    assert result.acknowledged and "would not take the message" in result.response.content
    assert len([r for r in simcord_env.http_requests if r.path.endswith("/callback")]) == 1 + 2
    simcord_env.errors.clear()
