"""The local channel in a real browser: headless Chromium (Debian's chromium and chromium-driver, which
.ci/run installs) drives `python -m bot --local` as a person would; the DOM and the pictures are checked.
Screenshots of each step are left in the test's tmp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot_process import local_channel
from tests.browser import CHROMEDRIVER, CHROMIUM, ChannelPage, chromium

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does)",
)


def test_face_edit_post_and_morph_in_the_browser(tmp_path: Path):
    with local_channel() as channel, chromium() as driver:
        page = ChannelPage(driver, channel.url)

        def shot(name: str) -> None:
            driver.save_screenshot(str(tmp_path / f"{name}.png"))

        # the commands are offered as one types; /face seed 42 -> the picture
        page.type("/fa", enter=False)
        page.until(lambda: "/face" in driver.find_element(page.by.ID, "hints").text, "the command list")
        driver.find_element(page.by.ID, "command").clear()
        page.type("/face seed:42")
        face = page.until(lambda: page.message(r"^seed 42$"), "the face of seed 42")
        assert face.find_element(page.by.CLASS_NAME, "origin").text == "↳ you used /face"
        original = page.picture(face)
        assert original.format == "JPEG" and original.size == (256, 256)
        assert {"Reroll", "Edit", "Variations"} <= {label.split()[-1] for label in page.buttons(face)}
        shot("1-face")

        # Edit -> smiling -> +0.5 twice -> Post
        page.click(face, "Edit")
        editor = page.until(lambda: page.message(r"^✏️ Editing seed 42"), "the editor")
        assert "ephemeral" in editor.get_attribute("class") and "Only you can see this" in editor.text
        page.choose(editor, "smiling")
        editor = page.until(lambda: page.message(r"smiling is 0 "), "smiling chosen")
        for value in ("+0.5", "+1"):
            page.click(editor, "+0.5")
            editor = page.until(lambda v=value: page.message(rf"smiling is \{v} "), f"smiling at {value}")
        shot("2-editor")
        page.click(editor, "Post")
        posted = page.until(lambda: page.message(r"^seed 42 · smiling \+1$"), "the posted face")
        assert "ephemeral" not in posted.get_attribute("class") and "Edit" in " ".join(page.buttons(posted))
        assert page.picture(posted).tobytes() != original.tobytes(), "the posted face is the edited one"

        # /morph -> a GIF that plays
        page.type("/morph seed_a:1 seed_b:2 frames:4")
        morph = page.until(lambda: page.message(r"^seed 1 → seed 2", ".gif"), "the morph")
        gif = page.picture(morph)
        assert gif.format == "GIF" and gif.n_frames == 6 and gif.info.get("loop") == 0
        shot("3-morph")

        # bad input: Discord's client's refusals, to this user alone
        page.type("/face seed:-1")
        page.until(lambda: page.message(r"seed must be from 0 to", picture=""), "the refused seed")
        page.type("/face smilng:+2")
        page.until(lambda: page.message(r"no option 'smilng'", picture=""), "the unknown slider")

        # the second user sees none of your private messages
        page.be("friend")
        page.until(lambda: page.message(r"^✏️ Editing", picture="") is None, "the editor hidden from the friend")
        assert page.message(r"no option 'smilng'", picture="") is None
        assert page.message(r"^seed 42$") is not None, "public messages stay"
        shot("4-friend")
        page.be("you")

        # the bot restarts; the page reconnects and an old button still works
        driver.find_element(page.by.ID, "restart").click()
        page.until(lambda: not page.online(), "the bot stopping")
        page.until(page.online, "the bot back")
        page.click(page.until(lambda: page.message(r"^seed 42$"), "the first face"), "Variations")
        grid = page.until(lambda: page.message(r"^Variations 1–4 of seed 42"), "variations after the restart")
        assert {"1", "2", "3", "4"} <= set(page.buttons(grid))
        shot("5-after-restart")


def test_the_command_box_offers_commands_options_and_choices():
    with local_channel() as channel, chromium() as driver:
        page = ChannelPage(driver, channel.url)
        hints = driver.find_element(page.by.ID, "hints")
        page.type("/an", enter=False)
        page.until(lambda: hints.text.startswith("/animate"), "the commands that match")
        hints.find_element(page.by.TAG_NAME, "button").click()
        page.until(lambda: "slider*" in hints.text and "seed*" in hints.text, "its options, the needed ones marked")
        page.type("seed:42 slider:sm", enter=False)
        page.until(lambda: hints.text.split("\n")[0] == "smiling", "the slider's choices that match")
        hints.find_element(page.by.TAG_NAME, "button").click()
        assert driver.find_element(page.by.ID, "command").get_attribute("value") == "/animate seed:42 slider:smiling "
        page.type("frames:4")
        page.until(lambda: page.message(r"^seed 42 · smiling -3 → \+3 → -3 · 4 frames", ".gif"), "the animation")
