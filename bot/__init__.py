"""Expressions on Discord: slash commands, buttons, rendering and the inference queue."""
