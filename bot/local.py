"""`python -m bot --local` (or `expressions-local`): try the real bot in a browser, without Discord.

It starts the Discord stand-in (bot/discord_standin.py) on 127.0.0.1, runs the real `python -m bot`
process against it (the same cog, buttons, editor, queue and metrics as on Discord), and serves one
channel of it as a web page (bot/local_page.html) at the address it prints. In the page, slash commands
are typed as in Discord (`/face smiling:+2 glasses:on`) and checked against the options the bot
registered, as Discord's client checks them; buttons and menus are pressed as interactions; ephemeral
messages show for their user alone, and a second user can be switched to. If the bot process stops,
it is started again and the page reconnects; the buttons of older messages keep working.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import secrets
import shlex
import signal
import sys
from collections.abc import Callable
from importlib.resources import files

import orjson
from aiohttp import WSMsgType, web

from .discord_standin import EPHEMERAL, HOST, USER, DiscordStandIn, user_payload
from .heap import keep_freed_buffers
from .settings import ENV_NAMES

DEFAULT_PORT = 8750
USERS = ({"id": USER, "name": "you"}, {"id": "400000000000000002", "name": "friend"})
NO_RESPONSE_S = 3.0  # as Discord: an interaction not answered by then "did not respond"
RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0)  # between restarts of a bot process that keeps stopping
CONFIG_ERROR = 2  # the bot's exit code for a setting or model it cannot use: restarting will not help
PAGE = "local_page.html"
UNREADABLE = "The page sent something this channel cannot read."
NO_RESPONSE = "The application did not respond."  # Discord's words


class CommandError(ValueError):
    """A command line the channel refuses before it reaches the bot, as Discord's client would (str: why)."""


# --- commands typed in the page -------------------------------------------------------------------
def parse_command(text: str, commands: list[dict]) -> tuple[dict, list[dict]]:
    """`/face seed:42 smiling:+2` -> (the registered command, its typed options), checked against the
    command's registration: its options, their types, ranges, lengths and choices, and which are needed."""
    try:
        words = shlex.split(text.strip())
    except ValueError as e:
        raise CommandError(f"That line has an unclosed quote ({e}).") from None
    if not words or not words[0].startswith("/") or len(words[0]) == 1:
        raise CommandError("Type a command, such as /face seed:42 smiling:+2 glasses:on")
    by_name = {c["name"]: c for c in commands}
    command = by_name.get(words[0][1:].lower())
    if command is None:
        known = ", ".join(f"/{n}" for n in by_name) or "none yet (the bot is still starting)"
        raise CommandError(f"There is no command {words[0]}. Commands: {known}.")
    declared = {o["name"]: o for o in command.get("options", [])}
    options: dict[str, dict] = {}
    for word in words[1:]:
        name, colon, raw = word.partition(":")
        if not colon or not name:
            raise CommandError(f"Give each option as name:value (got {word!r}).")
        if name not in declared:
            raise CommandError(f"/{command['name']} has no option {name!r}. Its options: {', '.join(declared)}.")
        if name in options:
            raise CommandError(f"Give {name} once.")
        option = declared[name]
        options[name] = {"name": name, "type": option["type"], "value": _value(option, raw)}
    missing = [n for n, o in declared.items() if o.get("required") and n not in options]
    if missing:
        raise CommandError(f"/{command['name']} needs {' and '.join(missing)}.")
    return command, list(options.values())


def _value(option: dict, raw: str) -> object:
    """An option's value from its text, refused as Discord's client refuses it."""
    name, kind = option["name"], option["type"]
    if kind == 3:  # string
        value: object = raw
        lo, hi = option.get("min_length", 0), option.get("max_length", 6000)
        if not lo <= len(raw) <= hi:
            raise CommandError(f"{name} must be {lo} to {hi} characters long.")
    elif kind in (4, 10):  # integer, number
        try:
            number = int(raw) if kind == 4 else float(raw)
        except ValueError:
            raise CommandError(
                f"{name} must be {'a whole number' if kind == 4 else 'a number'}, not {raw!r}."
            ) from None
        if not math.isfinite(number):
            raise CommandError(f"{name} must be a finite number.")
        lo, hi = option.get("min_value", -math.inf), option.get("max_value", math.inf)
        if not lo <= number <= hi:
            raise CommandError(f"{name} must be from {lo:g} to {hi:g}.")
        value = number
    elif kind == 5:  # boolean
        if raw.lower() not in ("true", "false"):
            raise CommandError(f"{name} must be true or false.")
        value = raw.lower() == "true"
    else:
        raise CommandError(f"{name} is an option this channel cannot send.")
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise CommandError(f"{name} must be one of {', '.join(str(c['value']) for c in choices)}.")
    return value


# --- the bot process --------------------------------------------------------------------------------
class BotProcess:
    """The real `python -m bot`, pointed at the stand-in, started again whenever it stops."""

    def __init__(self, url: str, token: str, on_status):
        self.url, self.token, self.on_status = url, token, on_status
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False
        self.restarting = False
        self.stopped_why = ""  # set when it stopped for good

    def env(self) -> dict[str, str]:
        """This shell's settings (and the .env the bot reads), but the token and the address of the
        stand-in, and none of a multi-process deployment's shard settings."""
        shards = ("shard_count", "shard_ids", "dev_guild")
        return {
            **os.environ,
            **{ENV_NAMES[s]: "" for s in shards},
            ENV_NAMES["token"]: self.token,
            ENV_NAMES["fake_discord_url"]: self.url,
        }

    async def run(self) -> None:
        failures = 0
        while not self.stopping:
            # a session of its own: Ctrl-C in the terminal reaches this process alone, which then asks the bot
            # once to stop (a second signal would make the bot exit at once, dropping what it is drawing)
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env=self.env(), start_new_session=True
            )
            code = await self.proc.wait()
            if self.stopping:
                return
            if self.restarting:
                self.restarting, failures = False, 0
                continue
            if code == CONFIG_ERROR:
                self.stopped_why = "the bot stopped: it cannot start with these settings (see the terminal)"
                self.on_status(self.stopped_why)
                return
            delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
            failures += 1
            self.on_status(f"the bot stopped (exit {code}); starting it again in {delay:g} s")
            await asyncio.sleep(delay)

    async def restart(self) -> None:
        """Stop it gently (SIGTERM: it finishes what it is drawing); `run` starts it again."""
        if self.proc is not None and self.proc.returncode is None:
            self.restarting = True
            self.on_status("restarting the bot")
            self.proc.send_signal(signal.SIGTERM)

    async def stop(self) -> None:
        self.stopping = True
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()


# --- the page -------------------------------------------------------------------------------------
class LocalChannel:
    """The web page of one channel of the stand-in, and its websocket to every open page."""

    def __init__(self, standin: DiscordStandIn):
        self.standin = standin
        self.pages: set[web.WebSocketResponse] = set()
        self.status = "starting the bot"
        self.bot: BotProcess | None = None
        self._tasks: set[asyncio.Task] = set()  # sends and timers in flight (the loop keeps only weak references)
        standin.watchers.append(self._changed)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._page)
        app.router.add_get("/channel", self._socket)

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=files(__package__).joinpath(PAGE).read_text("utf-8"), content_type="text/html")

    # what each page is told ---------------------------------------------------------------------
    def view(self, message: dict) -> dict:
        """A message as the page shows it: with who caused it, and whom alone it is for if ephemeral."""
        origin = self.standin.origins.get(message["id"])
        private = bool(message.get("flags", 0) & EPHEMERAL)
        return {
            **message,
            "origin": origin,
            "for": (origin or {"user": {"id": USER}})["user"]["id"] if private else None,
        }

    def _changed(self, event: dict) -> None:
        if event["type"] == "message":
            event = {"type": "message", "message": self.view(event["message"])}
        elif event["type"] == "status":
            self.status = "online" if event["online"] else self.status_when_offline()
            event = {"type": "status", "online": event["online"], "text": self.status}
        self._send(event)

    def status_when_offline(self) -> str:
        if self.bot is not None and (self.bot.stopped_why or self.bot.restarting):
            return self.bot.stopped_why or "restarting the bot"
        return "the bot is offline"

    def bot_status(self, text: str) -> None:
        self.status = text
        self._send({"type": "status", "online": self.standin.online, "text": text})

    def _send(self, event: dict) -> None:
        data = orjson.dumps(event).decode()
        for ws in list(self.pages):
            self._spawn(_write(ws, data))

    def hello(self) -> dict:
        return {
            "type": "hello",
            "users": list(USERS),
            "commands": self.standin.commands,
            "messages": [self.view(m) for m in self.standin.messages.values()],
            "online": self.standin.online,
            "text": "online" if self.standin.online else self.status,
        }

    # what a page asks ---------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            raise web.HTTPForbidden(text="this channel is for pages served by it")
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.pages.add(ws)
        try:
            await ws.send_str(orjson.dumps(self.hello()).decode())
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                ask = None
                try:
                    ask = orjson.loads(msg.data)
                    user = _known_user(ask.get("user"))
                    await self.handle(ask, user)
                except (CommandError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
                    text = str(e) if isinstance(e, CommandError) else UNREADABLE
                    notice = {"type": "notice", "for": _asker(ask), "text": text}
                    await ws.send_str(orjson.dumps(notice).decode())
        finally:
            self.pages.discard(ws)
        return ws

    async def handle(self, ask: dict, user: dict) -> None:
        """One thing a page asks: a command, a button, a menu choice, or a restart of the bot."""
        kind = ask["type"]
        if kind == "restart":
            if self.bot is not None:
                await self.bot.restart()
            return
        if kind == "command":
            command, options = parse_command(ask["text"], self.standin.commands)
            data = {"id": command["id"], "name": command["name"], "type": 1, "options": options}
            await self._deliver(2, data, user)
            return
        if kind in ("click", "select"):
            message = self._message(ask, user)
            component = _component(message, ask["custom_id"])
            data: dict = {"custom_id": ask["custom_id"], "component_type": component["type"]}
            if kind == "select":
                values = [str(v) for v in ask["values"]]
                allowed = {o["value"] for o in component.get("options", [])}
                if not values or not set(values) <= allowed:
                    raise CommandError("Choose one of the menu's options.")
                data["values"] = values
            await self._deliver(3, data, user, message=message)
            return
        raise CommandError(f"This channel does not know {kind!r}.")

    def _message(self, ask: dict, user: dict) -> dict:
        """The message whose button or menu was used: the channel's own copy, or the page's copy of a
        message from before the channel restarted (its buttons carry all they need)."""
        message = self.standin.messages.get(str(ask["message_id"])) or ask.get("message")
        if not isinstance(message, dict) or str(message.get("id")) != str(ask["message_id"]):
            raise CommandError("That message is gone.")
        if message.get("flags", 0) & EPHEMERAL and self.view(message)["for"] not in (None, user["id"]):
            raise CommandError("That message is not yours.")
        return message

    async def _deliver(self, kind: int, data: dict, user: dict, **extra) -> None:
        if not self.standin.online:
            raise CommandError(f"{NO_RESPONSE} ({self.status})")
        try:
            token = await self.standin.interact(kind, data, user_payload(user["id"], user["name"]), **extra)
        except (ConnectionError, AssertionError):  # the bot's connection closed just now
            raise CommandError(f"{NO_RESPONSE} (the bot is offline)") from None
        self._spawn(self._expect_answer(token, user["id"]))

    async def _expect_answer(self, token: str, user_id: str) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.standin.interactions[token].answered.wait(), NO_RESPONSE_S)
            return
        self._send({"type": "notice", "for": user_id, "text": NO_RESPONSE})


async def _write(ws: web.WebSocketResponse, data: str) -> None:
    """Send to one page; a page closing meanwhile is no error (it gets everything again when it reconnects)."""
    if not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(data)


def _known_user(user_id: object) -> dict:
    if (user := _user(user_id)) is None:
        raise CommandError("Choose a user: you or friend.")
    return user


def _asker(ask: object) -> str:
    """Whom to tell that what they sent was refused (the first user if even that is unreadable)."""
    user = _user(ask.get("user")) if isinstance(ask, dict) else None
    return (user or USERS[0])["id"]


def _user(user_id: object) -> dict | None:
    return next((u for u in USERS if u["id"] == user_id), None)


def _component(message: dict, custom_id: object) -> dict:
    for row in message.get("components") or []:
        for component in row.get("components") or []:
            if component.get("custom_id") == custom_id:
                if component.get("disabled"):
                    raise CommandError("That button is disabled.")
                return component
    raise CommandError("That button is not on the message.")


@web.middleware
async def this_machine_only(request: web.Request, handler):
    """Refuse requests naming another host (a web page elsewhere rebinding its name to 127.0.0.1)."""
    if request.host.rsplit(":", 1)[0] not in (HOST, "localhost"):
        raise web.HTTPForbidden(text="the local channel answers requests to 127.0.0.1 only")
    return await handler(request)


# --- running it -----------------------------------------------------------------------------------
async def serve(port: int, ready: Callable[[str], None]) -> None:
    """Run the stand-in, the page and the bot until a signal; `ready(url)` is called once listening."""
    standin = DiscordStandIn(token=secrets.token_urlsafe(24))
    channel = LocalChannel(standin)
    app = web.Application(client_max_size=64 * 2**20, middlewares=[this_machine_only])
    channel.routes(app)
    url = await standin.start(app, port)
    bot = channel.bot = BotProcess(url, standin.token, channel.bot_status)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready(url)
    running = asyncio.create_task(bot.run())
    try:
        await stop.wait()
    finally:
        await bot.stop()
        running.cancel()
        await standin.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot --local", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be from 0 to 65535, got {args.port}")

    keep_freed_buffers()

    def ready(url: str) -> None:
        print(f"Expressions local channel: {url}/  (open it in a browser; Ctrl-C stops it)", flush=True)

    try:
        asyncio.run(serve(args.port, ready))
    except OSError as e:
        print(
            f"error: cannot listen on {HOST}:{args.port} ({e.strerror or e}); try --port 0 for any free port",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
