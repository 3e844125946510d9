"""A small fake Discord (REST + gateway websocket) on 127.0.0.1, for running the real bot process.

It answers the calls discord.py makes to log in, sync commands and connect a shard, records every
REST request the bot sends (with uploaded files), and lets a test deliver gateway events such as
INTERACTION_CREATE. Only what the bot uses is implemented; anything else is answered 404 and
recorded, so a test sees it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import WSMsgType, web

from bot.settings import ENV_NAMES
from tests.conftest import ROOT

APP_ID = "100000000000000001"
USER = "400000000000000001"  # who sends an interaction unless told
QUEUE_NOTES = ("⏳ Your picture is in", "🎨 Drawing")  # the bot's progress notes: not an answer
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


def _text(obj) -> str:
    return orjson.dumps(obj).decode()


def _json(obj, status: int = 200) -> web.Response:
    """JSON with exactly 'application/json' as content type: discord.py parses nothing else."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def _form(data: bytes, content_type: str) -> tuple[dict | None, dict[str, bytes]]:
    """The payload_json and the files of a multipart/form-data body. Parsed by hand: aiohttp's
    reader (and its content-type property) cost the fake more under a load test than all else."""
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
    status: int = 200  # what the fake answered
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


class FakeDiscord:
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
        self._ids = itertools.count(200000000000000000)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.faults: list[Fault] = []
        self.messages: dict[str, dict] = {}  # every message the bot posted, by id
        self._sources: dict[str, dict] = {}  # interaction token -> the message whose component it used

    def fail(self, method: str, path: str, status: int = 500, times: int = 1) -> None:
        """Make matching REST calls fail (path is an fnmatch pattern, e.g. '/webhooks/*')."""
        self.faults.append(Fault(method, path, status, times))

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

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
            return _json(
                [{**c, "id": str(next(self._ids)), "application_id": APP_ID, "version": "1"} for c in rec.json]
            )
        if m == "POST" and p.startswith("/interactions/") and p.endswith("/callback"):
            kind = rec.json["type"]
            flags = (rec.json.get("data") or {}).get("flags", 0)
            resource = {"type": kind}
            if kind == 4:  # a message: echo it back as the created message
                resource["message"] = rec.message = self._message(Request(m, p, rec.json.get("data") or {}, rec.files))
            elif kind == 7:  # the message whose component was used, redrawn: the same id and flags, new content
                source = self._sources.get(p.split("/")[3], {})
                data = {"flags": source.get("flags", 0), **(rec.json.get("data") or {})}
                resource["message"] = rec.message = self._message(Request(m, p, data, rec.files), source.get("id"))
            return _json(
                {
                    "interaction": {
                        "id": p.split("/")[2],
                        "type": 2,
                        "response_message_loading": kind == 5,
                        "response_message_ephemeral": bool(flags & 64),
                    },
                    "resource": resource,
                }
            )
        if m in ("POST", "PATCH") and p.startswith(f"/webhooks/{APP_ID}/"):
            if not self.acks(p.split("/")[3]):  # as Discord: no follow-up or edit before a first response
                rec.status = 404
                return _json({"message": "Unknown Webhook", "code": 10015}, status=404)
            return _json(self._message(rec))
        if m == "DELETE" and p.startswith(f"/webhooks/{APP_ID}/"):
            return web.Response(status=204)
        return _json({"message": f"fake Discord has no route {m} {p}", "code": 0}, status=404)

    def _message(self, rec: Request, message_id: str | None = None) -> dict:
        """The message a request creates (or, given its id, replaces), recorded in `messages`."""
        body = rec.json or {}
        message = {
            "id": message_id or str(next(self._ids)),
            "channel_id": "300000000000000001",
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
            "embeds": [],
            "components": body.get("components", []),
            "flags": body.get("flags", 0),
            "attachments": [
                {
                    "id": str(next(self._ids)),
                    "filename": name,
                    "size": len(data),
                    "url": f"https://cdn.invalid/{name}",
                    "proxy_url": f"https://cdn.invalid/{name}",
                }
                for name, data in rec.files.items()
            ],
        }
        self.messages[message["id"]] = rec.message = message
        return message

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
                if r.json["type"] in (4, 7) and not r.content.startswith(QUEUE_NOTES):
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
        return ws

    async def send_raw(self, frame: str, shard: int = 0) -> None:
        """Send one gateway frame exactly as given (for example one that is not JSON)."""
        await self.shards[shard].send_str(frame)

    async def dispatch(self, event: str, data: dict, shard: int = 0) -> None:
        assert shard in self.shards, f"shard {shard} has not connected"
        await self.shards[shard].send_json({"op": 0, "t": event, "s": next(self._seq), "d": data}, dumps=_text)

    async def slash(self, name: str, options: dict, user_id: str = "400000000000000001", shard: int = 0) -> str:
        """Deliver a DM slash-command interaction; returns its token."""
        kinds = {int: 4, float: 10, str: 3}
        data = {
            "id": "500000000000000001",
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": kinds[type(v)], "value": v} for k, v in options.items()],
        }
        return await self._interaction(2, data, user_id, shard)

    async def click(
        self, message: dict, custom_id: str, user_id: str = "400000000000000001", on_message: bool = True
    ) -> str:
        """Deliver a button press on a message the bot posted (custom_id need not be one of its
        buttons: a forged press, shown on the message unless `on_message` is False); returns its token."""
        data = {"custom_id": custom_id, "component_type": 2}
        listed = any(c.get("custom_id") == custom_id for row in message["components"] for c in row["components"])
        if on_message and not listed:
            row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "forged", "custom_id": custom_id}]}
            message = {**message, "components": [*message["components"], row]}
        return await self._interaction(3, data, user_id, message=message)

    async def choose(
        self, message: dict, custom_id: str, values: list[str], user_id: str = "400000000000000001"
    ) -> str:
        """Deliver a choice in a select menu of a message the bot posted; returns its token."""
        data = {"custom_id": custom_id, "component_type": 3, "values": values}
        return await self._interaction(3, data, user_id, message=message)

    async def _interaction(self, kind: int, data: dict, user_id: str, shard: int = 0, **extra) -> str:
        interaction_id = str(next(self._ids))
        token = f"interaction-token-{interaction_id}"
        if "message" in extra:
            self._sources[token] = extra["message"]
        user = {"id": user_id, "username": "alice", "discriminator": "0", "global_name": "alice", "avatar": None}
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
                "channel_id": "300000000000000001",
                "channel": {"id": "300000000000000001", "type": 1, "recipients": [user]},
                "user": user,
                "locale": "en-US",
                "app_permissions": "0",
                "entitlements": [],
                "authorizing_integration_owners": {"1": user_id},
                "context": 1,
                "attachment_size_limit": 26214400,
            },
            shard,
        )
        return token


async def start_bot(
    env: dict, output: int | None = asyncio.subprocess.PIPE, prelude: str = ""
) -> asyncio.subprocess.Process:
    """Run `python -m bot` on the CPU with only the given bot settings: none inherited from this shell,
    and none from a developer's .env (every setting is present, empty unless given, and python-dotenv
    never overrides a variable that is already set, so a real token there is never used).
    `prelude` is Python run first in the bot's process (fault injection: a slow or hung generator)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "EXPRESSIONS_"))}
    unset = dict.fromkeys(ENV_NAMES.values(), "")
    stderr = asyncio.subprocess.STDOUT if output == asyncio.subprocess.PIPE else output
    launch = (
        ["-m", "bot"]
        if not prelude
        else ["-c", f"{prelude}\nimport runpy\nrunpy.run_module('bot', run_name='__main__')"]
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *launch,
        cwd=str(ROOT),
        env={**clean, **unset, "EXPRESSIONS_DEVICE": "cpu", **env},
        stdout=output,
        stderr=stderr,
    )
