"""The one bounded-whole-number check every config, file and argument of the gan package uses."""

from __future__ import annotations

from collections.abc import Mapping


def is_whole(value: object, lo: int, hi: int) -> bool:
    """Whether value is an int (not a bool) from lo to hi."""
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def check_limits(config: object, limits: Mapping[str, tuple[int, int]]) -> None:
    """ValueError naming the first field of config outside its (lo, hi) limits."""
    for name, (lo, hi) in limits.items():
        value = getattr(config, name)
        if not is_whole(value, lo, hi):
            raise ValueError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
