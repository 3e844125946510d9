"""Answering an interaction so that the user always sees something, whichever REST call fails.

Discord allows one response per interaction, then follow-ups; any of those calls can fail (a 400
for one message, a 5xx after discord.py's own retries). These helpers try the next way of saying
it, and only log once every way has failed, so no interaction is left on "thinking...".
"""

from __future__ import annotations

import logging

import discord

log = logging.getLogger(__name__)
FAILED = "Sorry, something went wrong while drawing that. Please try again."
UNDELIVERED = "⚠️ I drew it, but Discord would not take the message. Please try again in a moment."


async def tell(interaction: discord.Interaction, text: str, *, ephemeral: bool = True) -> bool:
    """Say `text`: as the response if none was sent yet, else as a follow-up; False if both failed."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=ephemeral)
            return True
    except discord.HTTPException as e:
        log.warning("response failed (%s); trying a follow-up", e)
    try:
        await interaction.followup.send(text, ephemeral=ephemeral)
        return True
    except discord.HTTPException as e:
        log.error("could not tell the user anything (interaction %s): %s", interaction.id, e)
        return False


async def deliver(interaction: discord.Interaction, content: str, fallback: str = UNDELIVERED, **message) -> bool:
    """Post a deferred interaction's result; if Discord refuses it, put `fallback` where the
    "thinking..." (or the queue note) was, or else in a follow-up. True if the result was posted."""
    try:
        await interaction.followup.send(content, **message)
        return True
    except discord.HTTPException as e:
        log.warning("follow-up refused (%s); telling the user instead", e)
    try:
        await interaction.edit_original_response(content=fallback, attachments=[], view=None)
    except discord.HTTPException:
        await tell(interaction, fallback)
    return False


async def best_effort(what: str, call) -> bool:
    """A call whose failure must not change the outcome (the queue note); False if it failed."""
    try:
        await call
        return True
    except discord.HTTPException as e:
        log.info("%s failed (%s); carrying on", what, e)
        return False
