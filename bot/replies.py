"""Answering an interaction so that the user always sees something, whichever REST call fails.

Discord allows one response per interaction, then edits and follow-ups; any of those calls can
fail (a 400 for one message, a 5xx after discord.py's own retries). These helpers try the next
way of saying it, and only log once every way has failed, so no interaction is left on
"thinking..." or on its place in the queue.
"""

from __future__ import annotations

import logging

import discord

log = logging.getLogger(__name__)
FAILED = "Sorry, something went wrong while drawing that. Please try again."
UNDELIVERED = "⚠️ I drew it, but Discord would not take the message. Please try again in a moment."
REFUSED = "⚠️ Discord would not take my answer to that. Please try again in a moment."
# responses whose message the outcome replaces: the queue note, and a redraw in place deferred
EDITABLE = (discord.InteractionResponseType.channel_message, discord.InteractionResponseType.deferred_message_update)


async def tell(interaction: discord.Interaction, text: str, *, ephemeral: bool = True) -> bool:
    """Say `text`: as the response if none was sent yet, else as a follow-up; False if it could not.
    Discord takes no follow-up before a first response, so a refused response is followed by a short
    note as the response instead (False either way: the text itself was not said)."""
    if not interaction.response.is_done():
        try:
            await interaction.response.send_message(text, ephemeral=ephemeral)
            return True
        except discord.HTTPException as e:
            log.warning("response refused (%s); answering with a short note instead", e)
        try:
            await interaction.response.send_message(REFUSED, ephemeral=ephemeral)
        except discord.HTTPException as e:
            log.error("could not answer interaction %s at all: %s", interaction.id, e)
        return False
    try:
        await interaction.followup.send(text, ephemeral=ephemeral)
        return True
    except discord.HTTPException as e:
        log.error("could not tell the user anything (interaction %s): %s", interaction.id, e)
        return False


async def deliver(
    interaction: discord.Interaction,
    content: str,
    fallback: str = UNDELIVERED,
    *,
    ephemeral: bool = False,
    update: bool = False,
    **message,
) -> bool:
    """Post an interaction's outcome wherever it belongs now: as the response if none was sent yet
    (with `update`, by redrawing the message whose button was pressed; with `ephemeral`, seen by its
    user alone), over the queue note or the deferred redraw, or as the follow-up of a "thinking...".
    If Discord refuses it, `fallback` is said instead. True if the outcome itself was posted."""
    file = message.pop("file", None)
    new = {"file": file} if file else {}
    # an edit replaces the attachments, except a redraw's failure, which leaves the last picture up
    edit = {"attachments": [file] if file else []} if file or not update else {}
    try:
        if not interaction.response.is_done():
            if update:
                await interaction.response.edit_message(content=content, **edit, **message)
            else:
                await interaction.response.send_message(content, ephemeral=ephemeral, **new, **message)
        elif interaction.response.type in EDITABLE:
            await interaction.edit_original_response(content=content, **edit, **message)
        else:
            await interaction.followup.send(content, ephemeral=ephemeral, **new, **message)
        return True
    except discord.HTTPException as e:
        log.warning("Discord refused the outcome (%s); telling the user instead", e)
    if interaction.response.is_done():
        try:
            await interaction.edit_original_response(content=fallback, attachments=[], view=None)
            return False
        except discord.HTTPException:
            pass
    await tell(interaction, fallback, ephemeral=ephemeral)
    return False


async def best_effort(what: str, call) -> bool:
    """A call whose failure must not change the outcome (the queue note); False if it failed."""
    try:
        await call
        return True
    except discord.HTTPException as e:
        log.info("%s failed (%s); carrying on", what, e)
        return False
