"""A posted face and the buttons under it: one DynamicItem class per action, as in discord.py's
`examples/views/dynamic_counter.py`. Each custom_id carries the face's whole state and its
requester (`xp:<action>:<state>:<owner>`), and the bot registers these classes in setup_hook, so
buttons on old messages keep working after a restart or a slider refit (see bot/state.py).

A custom_id that cannot be read still reaches its class (the templates accept anything between
the colons) and is answered with a clear message in `interaction_check`; ids that match no
template at all are answered by `FaceCog.on_interaction`. Each button does its own work through
the bot's `DrawingService` (bot/drawing.py), posting through bot/posts.py as the slash commands do;
Edit opens the private editor (bot/editor.py).
"""

from __future__ import annotations

import logging
import re
from typing import ClassVar

import discord

from gan import Faces
from gan.faces import MORPH_FRAMES
from gan.recipes import CodeError, Recipe

from .drawing import DrawingService, count, service_of
from .editor import EDITOR_ITEMS, open_editor
from .logs import bind
from .posts import post_face, post_grid, post_morph
from .render import GRID
from .replies import FAILED, tell
from .state import BadRequest, Decoded, FaceState, decode

log = logging.getLogger(__name__)
PREFIX = "xp"
BROKEN = "This button is damaged or from another bot, so I can't tell which face it belongs to. Try /face."


def _template(action: str) -> str:
    return rf"{PREFIX}:{action}:(?P<state>[^:]{{0,90}}):(?P<owner>[^:]{{0,25}})"


def _face_id(action: str, state: FaceState, owner: int, faces: Faces) -> str:
    return f"{PREFIX}:{action}:{state.encode(faces)}:{owner}"


class FaceButton(discord.ui.DynamicItem[discord.ui.Button], template=_template("[a-z]+")):
    """What every face button shares: reading its custom_id, and always answering."""

    ACTION: ClassVar[str]
    LABEL: ClassVar[str]
    EMOJI: ClassVar[str | None]
    STYLE: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary

    def __init__(self, custom_id: str, decoded: Decoded | None = None, owner: int = 0, error: str = ""):
        super().__init__(discord.ui.Button(label=self.LABEL, emoji=self.EMOJI, style=self.STYLE, custom_id=custom_id))
        self.decoded, self.owner, self.error = decoded, owner, error

    @classmethod
    def for_face(cls, state: FaceState, owner: int, faces: Faces) -> FaceButton:
        return cls(_face_id(cls.ACTION, state, owner, faces), Decoded(state, [], False), owner)

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]):
        service = service_of(interaction)
        try:  # never raise here: discord.py would drop the interaction without a word
            owner = int(match["owner"]) if match["owner"].isdigit() else None
            if owner is None or service is None:
                raise ValueError("no owner" if service is not None else "the bot is starting")
            return cls(item.custom_id, decode(match["state"], service.faces), owner)
        except (ValueError, IndexError) as e:
            log.info("unreadable button %r: %s", item.custom_id, e)
            return cls(item.custom_id, error=BROKEN)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        bind(interaction)
        if self.error:
            count(interaction, "invalid")
            await tell(interaction, f"⚠️ {self.error}")
            return False
        return True

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.run(interaction, service_of(interaction))
        except (BadRequest, CodeError) as e:  # a face this one cannot lead to: too deep, too long for a button
            count(interaction, "invalid")
            await tell(interaction, f"⚠️ {e}")
        except Exception:  # noqa: BLE001 - logged; the user still gets an answer
            log.exception("button %s failed", self.custom_id)
            count(interaction, "failed")
            await tell(interaction, f"⚠️ {FAILED}")

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        raise NotImplementedError


class RerollButton(FaceButton, template=_template("reroll")):
    ACTION, LABEL, EMOJI, STYLE = "reroll", "Reroll", "🎲", discord.ButtonStyle.primary

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        state = self.decoded.state.with_face(Recipe(service.new_seed()))
        await post_face(service, interaction, state, self.decoded.notice())


class VariationsButton(FaceButton, template=_template("vary")):
    ACTION, LABEL, EMOJI = "vary", "Variations", "🔀"

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        state = self.decoded.state
        await post_grid(service, interaction, state.with_face(state.face.variation(1)), self.decoded.notice())


class MorphButton(FaceButton, template=_template("morph")):
    ACTION, LABEL, EMOJI = "morph", "Morph to new face", "🌀"

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        end = Recipe(service.new_seed())
        await post_morph(service, interaction, self.decoded.state, end, MORPH_FRAMES, self.decoded.notice())


class EditButton(FaceButton, template=_template("edit")):
    ACTION, LABEL, EMOJI = "edit", "Edit", "✏️"

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        await open_editor(service, interaction, self.decoded)


class DetailsButton(FaceButton, template=_template("details")):
    ACTION, LABEL, EMOJI = "details", "Details", "ℹ️"

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        service.count(interaction, "answered")
        await tell(interaction, details_text(service.faces, self.decoded, self.owner))


class DeleteButton(FaceButton, template=_template("delete")):
    ACTION, LABEL, EMOJI, STYLE = "delete", "Delete", "🗑️", discord.ButtonStyle.danger

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not await super().interaction_check(interaction):
            return False
        if interaction.user.id != self.owner:
            count(interaction, "invalid")
            await tell(interaction, f"Only <@{self.owner}> can delete this.")
            return False
        return True

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        await interaction.response.defer()
        try:
            await interaction.delete_original_response()
        except discord.HTTPException as e:
            log.warning("delete failed: %s", e)
            service.count(interaction, "failed")
            await tell(interaction, "⚠️ Discord would not delete that message just now. Please try again.")
        else:
            service.count(interaction, "answered")


class PickButton(
    FaceButton, template=rf"{PREFIX}:pick(?P<number>[1-{GRID}]):(?P<state>[^:]{{0,90}}):(?P<owner>[^:]{{0,25}})"
):
    """One face of a grid of variations or children, posted as a face of its own (with every face
    button) for anyone to carry on from. Its custom_id carries the grid's first face and its number."""

    ACTION, LABEL, EMOJI = "pick", "", None

    def __init__(self, custom_id: str, decoded: Decoded | None = None, owner: int = 0, error: str = ""):
        super().__init__(custom_id, decoded, owner, error)
        self.number = int(custom_id.split(":")[1].removeprefix("pick"))  # the template let only 1-4 through
        self.item.label = str(self.number)

    @classmethod
    def for_face(cls, state: FaceState, owner: int, faces: Faces, number: int = 1) -> PickButton:
        return cls(_face_id(f"pick{number}", state, owner, faces), Decoded(state, [], False), owner)

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        state = self.decoded.state
        await post_face(
            service, interaction, state.with_face(state.face.sibling(self.number - 1)), self.decoded.notice()
        )


class MoreButton(FaceButton, template=_template("more")):
    """The next grid of the same face's variations (or the same parents' children)."""

    ACTION, LABEL, EMOJI = "more", "More like these", "🔁"

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        state = self.decoded.state
        await post_grid(service, interaction, state.with_face(state.face.sibling(GRID)), self.decoded.notice())


FACE_BUTTONS = (RerollButton, VariationsButton, MorphButton, EditButton, DetailsButton, DeleteButton)
GRID_BUTTONS = (PickButton, MoreButton)  # and Delete


def face_view(state: FaceState, owner: int, faces: Faces) -> discord.ui.View:
    """The six buttons under a face."""
    return _view([cls.for_face(state, owner, faces) for cls in FACE_BUTTONS])


def grid_view(state: FaceState, owner: int, faces: Faces) -> discord.ui.View:
    """Under a grid (`state`: its first face): pick 1-4, More like these, Delete."""
    picks = [PickButton.for_face(state, owner, faces, number) for number in range(1, GRID + 1)]
    return _view([*picks, *(cls.for_face(state, owner, faces) for cls in (MoreButton, DeleteButton))])


def result_view(state: FaceState, owner: int, faces: Faces) -> discord.ui.View:
    """Under morphs and animations: their requester can delete them."""
    return _view([DeleteButton.for_face(state, owner, faces)])


def _view(buttons: list[FaceButton]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(button)
    # The registered DynamicItem classes answer every press, so discord.py need not keep this view
    # in memory: a finished view is sent but not stored (a stored one per posted face would grow forever).
    view.stop()
    return view


def known(custom_id: str) -> bool:
    """Whether one of the face buttons or the editor's components will pick this custom_id up."""
    items = (*FACE_BUTTONS, *GRID_BUTTONS, *EDITOR_ITEMS)
    return any(cls.__discord_ui_compiled_template__.fullmatch(custom_id) for cls in items)


def details_text(faces: Faces, decoded: Decoded, owner: int) -> str:
    """What Details shows: every setting of the face, and the command that draws it again."""
    state = decoded.state
    lines = [f"**Code** `{state.face}`", f"**Truncation** {state.truncation:g}", f"**Requested by** <@{owner}>"]
    for name in faces.attributes:
        value = state.edits.get(name)
        lines.append(f"**{name}** {'-' if value is None else _value(value)}")
    face = f"seed:{state.face}" if state.face.is_seed else f"code:{state.face}"
    options = [face] + ([f"truncation:{state.truncation:g}"] if state.truncation != 1.0 else [])
    options += [f"{k}:{_value(v)}" for k, v in state.edits.items()]
    lines.append(f"Recreate it: `/face {' '.join(options)}`")
    if decoded.notice():
        lines.append(decoded.notice())
    return "\n".join(lines)


def _value(v: float | str) -> str:
    return f"{v:+g}" if isinstance(v, float) else v
