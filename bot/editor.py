"""The editor: a private copy of a face whose sliders its user steps, redrawn in place at each step.

Edit under a face opens it, seen only by whoever clicked: the face as a preview, a select menu of
the sliders, and for the chosen one a step down and a step up (sliders by STEP within their range,
toggles off and on), Reset, Animate (the chosen slider swept end to end on this face, posted) and
Post (the face as it now stands, posted with the usual buttons). Each step redraws the preview in
place: the same ephemeral message, edited, answered within Discord's 3 s.

As with the face buttons, every component carries the whole state in its custom_id,
`xe:<op>:<face state>:<slider key>` (at most 79 characters; bot/state.py packs the face), and the
bot registers one DynamicItem class per op: an editor left open works after a restart, and after
a slider refit it says what changed, as old face buttons do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import ClassVar

import discord

from gan import Faces
from gan.attributes import KEY, SLIDER_RANGE
from gan.faces import SWEEP_FRAMES

from . import render
from .drawing import Drawing, DrawingService, count, service_of
from .logs import bind
from .posts import post_animation, post_face
from .replies import FAILED, tell
from .state import Decoded, FaceState, decode, quantize

log = logging.getLogger(__name__)
PREFIX = "xe"
STEP = 0.5  # a slider's step in the editor
MAX_OPTIONS = 25  # Discord's limit for one select menu
DAMAGED = "This editor is damaged or from another bot, so I can't tell which face it belongs to. Try /face."


def _template(op: str) -> str:
    return rf"{PREFIX}:{op}:(?P<state>[^:]{{0,90}}):(?P<key>[^:]{{0,8}})"


@dataclass(frozen=True)
class Editing:
    """An open editor: the face as it now stands, the chosen slider, and what to tell about an old id."""

    state: FaceState
    slider: str
    notice: str = ""

    def custom_id(self, op: str, faces: Faces) -> str:
        return f"{PREFIX}:{op}:{self.state.encode(faces)}:{faces.sliders[self.slider].key}"

    def with_value(self, value: float | str, faces: Faces) -> Editing:
        """The chosen slider set to `value` (0: not set), the edits kept in the sliders' order, as
        /face orders them (the order they are applied in)."""
        edits = {**self.state.edits, self.slider: value}
        ordered = {n: edits[n] for n in faces.attributes if n in edits and edits[n] != 0}
        return Editing(FaceState(self.state.face, self.state.truncation, ordered), self.slider, self.notice)


def read(match: re.Match[str], faces: Faces) -> Editing:
    """The editing a custom_id carries; ValueError if it is damaged. A slider gone since the id was
    made (a refit) leaves the first slider chosen, and says so."""
    decoded: Decoded = decode(match["state"], faces)
    if not KEY.fullmatch(match["key"]):
        raise ValueError(f"bad slider key {match['key']!r}")
    if not faces.attributes:
        raise ValueError("no sliders are installed")
    notice = decoded.notice()
    chosen = faces.sliders.by_key.get(match["key"])
    if chosen is None:
        notice = f"ℹ️ The slider you had chosen ({match['key']}) is gone since the sliders changed. {notice}".strip()
    return Editing(decoded.state, chosen.name if chosen is not None else faces.attributes[0], notice)


def steps(editing: Editing, faces: Faces) -> tuple[float | str, float | str]:
    """The chosen slider's value one step down and one step up (a toggle's: off and on)."""
    if faces.attribute_info(editing.slider)["kind"] == "toggle":
        return "off", "on"
    value = float(editing.state.edits.get(editing.slider, 0.0))
    lo, hi = SLIDER_RANGE
    return quantize(max(lo, value - STEP)), quantize(min(hi, value + STEP))


def editor_text(editing: Editing, faces: Faces) -> str:
    info = faces.attribute_info(editing.slider)
    value = editing.state.edits.get(editing.slider)
    if info["kind"] == "slider":
        now = f"{value:+g}" if value is not None else "0"
        span = f"{SLIDER_RANGE[0]:+g} … {SLIDER_RANGE[1]:+g}"
    else:
        now, span = value or "not set", "off / on"
    lines = [
        f"✏️ **Editing** {editing.state.caption()}",
        f"**{editing.slider}** is {now} ({span}): {info['description']}",
        "Only you see this editor; **Post** shows the face to everyone.",
    ]
    return "\n".join([*lines, editing.notice] if editing.notice else lines)


def editor_view(editing: Editing, faces: Faces) -> discord.ui.View:
    """The select menu of sliders (row 0) and the chosen slider's steps, Reset, Animate, Post (row 1)."""
    view = discord.ui.View(timeout=None)
    view.add_item(SliderSelect.for_editing(editing, faces))
    down, up = steps(editing, faces)
    value = editing.state.edits.get(editing.slider, 0.0)
    toggle = isinstance(down, str)
    labels = ("Off", "On") if toggle else (f"−{STEP:g}", f"+{STEP:g}")
    view.add_item(StepDown.for_editing(editing, faces, labels[0], disabled=value == down))
    view.add_item(StepUp.for_editing(editing, faces, labels[1], disabled=value == up))
    view.add_item(ResetButton.for_editing(editing, faces, disabled=not editing.state.edits))
    view.add_item(AnimateButton.for_editing(editing, faces))
    view.add_item(PostButton.for_editing(editing, faces))
    view.stop()  # the registered classes answer every press: nothing to keep in memory (see buttons.py)
    return view


async def open_editor(service: DrawingService, interaction: discord.Interaction, decoded: Decoded) -> None:
    """Edit under a face: the editor on that face, for whoever clicked."""
    if not service.faces.attributes:
        service.count(interaction, "invalid")
        await tell(interaction, "This model has no sliders to edit.")
        return
    state = decoded.state
    first_edited = next(iter(state.edits), service.faces.attributes[0])
    await _redraw(service, interaction, Editing(state, first_edited, decoded.notice()), "private")


async def _redraw(service: DrawingService, interaction: discord.Interaction, editing: Editing, reply: str) -> None:
    """The preview of `editing`: a new private message, or the pressed editor redrawn in place."""
    faces, state = service.faces, editing.state
    drawing = Drawing(
        lambda: render.face_latent(faces, state),
        lambda images: render.face_file(images, "preview.jpg"),
        editor_text(editing, faces),
        lambda: editor_view(editing, faces),
        edits=state.edits,
        reply=reply,
    )
    await service.draw(interaction, drawing)


# --- the editor's components ------------------------------------------------------------------------
class _Reading:
    """What the select menu and the buttons share: reading the custom_id, and answering a bad one."""

    editing: Editing | None
    error: str

    @classmethod
    def _read(cls, interaction: discord.Interaction, match: re.Match[str]) -> tuple[Editing | None, str]:
        service = service_of(interaction)
        try:  # never raise here: discord.py would drop the interaction without a word
            if service is None:
                raise ValueError("the bot is starting")
            return read(match, service.faces), ""
        except (ValueError, IndexError) as e:
            log.info("unreadable editor id %r: %s", match.string, e)
            return None, DAMAGED

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        bind(interaction)
        if self.editing is None:
            count(interaction, "invalid")
            await tell(interaction, f"⚠️ {self.error}")
            return False
        return True

    async def callback(self, interaction: discord.Interaction) -> None:
        service = service_of(interaction)
        try:
            await self.run(interaction, service, self.editing)
        except Exception:  # noqa: BLE001 - logged; the user still gets an answer
            log.exception("editor %s failed", interaction.data)
            service.count(interaction, "failed")
            await tell(interaction, f"⚠️ {FAILED}")

    async def run(self, interaction: discord.Interaction, service: DrawingService, editing: Editing) -> None:
        raise NotImplementedError


class SliderSelect(_Reading, discord.ui.DynamicItem[discord.ui.Select], template=_template("pick")):
    """Which slider the step buttons move. Choosing one redraws nothing: only the buttons change."""

    def __init__(self, custom_id: str, editing: Editing | None = None, faces: Faces | None = None, error: str = ""):
        options = []
        if editing is not None and faces is not None:
            for name in faces.attributes[:MAX_OPTIONS]:
                value = editing.state.edits.get(name)
                shown = "" if value is None else f" ({value:+g})" if isinstance(value, float) else f" ({value})"
                options.append(
                    discord.SelectOption(
                        label=f"{name}{shown}",
                        value=faces.sliders[name].key,
                        description=faces.attribute_info(name)["description"][:100],
                        default=name == editing.slider,
                    )
                )
        select = discord.ui.Select(
            custom_id=custom_id, placeholder="Choose a slider", options=options or [discord.SelectOption(label="-")]
        )  # a select read back from a press needs no options: one stands in, as Discord wants at least one
        super().__init__(select, row=0)
        self.editing, self.error = editing, error

    @classmethod
    def for_editing(cls, editing: Editing, faces: Faces) -> SliderSelect:
        return cls(editing.custom_id("pick", faces), editing, faces)

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str]):
        editing, error = cls._read(interaction, match)
        return cls(item.custom_id, editing, error=error)

    async def run(self, interaction: discord.Interaction, service: DrawingService, editing: Editing) -> None:
        chosen = service.faces.sliders.by_key.get(next(iter((interaction.data or {}).get("values", [])), ""))
        if chosen is None:
            service.count(interaction, "invalid")
            await tell(interaction, f"⚠️ {DAMAGED}")
            return
        picked = Editing(editing.state, chosen.name, editing.notice)
        service.count(interaction, "answered")
        await interaction.response.edit_message(
            content=editor_text(picked, service.faces), view=editor_view(picked, service.faces)
        )


class EditorButton(_Reading, discord.ui.DynamicItem[discord.ui.Button], template=_template("[a-z]+")):
    """An editor button: its op's template, label and what it does."""

    OP: ClassVar[str]
    LABEL: ClassVar[str] = ""
    EMOJI: ClassVar[str | None] = None
    STYLE: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary

    def __init__(self, custom_id: str, editing: Editing | None = None, label: str = "", disabled: bool = False):
        button = discord.ui.Button(
            label=label or self.LABEL, emoji=self.EMOJI, style=self.STYLE, custom_id=custom_id, disabled=disabled
        )
        super().__init__(button, row=1)
        self.editing, self.error = editing, ""

    @classmethod
    def for_editing(cls, editing: Editing, faces: Faces, label: str = "", disabled: bool = False) -> EditorButton:
        return cls(editing.custom_id(cls.OP, faces), editing, label, disabled)

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]):
        editing, error = cls._read(interaction, match)
        button = cls(item.custom_id, editing)
        button.error = error
        return button


class StepDown(EditorButton, template=_template("down")):
    OP = "down"

    async def run(self, interaction: discord.Interaction, service: DrawingService, editing: Editing) -> None:
        value = steps(editing, service.faces)[0]
        await _redraw(service, interaction, editing.with_value(value, service.faces), "update")


class StepUp(EditorButton, template=_template("up")):
    OP = "up"

    async def run(self, interaction: discord.Interaction, service: DrawingService, editing: Editing) -> None:
        value = steps(editing, service.faces)[1]
        await _redraw(service, interaction, editing.with_value(value, service.faces), "update")


class ResetButton(EditorButton, template=_template("reset")):
    OP, LABEL, EMOJI = "reset", "Reset", "↩️"

    async def run(self, interaction: discord.Interaction, service: DrawingService, editing: Editing) -> None:
        state = FaceState(editing.state.face, editing.state.truncation, {})
        await _redraw(service, interaction, Editing(state, editing.slider, editing.notice), "update")


class AnimateButton(EditorButton, template=_template("animate")):
    OP, LABEL, EMOJI = "animate", "Animate", "🎞️"

    async def run(self, interaction: discord.Interaction, service: DrawingService, editing: Editing) -> None:
        await post_animation(service, interaction, editing.state, editing.slider, SWEEP_FRAMES, editing.notice)


class PostButton(EditorButton, template=_template("post")):
    OP, LABEL, EMOJI, STYLE = "post", "Post", "📣", discord.ButtonStyle.success

    async def run(self, interaction: discord.Interaction, service: DrawingService, editing: Editing) -> None:
        await post_face(service, interaction, editing.state, editing.notice)


EDITOR_ITEMS = (SliderSelect, StepDown, StepUp, ResetButton, AnimateButton, PostButton)
