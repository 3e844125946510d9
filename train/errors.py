"""The one exception type of the training library, and the CLI boundary that turns it into a message.

A TrainError is a problem the user can fix (a missing file, a mismatched flag, a bad pack); every
`python -m train.*` command prints it as one `error: ...` line and exits with code 2.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from gan import CheckpointError


class TrainError(Exception):
    """str(e) is the whole message meant for the user."""


def cli(main: Callable[[list[str] | None], None]) -> Callable[[list[str] | None], int]:
    """Wrap a command's main(argv): 0 when it returns, 2 with a one-line message on a user error."""

    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        try:
            main(argv)
        except (TrainError, CheckpointError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0

    return run
