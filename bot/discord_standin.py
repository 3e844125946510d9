"""A Discord stand-in on 127.0.0.1: the REST API and gateway the bot uses, and one channel's messages.

The real bot process (`python -m bot` with EXPRESSIONS_FAKE_DISCORD_URL) logs in, syncs its commands,
connects its shards and answers interactions against it exactly as against Discord. The stand-in keeps
what a Discord channel shows: the messages the bot posted, edited and deleted (with their pictures,
buttons and menus, ephemeral ones for their user alone), and the commands the bot registered. The
local channel (bot/local.py) shows them in a web page; the wire tests deliver interactions and read
every REST request it recorded. Only what the bot uses is implemented; anything else is answered 404
and recorded. It listens on 127.0.0.1 alone and cannot be told otherwise.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import WSMsgType, web

HOST = "127.0.0.1"  # this machine only: nothing here is meant for another
APP_ID = "100000000000000001"
DISCORD_EPOCH_MS = 1420070400000
CHANNEL_ID = "300000000000000001"
USER = "400000000000000001"  # who sends an interaction unless told
QUEUE_NOTES = ("⏳ Your picture is in", "🎨 Drawing")  # the bot's progress notes: not an answer
EPHEMERAL, LOADING = 64, 128  # message flags: seen by its user alone; a deferred "thinking..."
MAX_MESSAGES = 500  # the channel keeps the newest (a long local session would otherwise grow forever)
BOT_USER = {
    "id": APP_ID,
    "username": "expressions",
    "discriminator": "0",
    "global_name": "Expressions",
    "avatar": None,
    "bot": True,
    "flags": 0,
    "verified": True,
    "mfa_enabled": False,
}
# response types (Discord's numbers): the ones that post or redraw a message
MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE = 4, 5, 6, 7
OPTION_TYPES = {3: str, 4: int, 5: bool, 10: float}  # string, integer, boolean, number


def _text(obj) -> str:
    return orjson.dumps(obj).decode()


def _json(obj, status: int = 200) -> web.Response:
    """JSON with exactly 'application/json' as content type: discord.py parses nothing else."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def _form(data: bytes, content_type: str) -> tuple[dict | None, dict[str, bytes]]:
    """The payload_json and the files of a multipart/form-data body. Parsed by hand: aiohttp's
    reader (and its content-type property) cost the stand-in more under a load test than all else."""
    boundary = b"--" + content_type.split("boundary=", 1)[1].split(";")[0].strip('"').encode()
    body, files = None, {}
    for part in data.split(boundary)[1:-1]:  # before the first: nothing; after the last: "--"
        head, _, content = part.partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        disposition = next(h for h in head.decode().split("\r\n") if h.lower().startswith("content-disposition"))
        fields = dict(_param(p) for p in disposition.split(";")[1:])
        if fields["name"] == "payload_json":
            body = orjson.loads(content)
        else:
            files[fields.get("filename") or fields["name"]] = content
    return body, files


def _param(text: str) -> tuple[str, str]:
    key, _, value = text.strip().partition("=")
    return key, value.strip('"')


@dataclass
class Request:
    method: str
    path: str
    json: dict | list | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    status: int = 200  # what the stand-in answered
    message: dict | None = None  # the message it created or edited, if any
    at: float = field(default_factory=time.perf_counter)
    client_port: int = 0  # the bot's end of the connection it came on

    @property
    def content(self) -> str:
        """The text the user sees: a callback's message data, or a webhook call's body."""
        body = (self.json or {}).get("data") or {} if self.path.endswith("/callback") else self.json or {}
        return body.get("content", "")


@dataclass
class Fault:
    """Answer `times` requests matching method and path (fnmatch) with `status` instead."""

    method: str
    path: str
    status: int
    times: int = 1


@dataclass
class Interaction:
    """What the stand-in remembers of an interaction it delivered: who, what, and its message."""

    user: dict
    name: str  # the command's name, or "" for a button or menu
    source: dict | None = None  # the message whose button or menu was used
    original: str | None = None  # the id of the message its response created or redrew
    answered: asyncio.Event = field(default_factory=asyncio.Event)


class DiscordStandIn:
    def __init__(self, token: str = "fake-token", listener: Callable[[Request], None] | None = None, shards: int = 1):
        self.token = token
        self.shard_count = shards  # what /gateway/bot advises
        self.listener = listener  # called with each request as it arrives (benchmarks time with it)
        self.requests: list[Request] = []
        self.new_request = asyncio.Condition()
        self.identified = asyncio.Event()  # set when any shard has identified
        self.shards: dict[int, web.WebSocketResponse] = {}  # shard id -> its connection
        self.intents: dict[int, int] = {}  # shard id -> the gateway intents it identified with
        self._seq = itertools.count(1)
        self._ids = itertools.count(snowflake())  # ids grow with time, as Discord's: a restart never reuses one
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.faults: list[Fault] = []
        self.messages: dict[str, dict] = {}  # the channel: every message the bot posted and has not deleted, by id
        self.files: dict[str, tuple[str, bytes]] = {}  # attachment id -> its file name and bytes
        self.commands: list[dict] = []  # the slash commands the bot registered last
        self.interactions: dict[str, Interaction] = {}  # interaction token -> what it was
        self.origins: dict[str, dict] = {}  # message id -> the user and command of the interaction it answers
        self.watchers: list[Callable[[dict], None]] = []  # told of each change to the channel (bot/local.py)

    def fail(self, method: str, path: str, status: int = 500, times: int = 1) -> None:
        """Make matching REST calls fail (path is an fnmatch pattern, e.g. '/webhooks/*')."""
        self.faults.append(Fault(method, path, status, times))

    def routes(self, app: web.Application) -> None:
        """Add the stand-in's routes (REST, gateway, attachments) to an aiohttp app."""
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{id}/{name}", self._attachment)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)

    async def start(self, app: web.Application | None = None, port: int = 0) -> str:
        """Listen on 127.0.0.1 (any free port unless given), serving `app` too if given; returns the URL."""
        app = app or web.Application(client_max_size=64 * 2**20)
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, port)
        await site.start()
        self.url = f"http://{HOST}:{site._server.sockets[0].getsockname()[1]}"
        return self.url

    @property
    def addresses(self) -> list[tuple]:
        """The addresses it listens on (a test checks they are this machine's alone)."""
        return [s.getsockname() for site in (self._runner.sites if self._runner else []) for s in site._server.sockets]

    async def stop(self) -> None:
        for ws in list(self.shards.values()):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- REST ---------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = None, {}
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            body, files = _form(await request.read(), content_type)
        elif request.can_read_body:
            body = await request.json(loads=orjson.loads)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        rec = Request(request.method, path, body, files, client_port=peer[1] if peer else 0)
        if self.listener is not None:
            self.listener(rec)
        async with self.new_request:
            self.requests.append(rec)
            self.new_request.notify_all()
        token_auth = path.startswith(("/interactions/", "/webhooks/"))  # authorised by the interaction token
        if not token_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            rec.status = 401
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        for fault in self.faults:
            if fault.times > 0 and fault.method in (rec.method, "*") and fnmatch.fnmatch(path, fault.path):
                fault.times -= 1
                rec.status = fault.status
                return _json({"message": f"{fault.status}: injected by the test", "code": 0}, status=fault.status)
        return self._answer(rec)

    def _answer(self, rec: Request) -> web.StreamResponse:
        m, p = rec.method, rec.path
        if m == "GET" and p == "/users/@me":
            return _json(BOT_USER)
        if m == "GET" and p == "/oauth2/applications/@me":
            return _json(
                {
                    "id": APP_ID,
                    "name": "Expressions",
                    "icon": None,
                    "description": "",
                    "summary": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "0" * 64,
                    "owner": BOT_USER,
                    "flags": 0,
                    "team": None,
                    "bot": BOT_USER,
                }
            )
        if m == "GET" and p in ("/gateway/bot", "/gateway"):
            return _json(
                {
                    "url": self.url.replace("http", "ws") + "/gateway",
                    "shards": self.shard_count,
                    "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
                }
            )
        if m == "PUT" and p.startswith(f"/applications/{APP_ID}/") and p.endswith("/commands"):
            self.commands = [
                {**c, "id": str(next(self._ids)), "application_id": APP_ID, "version": "1"} for c in rec.json
            ]
            self._tell({"type": "commands", "commands": self.commands})
            return _json(self.commands)
        if m == "POST" and p.startswith("/interactions/") and p.endswith("/callback"):
            return self._callback(rec, p.split("/")[3])
        if p.startswith(f"/webhooks/{APP_ID}/"):
            return self._webhook(rec, p.split("/")[3], p.split("/")[5] if p.count("/") >= 5 else None)
        return _json({"message": f"the Discord stand-in has no route {m} {p}", "code": 0}, status=404)

    def _callback(self, rec: Request, token: str) -> web.Response:
        """The interaction's one response: a message, a "thinking...", or its button's message redrawn."""
        kind = rec.json["type"]
        data = rec.json.get("data") or {}
        known = self.interactions.get(token)
        resource: dict = {"type": kind}
        if kind in (MESSAGE, DEFERRED_MESSAGE):
            flags = data.get("flags", 0) | (LOADING if kind == DEFERRED_MESSAGE else 0)
            message = self._post({**data, "flags": flags}, rec.files, known)
            resource["message"] = rec.message = message
            if known is not None:
                known.original = message["id"]
        elif kind in (UPDATE, DEFERRED_UPDATE) and known is not None and known.source is not None:
            if known.source["id"] not in self.messages:  # a button on a message from before a restart
                self._store(dict(known.source))
            if kind == UPDATE:
                resource["message"] = rec.message = self._edit(known.source["id"], data, rec.files)
            known.original = known.source["id"]
        elif kind == UPDATE:  # a redraw of a message the stand-in never saw: recorded, shown nowhere
            resource["message"] = rec.message = self._message(data, rec.files)
        if known is not None:
            known.answered.set()
        return _json(
            {
                "interaction": {
                    "id": rec.path.split("/")[2],
                    "type": 2,
                    "response_message_loading": kind == DEFERRED_MESSAGE,
                    "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
                },
                "resource": resource,
            }
        )

    def _webhook(self, rec: Request, token: str, message_id: str | None) -> web.Response:
        """Follow-ups (POST), edits (PATCH), reads (GET) and deletions (DELETE) by interaction token."""
        if not self.acks(token):  # as Discord: no follow-up or edit before a first response
            rec.status = 404
            return _json({"message": "Unknown Webhook", "code": 10015}, status=404)
        known = self.interactions.get(token)
        if message_id == "@original":
            message_id = known.original if known is not None else None
        known_message = message_id is not None and message_id in self.messages
        if rec.method == "DELETE":
            if known_message:
                self._forget(self.messages.pop(message_id))
                self._tell({"type": "delete", "id": message_id})
            return web.Response(status=204)
        if rec.method == "POST":
            rec.message = self._post(rec.json or {}, rec.files, known)
        elif rec.method == "PATCH" and known_message:
            rec.message = self._edit(message_id, rec.json or {}, rec.files)
        elif rec.method == "PATCH":  # an interaction the stand-in did not deliver (tests): a message of its own
            rec.message = self._message(rec.json or {}, rec.files)
        elif known_message:
            return _json(self.messages[message_id])
        else:
            rec.status = 404
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return _json(rec.message)

    # --- the channel's messages -----------------------------------------------------------------
    def _attachments(self, files: dict[str, bytes]) -> list[dict]:
        out = []
        for name, data in files.items():
            attachment_id = str(next(self._ids))
            self.files[attachment_id] = (name, data)
            url = f"{self.url}/attachments/{attachment_id}/{name}"
            out.append({"id": attachment_id, "filename": name, "size": len(data), "url": url, "proxy_url": url})
        return out

    def _message(self, body: dict, files: dict[str, bytes], known: Interaction | None = None) -> dict:
        """A new message from a request's body (not yet in the channel)."""
        message = {
            "id": str(next(self._ids)),
            "channel_id": CHANNEL_ID,
            "type": 0,
            "author": BOT_USER,
            "content": body.get("content", ""),
            "timestamp": "2026-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "embeds": body.get("embeds", []),
            "components": body.get("components", []),
            "flags": body.get("flags", 0),
            "attachments": self._attachments(files),
        }
        if known is not None:  # who caused it: the channel shows it above the message (not sent to the bot)
            self.origins[message["id"]] = {"user": known.user, "name": known.name}
        return message

    def _post(self, body: dict, files: dict[str, bytes], known: Interaction | None) -> dict:
        """A new message in the channel (a response or a follow-up)."""
        message = self._message(body, files, known)
        self._store(message)
        return message

    def _edit(self, message_id: str, body: dict, files: dict[str, bytes]) -> dict:
        """Edit a message as Discord does: only what the body names changes; `attachments` lists the
        old files to keep, and the uploaded ones are added; a deferred "thinking..." is answered."""
        message = dict(self.messages[message_id])
        for key in ("content", "components", "embeds"):
            if key in body:
                message[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        if "attachments" in body or files:
            kept = {a.get("id") for a in body.get("attachments", message["attachments"])}
            self._drop_files([a for a in message["attachments"] if a["id"] not in kept])
            message["attachments"] = [a for a in message["attachments"] if a["id"] in kept] + self._attachments(files)
        message["flags"] = message["flags"] & ~LOADING
        message["edited_timestamp"] = "2026-01-01T00:00:01+00:00"
        self._store(message)
        return message

    def _store(self, message: dict) -> None:
        self.messages[message["id"]] = message
        while len(self.messages) > MAX_MESSAGES:
            self._forget(self.messages.pop(next(iter(self.messages))))
        self._tell({"type": "message", "message": message})

    def _forget(self, message: dict) -> None:
        """What the stand-in kept beside a message that is gone: its files and who caused it."""
        self.origins.pop(message["id"], None)
        self._drop_files(message["attachments"])

    def _drop_files(self, attachments: list[dict]) -> None:
        for attachment in attachments:
            self.files.pop(attachment["id"], None)

    def _tell(self, event: dict) -> None:
        for watcher in list(self.watchers):
            watcher(event)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        name, data = self.files.get(request.match_info["id"], (None, b""))
        if name is None or name != request.match_info["name"]:
            raise web.HTTPNotFound()
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.Response(body=data, content_type=kind, headers={"Cache-Control": "max-age=86400"})

    # --- what an interaction got ----------------------------------------------------------------
    def acks(self, token: str) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/callback") and token in r.path and r.status < 400]

    def answers(self, token: str) -> list[Request]:
        """What the user of that interaction was finally shown: a response that is not the queue
        note, a follow-up, an edit of the original, or the deletion of the message (Delete)."""
        mine = [r for r in self.requests if token in r.path and r.status < 400]
        out = []
        for r in mine:
            if r.path.endswith("/callback"):
                if r.json["type"] in (MESSAGE, UPDATE) and not r.content.startswith(QUEUE_NOTES):
                    out.append(r)
            elif r.method in ("POST", "DELETE"):
                out.append(r)
            elif r.method == "PATCH" and not r.content.startswith(QUEUE_NOTES):
                out.append(r)
        return out

    async def wait_for(self, predicate, timeout: float = 60.0) -> Request:
        """The first recorded request matching predicate (waiting for it if need be)."""
        async with self.new_request:
            found = await asyncio.wait_for(
                self.new_request.wait_for(lambda: any(predicate(r) for r in self.requests)), timeout
            )
            assert found
            return next(r for r in self.requests if predicate(r))

    # --- gateway ------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}, "s": None, "t": None}, dumps=_text)
        shard = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = orjson.loads(msg.data)
                if data["op"] == 1:  # heartbeat
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None}, dumps=_text)
                elif data["op"] == 2:  # identify, as shard [id, count]
                    shard, count = data["d"].get("shard", [0, 1])
                    self.shards[shard] = ws
                    self.intents[shard] = data["d"]["intents"]
                    await self.dispatch(
                        "READY",
                        {
                            "v": 10,
                            "user": BOT_USER,
                            "guilds": [],
                            "session_id": "fake-session",
                            "resume_gateway_url": self.url.replace("http", "ws") + "/gateway",
                            "shard": [shard, count],
                            "application": {"id": APP_ID, "flags": 0},
                        },
                        shard,
                    )
                    self.identified.set()
                    self._tell({"type": "status", "online": True})
        finally:
            if shard is not None and self.shards.get(shard) is ws:
                del self.shards[shard]
                if not self.shards:
                    self.identified.clear()
                    self._tell({"type": "status", "online": False})
        return ws

    @property
    def online(self) -> bool:
        """Whether the bot has a shard connected."""
        return bool(self.shards)

    async def send_raw(self, frame: str, shard: int = 0) -> None:
        """Send one gateway frame exactly as given (for example one that is not JSON)."""
        await self.shards[shard].send_str(frame)

    async def dispatch(self, event: str, data: dict, shard: int = 0) -> None:
        assert shard in self.shards, f"shard {shard} has not connected"
        await self.shards[shard].send_json({"op": 0, "t": event, "s": next(self._seq), "d": data}, dumps=_text)

    # --- interactions -------------------------------------------------------------------------
    async def slash(
        self, name: str, options: dict, user_id: str = USER, shard: int = 0, username: str = "alice"
    ) -> str:
        """Deliver a DM slash-command interaction; returns its token."""
        kinds = {int: 4, float: 10, str: 3, bool: 5}
        data = {
            "id": next((c["id"] for c in self.commands if c["name"] == name), "500000000000000001"),
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": kinds[type(v)], "value": v} for k, v in options.items()],
        }
        return await self.interact(2, data, user_payload(user_id, username), shard)

    async def click(
        self, message: dict, custom_id: str, user_id: str = USER, on_message: bool = True, username: str = "alice"
    ) -> str:
        """Deliver a button press on a message the bot posted (custom_id need not be one of its
        buttons: a forged press, shown on the message unless `on_message` is False); returns its token."""
        data = {"custom_id": custom_id, "component_type": 2}
        listed = any(c.get("custom_id") == custom_id for row in message["components"] for c in row["components"])
        if on_message and not listed:
            row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "forged", "custom_id": custom_id}]}
            message = {**message, "components": [*message["components"], row]}
        return await self.interact(3, data, user_payload(user_id, username), message=message)

    async def choose(
        self, message: dict, custom_id: str, values: list[str], user_id: str = USER, username: str = "alice"
    ) -> str:
        """Deliver a choice in a select menu of a message the bot posted; returns its token."""
        data = {"custom_id": custom_id, "component_type": 3, "values": values}
        return await self.interact(3, data, user_payload(user_id, username), message=message)

    async def interact(self, kind: int, data: dict, user: dict, shard: int = 0, **extra) -> str:
        """Deliver an interaction of `kind` (2: a command, 3: a button or menu) from `user`; returns its token."""
        interaction_id = str(next(self._ids))
        token = f"interaction-token-{interaction_id}"
        self.interactions[token] = Interaction(user, data.get("name", ""), extra.get("message"))
        await self.dispatch(
            "INTERACTION_CREATE",
            {
                **extra,
                "id": interaction_id,
                "application_id": APP_ID,
                "type": kind,
                "token": token,
                "version": 1,
                "data": data,
                "channel_id": CHANNEL_ID,
                "channel": {"id": CHANNEL_ID, "type": 1, "recipients": [user]},
                "user": user,
                "locale": "en-US",
                "app_permissions": "0",
                "entitlements": [],
                "authorizing_integration_owners": {"1": user["id"]},
                "context": 1,
                "attachment_size_limit": 26214400,
            },
            shard,
        )
        return token


def snowflake() -> int:
    """An id as Discord makes them now: milliseconds since 2015 in the high bits."""
    return int(time.time() * 1000 - DISCORD_EPOCH_MS) << 22


def user_payload(user_id: str, name: str) -> dict:
    return {"id": user_id, "username": name, "discriminator": "0", "global_name": name, "avatar": None}
