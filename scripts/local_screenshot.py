"""The README's screenshot of the local channel: `/face seed:42 smiling:+2 glasses:on`, then Edit.

Needs Debian's chromium and chromium-driver (and fonts-noto-color-emoji for the buttons' emoji):
    python scripts/local_screenshot.py -o docs/local/channel.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.bot_process import local_channel  # noqa: E402
from tests.browser import ChannelPage, chromium  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/local/channel.png"))
    args = parser.parse_args()
    with local_channel() as channel, chromium(900, 1200) as driver:
        page = ChannelPage(driver, channel.url)
        page.type("/face seed:42 smiling:+2 glasses:on")
        face = page.until(lambda: page.message(r"^seed 42 · smiling \+2"), "the face")
        page.click(face, "Edit")
        page.until(lambda: page.message(r"^✏️ Editing seed 42"), "the editor")
        page.type("/face ", enter=False)  # the options the next command offers, as one types it
        driver.save_screenshot(str(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
