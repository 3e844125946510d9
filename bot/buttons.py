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

from .drawing import DrawingService, count, service_of
from .editor import EDITOR_ITEMS, open_editor
from .logs import bind
from .posts import post_face, post_morph, post_variations
from .replies import FAILED, tell
from .state import Decoded, FaceState, decode

log = logging.getLogger(__name__)
PREFIX = "xp"
BROKEN = "This button is damaged or from another bot, so I can't tell which face it belongs to. Try /face."


def _template(action: str) -> str:
    return rf"{PREFIX}:{action}:(?P<state>[^:]{{0,90}}):(?P<owner>[^:]{{0,25}})"


class FaceButton(discord.ui.DynamicItem[discord.ui.Button], template=_template("[a-z]+")):
    """What every face button shares: reading its custom_id, and always answering."""

    ACTION: ClassVar[str]
    LABEL: ClassVar[str]
    EMOJI: ClassVar[str]
    STYLE: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary

    def __init__(self, custom_id: str, decoded: Decoded | None = None, owner: int = 0, error: str = ""):
        super().__init__(discord.ui.Button(label=self.LABEL, emoji=self.EMOJI, style=self.STYLE, custom_id=custom_id))
        self.decoded, self.owner, self.error = decoded, owner, error

    @classmethod
    def for_face(cls, state: FaceState, owner: int, faces: Faces) -> FaceButton:
        return cls(f"{PREFIX}:{cls.ACTION}:{state.encode(faces)}:{owner}", Decoded(state, [], False), owner)

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
        except Exception:  # noqa: BLE001 - logged; the user still gets an answer
            log.exception("button %s failed", self.custom_id)
            count(interaction, "failed")
            await tell(interaction, f"⚠️ {FAILED}")

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        raise NotImplementedError


class RerollButton(FaceButton, template=_template("reroll")):
    ACTION, LABEL, EMOJI, STYLE = "reroll", "Reroll", "🎲", discord.ButtonStyle.primary

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        s = self.decoded.state
        await post_face(
            service, interaction, FaceState(service.new_seed(), s.truncation, s.edits), self.decoded.notice()
        )


class VariationsButton(FaceButton, template=_template("vary")):
    ACTION, LABEL, EMOJI = "vary", "Variations", "🔀"

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        await post_variations(service, interaction, self.decoded.state, self.decoded.notice())


class MorphButton(FaceButton, template=_template("morph")):
    ACTION, LABEL, EMOJI = "morph", "Morph to new face", "🌀"

    async def run(self, interaction: discord.Interaction, service: DrawingService) -> None:
        state, seed_b = self.decoded.state, service.new_seed()
        await post_morph(service, interaction, state, seed_b, MORPH_FRAMES, self.decoded.notice())


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


FACE_BUTTONS = (RerollButton, VariationsButton, MorphButton, EditButton, DetailsButton, DeleteButton)


def face_view(state: FaceState, owner: int, faces: Faces) -> discord.ui.View:
    """The six buttons under a face."""
    return _view(FACE_BUTTONS, state, owner, faces)


def result_view(state: FaceState, owner: int, faces: Faces) -> discord.ui.View:
    """Under variations and morphs: their requester can delete them."""
    return _view((DeleteButton,), state, owner, faces)


def _view(buttons: tuple[type[FaceButton], ...], state: FaceState, owner: int, faces: Faces) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for cls in buttons:
        view.add_item(cls.for_face(state, owner, faces))
    # The registered DynamicItem classes answer every press, so discord.py need not keep this view
    # in memory: a finished view is sent but not stored (a stored one per posted face would grow forever).
    view.stop()
    return view


def known(custom_id: str) -> bool:
    """Whether one of the face buttons or the editor's components will pick this custom_id up."""
    return any(cls.__discord_ui_compiled_template__.fullmatch(custom_id) for cls in (*FACE_BUTTONS, *EDITOR_ITEMS))


def details_text(faces: Faces, decoded: Decoded, owner: int) -> str:
    """What Details shows: every setting of the face, and the command that draws it again."""
    state = decoded.state
    lines = [f"**Seed** {state.seed}", f"**Truncation** {state.truncation:g}", f"**Requested by** <@{owner}>"]
    for name in faces.attributes:
        value = state.edits.get(name)
        lines.append(f"**{name}** {'-' if value is None else _value(value)}")
    options = [f"seed:{state.seed}"] + ([f"truncation:{state.truncation:g}"] if state.truncation != 1.0 else [])
    options += [f"{k}:{_value(v)}" for k, v in state.edits.items()]
    lines.append(f"Recreate it: `/face {' '.join(options)}`")
    if decoded.notice():
        lines.append(decoded.notice())
    return "\n".join(lines)


def _value(v: float | str) -> str:
    return f"{v:+g}" if isinstance(v, float) else v
