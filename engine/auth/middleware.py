"""ASGI middleware: every request must be SigV4-signed by a Tailor access key allowed to call
the route's service.

Pure ASGI (no BaseHTTPMiddleware): the body is read once, verified, and replayed to the app.
The verified key is put on `scope["state"]["access_key"]` (`request.state.access_key`).

Paths: the signature covers the path the client sent, which is ASGI's `raw_path` (the full
path, percent-encoded, including any mount prefix such as `/api`). Starlette's `Mount` does not
strip its prefix from `scope["path"]` (since 0.33 it only appends it to `scope["root_path"]`),
so `root_path + path` would repeat the prefix; without `raw_path` the full path is `path` when
it starts with `root_path`. Exemptions and `service_of` see the route path, relative to
`root_path` (`/recommendations` when the middleware wraps the app mounted at `/api`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from engine.auth.keys import KeyStore
from engine.auth.sigv4 import AuthError, authorize, error_response, service_for_path, verify

log = logging.getLogger("tailor.auth")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

DEFAULT_EXEMPT = ("/health", "/docs", "/openapi.json")
#: Largest request body read before verification (Personalize's own requests are small).
DEFAULT_MAX_BODY = 64 * 1024 * 1024


def route_path(scope: Scope) -> str:
    """The path relative to the app's mount point (as Starlette's routing sees it)."""
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and (path == root or path.startswith(root.rstrip("/") + "/")):
        return path[len(root.rstrip("/")) :] or "/"
    return path or "/"


def signed_path(scope: Scope) -> str:
    """The full path as the client sent (and signed) it, still percent-encoded."""
    raw = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1")
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and not (path == root or path.startswith(root.rstrip("/") + "/")):
        path = root.rstrip("/") + path  # servers that strip the mount prefix from `path`
    return quote(path, safe="/~")


def _is_exempt(path: str, exempt: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in exempt)


class _BodyTooLarge(Exception):
    pass


class SigV4Middleware:
    """Authenticate (SigV4) and authorize (key role vs. route's service) every HTTP request.

    - `store_provider`: a KeyStore, or a callable returning the KeyStore to use (or None while
      the server is starting: requests then get 503).
    - `service_of(route_path) -> service`: which Personalize API a route belongs to
      (default `sigv4.service_for_path`; unknown routes count as control plane, admin only).
    - `exempt`: route-path prefixes served without authentication.
    - `now`: a clock for tests.
    """

    def __init__(
        self,
        app: Any,
        store_provider: KeyStore | Callable[[], KeyStore | None],
        service_of: Callable[[str], str] = service_for_path,
        *,
        exempt: Iterable[str] = DEFAULT_EXEMPT,
        max_body: int = DEFAULT_MAX_BODY,
        now: Callable[[], Any] | None = None,
    ) -> None:
        self.app = app
        if isinstance(store_provider, KeyStore):
            store = store_provider
            self.store_provider: Callable[[], KeyStore | None] = lambda: store
        else:
            self.store_provider = store_provider
        self.service_of = service_of
        self.exempt = tuple(exempt)
        self.max_body = max_body
        self.now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or _is_exempt(route_path(scope), self.exempt):
            await self.app(scope, receive, send)
            return
        if kind == "websocket":  # no SDK signs websocket upgrades: refuse
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return

        headers = scope.get("headers", [])
        if not any(name.lower() == b"authorization" for name, _ in headers):
            await self._reject(
                scope,
                receive,
                send,
                AuthError(
                    "MissingAuthenticationTokenException", "Missing Authentication Token", 403
                ),
            )
            return
        try:
            body = await self._read_body(headers, receive)
        except _BodyTooLarge:
            await self._reject(
                scope,
                receive,
                send,
                AuthError(
                    "RequestEntityTooLargeException",
                    f"The request body is larger than {self.max_body} bytes.",
                    413,
                ),
            )
            return
        except _Disconnected:
            return

        try:
            store = self.store_provider()
            if store is None:
                raise AuthError("ServiceUnavailable", "Tailor is starting; try again", 503)
            key = verify(
                scope.get("method", "GET"),
                signed_path(scope),
                scope.get("query_string", b""),
                headers,
                body,
                store,
                now=self.now() if self.now else None,
            )
            authorize(key, self.service_of(route_path(scope)))
        except AuthError as exc:
            await self._reject(scope, receive, send, exc)
            return

        scope.setdefault("state", {})["access_key"] = key
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, headers: list[tuple[bytes, bytes]], receive: Receive) -> bytes:
        for name, value in headers:
            if name.lower() == b"content-length":
                try:
                    if int(value) > self.max_body:
                        raise _BodyTooLarge
                except ValueError:
                    pass
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, exc: AuthError) -> None:
        # Never log credentials: the code, method and path only.
        log.info(
            "refused %s %s: %s (%s)",
            scope.get("method"),
            scope.get("path"),
            exc.code,
            exc.status,
        )
        await error_response(exc)(scope, receive, send)


class _Disconnected(Exception):
    pass


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that yields the buffered body once, then defers to the server's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
