"""The buttons under every face. Persistent: each custom_id carries the face's whole state and
its requester, and the bot registers the button class in setup_hook, so buttons on old messages
keep working after a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from .state import FaceState

if TYPE_CHECKING:
    from .app import ExpressionsBot

ACTIONS = {  # action -> (label, emoji, style)
    "reroll": ("Reroll", "🎲", discord.ButtonStyle.primary),
    "vary": ("Variations", "🔀", discord.ButtonStyle.secondary),
    "morph": ("Morph to new face", "🌀", discord.ButtonStyle.secondary),
    "details": ("Details", "ℹ️", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
}


class FaceButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"xp:(?P<action>reroll|vary|morph|details|delete):(?P<state>[0-9a-zA-Z.]+):(?P<owner>[0-9]+)",
):
    def __init__(self, action: str, state: FaceState, owner: int, names: list[str]):
        label, emoji, style = ACTIONS[action]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"xp:{action}:{state.encode(names)}:{owner}"
            )
        )
        self.action, self.state, self.owner = action, state, owner

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> FaceButton:
        names = interaction.client.faces.attributes
        return cls(match["action"], FaceState.decode(match["state"], names), int(match["owner"]), names)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ExpressionsBot = interaction.client  # type: ignore[assignment]
        await bot.on_button(interaction, self.action, self.state, self.owner)


def face_view(state: FaceState, owner: int, names: list[str]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(FaceButton(action, state, owner, names))
    return view
