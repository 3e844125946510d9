"""`python -m bot --local`: the real bot process, the Discord stand-in and the channel page on 127.0.0.1.

The page's websocket is driven here as the page drives it (commands typed as text, buttons, menus,
two users, a restart of the bot); tests/test_local_browser.py drives the page itself in Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import socket

import aiohttp
import orjson
import pytest
from PIL import Image

from bot.discord_standin import DiscordStandIn
from bot.local import USERS, CommandError, parse_command
from tests.bot_process import local_channel, start_bot

YOU, FRIEND = (u["id"] for u in USERS)


class Page:
    """One open page: its websocket, and every event it was sent."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws, self.events = ws, []
        self.cursor = 0  # events before it were matched by an earlier wait, or passed over by it
        self.reader = asyncio.create_task(self._read())
        self.new = asyncio.Event()

    async def _read(self) -> None:
        async for msg in self.ws:
            self.events.append(orjson.loads(msg.data))
            self.new.set()

    async def send(self, user: str = YOU, **ask) -> None:
        await self.ws.send_str(orjson.dumps({**ask, "user": user}).decode())

    async def wait(self, predicate, timeout: float = 60) -> dict:
        """The first event after the last one waited for that matches."""
        async with asyncio.timeout(timeout) as deadline:
            deadline.events = self.events  # shown in the traceback of a wait that timed out
            while True:
                for i, event in enumerate(self.events[self.cursor :], self.cursor):
                    if predicate(event):
                        self.cursor = i + 1
                        return event
                self.new.clear()
                await self.new.wait()

    async def message(self, predicate, timeout: float = 60) -> dict:
        event = await self.wait(lambda e: e["type"] == "message" and predicate(e["message"]), timeout)
        return event["message"]

    async def notice(self, user: str = YOU) -> str:
        return (await self.wait(lambda e: e["type"] == "notice" and e["for"] == user))["text"]


@contextlib.asynccontextmanager
async def page():
    """`python -m bot --local` and a page open on it, once the bot is online: (the page, an HTTP session)."""
    with local_channel() as channel:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{channel.url}/channel") as ws:
            opened = Page(ws)
            await opened.wait(lambda e: e["type"] in ("hello", "status") and e["online"], 90)
            yield opened, session
            opened.reader.cancel()


def button(message: dict, label: str) -> str:
    return next(c["custom_id"] for row in message["components"] for c in row["components"] if c.get("label") == label)


async def picture(session: aiohttp.ClientSession, message: dict) -> Image.Image:
    (attachment,) = message["attachments"]
    async with session.get(attachment["url"]) as r:
        assert r.status == 200
        return Image.open(io.BytesIO(await r.read()))


async def test_a_face_edited_posted_and_morphed_through_the_page():
    async with page() as (p, session):
        await p.send(type="command", text="/face seed:42")
        face = await p.message(lambda m: m["content"].startswith("seed 42") and m["attachments"])
        assert face["origin"]["name"] == "face" and face["origin"]["user"]["id"] == YOU and face["for"] is None
        assert (await picture(session, face)).size == (256, 256)

        await p.send(type="click", message_id=face["id"], custom_id=button(face, "Edit"), message=face)
        editor = await p.message(lambda m: m["content"].startswith("✏️"))
        assert editor["for"] == YOU, "the editor is for its user alone"
        menu = editor["components"][0]["components"][0]
        smiling = next(o["value"] for o in menu["options"] if o["label"].startswith("smiling"))
        await p.send(type="select", message_id=editor["id"], custom_id=menu["custom_id"], values=[smiling])
        editor = await p.message(lambda m: m["id"] == editor["id"] and "**smiling** is 0" in m["content"])
        for shown in ("+0.5", "+1"):
            before = editor
            await p.send(type="click", message_id=editor["id"], custom_id=button(editor, "+0.5"), message=editor)
            editor = await p.message(
                lambda m, s=shown, i=editor["id"]: m["id"] == i and f"**smiling** is {s}" in m["content"]
            )
            async with session.get(before["attachments"][0]["url"]) as r:
                assert r.status == 404, "a redrawn picture's old file is not kept"
        await p.send(type="click", message_id=editor["id"], custom_id=button(editor, "Post"), message=editor)
        posted = await p.message(lambda m: m["for"] is None and "smiling +1" in m["content"] and m["attachments"])
        assert button(posted, "Edit") and button(posted, "Variations")

        await p.send(type="command", text="/morph seed_a:1 seed_b:2 frames:4")
        morph = await p.message(lambda m: m["attachments"] and m["attachments"][0]["filename"].endswith(".gif"))
        gif = await picture(session, morph)
        assert gif.format == "GIF" and gif.n_frames == 6  # 4 forth, 2 back


async def test_the_page_refuses_what_discord_would():
    async with page() as (p, _):
        for text, said in [
            ("/face seed:-1", "seed must be from 0 to"),
            ("/face smilng:+2", "/face has no option 'smilng'"),
            ("/face smiling:9", "smiling must be from -3 to 3"),
            ("/face glasses:maybe", "glasses must be one of on, off"),
            ("/morph seed_a:1", "/morph needs seed_b"),
            ("/fcae", "There is no command /fcae"),
            ("hello", "Type a command"),
        ]:
            await p.send(type="command", text=text)
            assert said in await p.notice(), text
        await p.ws.send_str("not json")
        assert "cannot read" in await p.notice()
        await p.send(type="click", message_id="1", custom_id="xp:edit:42")
        assert await p.notice() == "That message is gone."
        await p.send(user="400000000000000099", type="command", text="/face")
        assert "Choose a user" in await p.notice()


async def test_a_second_user_sees_no_private_message_and_cannot_delete_yours():
    async with page() as (p, _):
        await p.send(type="command", text="/morph seed_a:1 seed_b:2 frames:2")
        morph = await p.message(lambda m: m["attachments"] and m["attachments"][0]["filename"].endswith(".gif"))
        await p.send(FRIEND, type="click", message_id=morph["id"], custom_id=button(morph, "Delete"), message=morph)
        refusal = await p.message(lambda m: m["content"].startswith("Only"))
        assert refusal["for"] == FRIEND and f"<@{YOU}>" in refusal["content"]
        await p.send(FRIEND, type="click", message_id=refusal["id"], custom_id="x", message=refusal)
        assert await p.notice(FRIEND) == "That button is not on the message."

        await p.send(type="command", text="/face seed:3")
        face = await p.message(lambda m: m["content"].startswith("seed 3") and m["attachments"])
        await p.send(type="click", message_id=face["id"], custom_id=button(face, "Edit"), message=face)
        editor = await p.message(lambda m: m["content"].startswith("✏️"))
        menu = editor["components"][0]["components"][0]
        await p.send(FRIEND, type="select", message_id=editor["id"], custom_id=menu["custom_id"], values=["sm"])
        assert await p.notice(FRIEND) == "That message is not yours."

        await p.send(type="click", message_id=morph["id"], custom_id=button(morph, "Delete"), message=morph)
        await p.wait(lambda e: e["type"] == "delete" and e["id"] == morph["id"])


async def test_old_buttons_work_after_the_bot_restarts():
    async with page() as (p, _):
        await p.send(type="command", text="/face seed:7")
        face = await p.message(lambda m: m["content"].startswith("seed 7") and m["attachments"])
        await p.send(type="restart")
        await p.wait(lambda e: e["type"] == "status" and not e["online"])
        await p.send(type="command", text="/face")
        assert (await p.notice()).startswith("The application did not respond")
        await p.wait(lambda e: e["type"] == "status" and e["online"], 90)
        await p.send(type="click", message_id=face["id"], custom_id=button(face, "Variations"), message=face)
        grid = await p.message(lambda m: m["content"].startswith("Variations 1–4 of seed 7") and m["attachments"])
        assert grid["origin"]["user"]["id"] == YOU


async def test_buttons_from_before_the_channel_restarted_still_work():
    """The page keeps its messages when the whole local channel restarts; their buttons carry all they need."""
    async with page() as (p, _):
        await p.send(type="command", text="/face seed:5")
        face = await p.message(lambda m: m["content"].startswith("seed 5") and m["attachments"])
    async with page() as (p, _):
        await p.send(type="click", message_id=face["id"], custom_id=button(face, "Details"), message=face)
        details = await p.message(lambda m: "**Code**" in m["content"])
        assert details["for"] == YOU and "`/face seed:5`" in details["content"]


async def test_it_listens_on_this_machine_alone():
    with local_channel() as channel:
        url = channel.url
        port = int(url.rsplit(":", 1)[1])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/", headers={"Host": f"faces.example.com:{port}"}) as r:
                assert r.status == 403, "a page elsewhere that renames itself to 127.0.0.1 is refused"
            async with session.get(f"{url}/") as r:
                assert r.status == 200 and "<title>" in await r.text()
        for address in other_addresses():
            with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
                pass


def other_addresses() -> list[str]:
    """This machine's addresses other than loopback (the one a UDP socket would send from, and its name's)."""
    found = set()
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))  # sends nothing: only picks the outgoing interface
        found.add(s.getsockname()[0])
    with contextlib.suppress(OSError):
        found.update(socket.gethostbyname_ex(socket.gethostname())[2])
    return [a for a in found if not a.startswith("127.")]


async def test_the_standin_binds_loopback_only():
    standin = DiscordStandIn()
    await standin.start()
    try:
        assert standin.addresses and all(address[0] == "127.0.0.1" for address in standin.addresses)
    finally:
        await standin.stop()


@pytest.mark.parametrize(
    "args, said",
    [(("--local", "--port", "70000"), "--port must be from 0 to 65535"), (("--locale",), "usage: python -m bot")],
)
async def test_a_bad_command_line_is_one_clear_line(args, said):
    proc = await start_bot({}, args=args)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2 and said in out.decode()


def test_a_second_channel_on_a_taken_port_says_so_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def run() -> tuple[int, str]:
            proc = await start_bot({}, args=("--local", "--port", str(port)))
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
            return proc.returncode, out.decode()

        code, out = asyncio.run(run())
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in out and "--port" in out


COMMANDS = [
    {
        "name": "face",
        "id": "1",
        "description": "Draw a face",
        "options": [
            {"name": "seed", "type": 4, "min_value": 0, "max_value": 10},
            {"name": "code", "type": 3, "min_length": 1, "max_length": 5},
            {"name": "smiling", "type": 10, "min_value": -3, "max_value": 3},
            {"name": "glasses", "type": 3, "choices": [{"name": "on", "value": "on"}, {"name": "off", "value": "off"}]},
            {"name": "fast", "type": 5},
        ],
    },
    {"name": "morph", "id": "2", "description": "Morph", "options": [{"name": "seed_a", "type": 3, "required": True}]},
]


@pytest.mark.parametrize(
    "text, options",
    [
        ("/face", []),
        ("/face seed:3 smiling:+2 glasses:on", [("seed", 4, 3), ("smiling", 10, 2.0), ("glasses", 3, "on")]),
        ("/FACE code:'42v3' fast:True", [("code", 3, "42v3"), ("fast", 5, True)]),
        ("/morph seed_a:42x17c2", [("seed_a", 3, "42x17c2")]),
    ],
)
def test_a_command_line_becomes_typed_options(text, options):
    command, parsed = parse_command(text, COMMANDS)
    assert command["name"] == text.split()[0][1:].lower()
    assert [(o["name"], o["type"], o["value"]) for o in parsed] == options
    assert all(type(o["value"]) is type(v) for o, (_, _, v) in zip(parsed, options, strict=True))


@pytest.mark.parametrize(
    "text, said",
    [
        ("", "Type a command"),
        ("/", "Type a command"),
        ("/face seed:11", "seed must be from 0 to 10"),
        ("/face seed:1.5", "seed must be a whole number"),
        ("/face smiling:nan", "smiling must be a finite number"),
        ("/face smiling:inf", "smiling must be a finite number"),
        ("/face code:toolong", "code must be 1 to 5 characters long"),
        ("/face code:", "code must be 1 to 5 characters long"),
        ("/face seed:1 seed:2", "Give seed once"),
        ("/face seed", "name:value"),
        ("/face fast:yes", "fast must be true or false"),
        ("/face code:'42", "unclosed quote"),
        ("/morph", "/morph needs seed_a"),
        ("/draw", "There is no command /draw. Commands: /face, /morph."),
    ],
)
def test_a_bad_command_line_is_refused_with_its_reason(text, said):
    with pytest.raises(CommandError, match=re.escape(said)):
        parse_command(text, COMMANDS)
