"""Expressions on Discord: slash commands, buttons, rendering and the inference queue."""

from .app import ExpressionsBot, create_bot

__all__ = ["ExpressionsBot", "create_bot"]
