"""Expressions on Discord: slash commands, buttons, rendering and the inference queue."""

from .app import ExpressionsBot, create_bot
from .settings import Settings

__all__ = ["ExpressionsBot", "Settings", "create_bot"]
