"""Access keys and SigV4 verification, with real botocore-signed requests over HTTP.

A tiny Starlette app mirrors the server's layout: the JSON 1.1 control plane at `POST /api`
(a Route) and the REST APIs in an app mounted at `/api`, each wrapped in SigV4Middleware,
served by uvicorn on a free loopback port in a thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import botocore.session
import httpx
import pytest
import uvicorn
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from engine.auth import sigv4
from engine.auth.keys import ENV_KEY_ID, ENV_SECRET, AccessKey, KeyStore
from engine.auth.middleware import SigV4Middleware, route_path, signed_path
from engine.auth.sigv4 import AuthError, authorize, error_response, service_for_path, verify

REGION = "us-east-1"
SEEN: list[dict[str, Any]] = []


# -- the test server --------------------------------------------------------------------------


async def _ok(request: Request) -> JSONResponse:
    body = await request.body()
    SEEN.append(
        {
            "root_path": request.scope.get("root_path"),
            "path": request.scope["path"],
            "raw_path": request.scope.get("raw_path"),
            "query": request.scope.get("query_string"),
            "body": body,
            "key": request.state.access_key.access_key_id,
        }
    )
    return JSONResponse({}, media_type="application/x-amz-json-1.1")


async def _health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def _build_app(store: KeyStore) -> Starlette:
    inner = Starlette(
        routes=[
            Route("/", _ok, methods=["POST"]),
            Route("/recommendations", _ok, methods=["POST"]),
            Route("/events", _ok, methods=["POST"]),
            Route("/health", _health),
            Route("/raw/{rest:path}", _ok, methods=["GET", "POST"]),
        ]
    )
    control_plane = Starlette(routes=[Route("/api", _ok, methods=["POST"])])
    return Starlette(
        routes=[
            Route("/api", SigV4Middleware(control_plane, lambda: store), methods=["POST"]),
            Mount("/api", app=SigV4Middleware(inner, lambda: store)),
        ]
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def endpoint(store: KeyStore) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_build_app(store), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/api"
    server.should_exit = True
    thread.join(10)
    sock.close()


def _client(service: str, endpoint: str, key_id: str, secret: str, **config: Any) -> Any:
    return botocore.session.get_session().create_client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


def _for(service: str, endpoint: str, key: AccessKey) -> Any:
    return _client(service, endpoint, key.access_key_id, key.secret_access_key)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def _status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def admin(store: KeyStore) -> AccessKey:
    return store.create("admin", "admin")


@pytest.fixture(scope="module")
def runtime_key(store: KeyStore) -> AccessKey:
    return store.create("web", "runtime")


@pytest.fixture(scope="module")
def events_key(store: KeyStore) -> AccessKey:
    return store.create("tracker", "events")


def _recommend(client: Any) -> dict[str, Any]:
    arn = "arn:aws:personalize:us-east-1:000000000000:campaign/c"
    return client.get_recommendations(campaignArn=arn, userId="u 1")


def _put_events(client: Any) -> dict[str, Any]:
    event = {"eventType": "click", "sentAt": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}
    return client.put_events(trackingId="t", sessionId="s", userId="u", eventList=[event])


# -- valid requests ---------------------------------------------------------------------------


def test_control_plane_signed_by_botocore(endpoint: str, admin: AccessKey) -> None:
    out = _for("personalize", endpoint, admin).list_dataset_groups()
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert SEEN[-1]["key"] == admin.access_key_id
    assert SEEN[-1]["body"] == b"{}"  # the buffered body is replayed to the app


def test_runtime_and_events_signed_by_botocore(
    endpoint: str, admin: AccessKey, runtime_key: AccessKey, events_key: AccessKey
) -> None:
    _recommend(_for("personalize-runtime", endpoint, runtime_key))
    assert SEEN[-1]["key"] == runtime_key.access_key_id
    assert json.loads(SEEN[-1]["body"])["userId"] == "u 1"
    _put_events(_for("personalize-events", endpoint, events_key))
    assert SEEN[-1]["key"] == events_key.access_key_id
    # admin may call everything
    _recommend(_for("personalize-runtime", endpoint, admin))
    _put_events(_for("personalize-events", endpoint, admin))


def test_mount_scope_keeps_full_path(endpoint: str, admin: AccessKey) -> None:
    """Starlette's Mount appends `/api` to root_path and leaves `path` whole."""
    _recommend(_for("personalize-runtime", endpoint, admin))
    seen = SEEN[-1]
    assert seen["root_path"] == "/api"
    assert seen["path"] == "/api/recommendations"
    assert seen["raw_path"] == b"/api/recommendations"
    scope = {k: seen[k] for k in ("root_path", "path", "raw_path")}
    assert route_path(scope) == "/recommendations"
    assert signed_path(scope) == "/api/recommendations"
    # root_path + path would repeat the prefix:
    assert scope["root_path"] + scope["path"] == "/api/api/recommendations"


def test_content_sha256_header_must_match_body(endpoint: str, admin: AccessKey) -> None:
    """x-amz-content-sha256 is honoured only when it is the body's real hash."""
    client = _for("personalize", endpoint, admin)
    good = {"h": ""}

    def add_header(request: AWSRequest, **_: Any) -> None:
        request.headers["X-Amz-Content-SHA256"] = good["h"]

    client.meta.events.register_first("request-created.personalize", add_header)
    good["h"] = hashlib.sha256(b"{}").hexdigest()
    client.list_dataset_groups()
    good["h"] = "UNSIGNED-PAYLOAD"
    with pytest.raises(ClientError) as exc:
        client.list_dataset_groups()
    assert _code(exc) == "XAmzContentSHA256Mismatch"


def test_tricky_path_and_query_over_the_wire(endpoint: str, admin: AccessKey) -> None:
    """Raw botocore-signed requests (urllib3 on the wire, uvicorn's raw_path) verify."""
    base = endpoint + "/raw/a%20b/%C3%A9t%C3%A9/x%3Dy/c~d/e%2Ff"
    for url, params in [
        (base, {}),
        (endpoint + "/raw/q", {"b": "2", "a": "x y", "k=": "v=/é", "plus": "1+1", "e": ""}),
        (endpoint + "/raw/q?z=1&a=%2F&a=%3D&m=%C3%A9", {}),
    ]:
        request = AWSRequest(
            method="POST",
            url=url,
            params=params,
            data=b'{"a": 1}',
            headers={"Content-Type": "application/json", "X-Amz-Target": " x   y "},
        )
        creds = Credentials(admin.access_key_id, admin.secret_access_key)
        SigV4Auth(creds, "personalize", REGION).add_auth(request)
        response = URLLib3Session().send(request.prepare())
        assert response.status_code == 200, response.content
        assert SEEN[-1]["body"] == b'{"a": 1}'
    assert SEEN[-1]["query"] == b"z=1&a=%2F&a=%3D&m=%C3%A9"


# -- refused requests -------------------------------------------------------------------------


def test_unknown_key(endpoint: str) -> None:
    client = _client("personalize", endpoint, "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    with pytest.raises(ClientError) as exc:
        client.list_dataset_groups()
    assert _code(exc) == "UnrecognizedClientException"
    assert _status(exc) == 403
    assert "security token included in the request is invalid" in str(exc.value)


def test_wrong_secret(endpoint: str, runtime_key: AccessKey) -> None:
    client = _client("personalize-runtime", endpoint, runtime_key.access_key_id, "y" * 40)
    with pytest.raises(ClientError) as exc:
        _recommend(client)
    assert _code(exc) == "InvalidSignatureException"
    assert _status(exc) == 403
    assert "does not match the signature you provided" in str(exc.value)


def _tampering(client: Any, change: Any) -> None:
    def before_send(request: Any, **_: Any) -> None:
        change(request)

    client.meta.events.register("before-send", before_send)


def _replace_body(request: Any) -> None:
    request.body = b'{"maxResults": 1}'
    request.headers["Content-Length"] = str(len(request.body))


def test_tampered_body(endpoint: str, admin: AccessKey) -> None:
    client = _for("personalize", endpoint, admin)
    _tampering(client, _replace_body)
    with pytest.raises(ClientError) as exc:
        client.list_dataset_groups()
    assert _code(exc) == "InvalidSignatureException"


def test_tampered_header(endpoint: str, admin: AccessKey) -> None:
    client = _for("personalize", endpoint, admin)

    def change(request: Any) -> None:
        request.headers["X-Amz-Target"] = "AmazonPersonalize.DeleteDatasetGroup"

    _tampering(client, change)
    with pytest.raises(ClientError) as exc:
        client.list_dataset_groups()
    assert _code(exc) == "InvalidSignatureException"


def test_tampered_path(endpoint: str, admin: AccessKey) -> None:
    """The path is signed: a request re-targeted to another route is refused."""
    client = _for("personalize-runtime", endpoint, admin)

    def change(request: Any) -> None:
        request.url = request.url.replace("/recommendations", "/events")

    _tampering(client, change)
    with pytest.raises(ClientError) as exc:
        _recommend(client)
    assert _code(exc) == "InvalidSignatureException"


@pytest.mark.parametrize(
    ("offset", "message"),
    [(-20, "Signature expired"), (20, "Signature not yet current")],
)
def test_request_time_off_by_more_than_15_minutes(
    endpoint: str, admin: AccessKey, offset: int, message: str
) -> None:
    client = _for("personalize", endpoint, admin)
    when = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=offset)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        with pytest.raises(ClientError) as exc:
            client.list_dataset_groups()
    assert _code(exc) == "InvalidSignatureException"
    assert _status(exc) == 403
    assert message in str(exc.value)


def test_request_time_within_15_minutes(endpoint: str, admin: AccessKey) -> None:
    client = _for("personalize", endpoint, admin)
    when = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        client.list_dataset_groups()


def test_missing_authorization(endpoint: str) -> None:
    response = httpx.post(endpoint, content=b"{}", headers={"X-Amz-Target": "x"})
    assert response.status_code == 403
    assert response.json() == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Missing Authentication Token",
    }
    client = _client("personalize", endpoint, "a", "b", signature_version=UNSIGNED)
    with pytest.raises(ClientError) as exc:
        client.list_dataset_groups()
    assert _code(exc) == "MissingAuthenticationTokenException"


def test_other_authorization_scheme(endpoint: str) -> None:
    response = httpx.post(endpoint + "/recommendations", headers={"Authorization": "Bearer x"})
    assert response.status_code == 400
    assert response.json()["__type"] == "IncompleteSignatureException"
    assert response.headers["x-amzn-errortype"] == "IncompleteSignatureException"


def test_health_is_exempt(endpoint: str) -> None:
    assert httpx.get(endpoint + "/health").status_code == 200
    assert httpx.get(endpoint + "/raw/health").status_code == 403


# -- roles ------------------------------------------------------------------------------------


def test_runtime_key_refused_on_control_plane(endpoint: str, runtime_key: AccessKey) -> None:
    with pytest.raises(ClientError) as exc:
        _for("personalize", endpoint, runtime_key).list_dataset_groups()
    assert _code(exc) == "AccessDeniedException"
    assert _status(exc) == 403
    with pytest.raises(ClientError) as exc:
        _put_events(_for("personalize-events", endpoint, runtime_key))
    assert _code(exc) == "AccessDeniedException"


def test_events_key_only_on_events(endpoint: str, events_key: AccessKey) -> None:
    _put_events(_for("personalize-events", endpoint, events_key))
    with pytest.raises(ClientError) as exc:
        _recommend(_for("personalize-runtime", endpoint, events_key))
    assert _code(exc) == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        _for("personalize", endpoint, events_key).list_dataset_groups()
    assert _code(exc) == "AccessDeniedException"


def test_service_for_path() -> None:
    assert service_for_path("/recommendations") == "personalize-runtime"
    assert service_for_path("/personalize-ranking/") == "personalize-runtime"
    assert service_for_path("/action-recommendations") == "personalize-runtime"
    for path in ("/events", "/items", "/users", "/actions", "/action-interactions"):
        assert service_for_path(path) == "personalize-events"
    assert service_for_path("/") == "personalize"
    assert service_for_path("") == "personalize"
    assert service_for_path("/anything/else") == "personalize"
    assert service_for_path("/api/events", prefix="/api") == "personalize-events"
    assert service_for_path("/api", prefix="/api") == "personalize"
    key = AccessKey("AKIAX", "s", "n", "runtime", dt.datetime.now(dt.UTC))
    authorize(key, "personalize-runtime")
    with pytest.raises(AuthError) as exc:
        authorize(key, "personalize")
    assert (exc.value.code, exc.value.status) == ("AccessDeniedException", 403)


# -- key store --------------------------------------------------------------------------------


def test_keys_file_mode_and_format(tmp_path: Any) -> None:
    old = os.umask(0)
    try:
        keys = KeyStore(tmp_path)
        key = keys.create("app", "runtime")
    finally:
        os.umask(old)
    path = tmp_path / "keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys.create("other", "events")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert key.access_key_id.startswith("AKIA") and len(key.access_key_id) == 20
    assert key.access_key_id[4:].isalnum() and key.access_key_id.isupper()
    assert len(key.secret_access_key) == 40
    doc = json.loads(path.read_text())
    assert {k["accessKeyId"] for k in doc["keys"]} == {i.access_key_id for i in keys.list()}
    # loosened by hand: put back to 0600 on the next read
    path.chmod(0o644)
    assert KeyStore(tmp_path).get(key.access_key_id) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValueError):
        keys.create("x", "root")


def test_list_get_revoke(tmp_path: Any) -> None:
    keys = KeyStore(tmp_path)
    a = keys.create("a", "admin")
    b = keys.create("b", "events")
    listed = keys.list()
    assert [i.access_key_id for i in listed] in (
        [a.access_key_id, b.access_key_id],
        [b.access_key_id, a.access_key_id],
    )
    assert all(not hasattr(i, "secret_access_key") for i in listed)
    assert a.secret_access_key not in json.dumps([i.to_dict() for i in listed])
    assert keys.get(b.access_key_id) == b
    assert keys.revoke(a.access_key_id) is True
    assert keys.revoke(a.access_key_id) is False
    assert keys.get(a.access_key_id) is None
    # another store on the same directory (e.g. the CLI) sees the change
    assert [i.access_key_id for i in KeyStore(tmp_path).list()] == [b.access_key_id]


def test_revoked_key_is_refused_by_running_server(endpoint: str, store: KeyStore) -> None:
    key = store.create("temp", "admin")
    client = _for("personalize", endpoint, key)
    client.list_dataset_groups()
    assert KeyStore(store.data_dir).revoke(key.access_key_id)  # as `tailor keys revoke` would
    with pytest.raises(ClientError) as exc:
        client.list_dataset_groups()
    assert _code(exc) == "UnrecognizedClientException"


def test_ensure_env_key(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = KeyStore(tmp_path)
    monkeypatch.delenv(ENV_KEY_ID, raising=False)
    monkeypatch.delenv(ENV_SECRET, raising=False)
    assert keys.ensure_env_key() is None
    monkeypatch.setenv(ENV_KEY_ID, "AKIAENVIRONMENT00001")
    assert keys.ensure_env_key() is None  # both or nothing
    monkeypatch.setenv(ENV_SECRET, "first-secret")
    key = keys.ensure_env_key()
    assert key is not None and key.role == "admin"
    assert keys.get("AKIAENVIRONMENT00001") == key
    before = (tmp_path / "keys").stat()
    assert keys.ensure_env_key() == key
    after = (tmp_path / "keys").stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    monkeypatch.setenv(ENV_SECRET, "second-secret")
    updated = keys.ensure_env_key()
    assert updated is not None and updated.secret_access_key == "second-secret"
    assert updated.created == key.created
    assert len(keys.list()) == 1
    monkeypatch.setenv(ENV_KEY_ID, "bad/id")
    with pytest.raises(ValueError):
        keys.ensure_env_key()


def test_env_key_signs_requests(
    endpoint: str, store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_KEY_ID, "tailor-local")
    monkeypatch.setenv(ENV_SECRET, "local-secret")
    store.ensure_env_key()
    _client("personalize", endpoint, "tailor-local", "local-secret").list_dataset_groups()
    assert store.revoke("tailor-local")


def test_secret_never_logged_or_shown(
    endpoint: str, store: KeyStore, caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    key = store.create("secretive", "runtime")
    secret = key.secret_access_key
    _recommend(_for("personalize-runtime", endpoint, key))
    for mutate in ("body", "role"):
        client = _for("personalize" if mutate == "role" else "personalize-runtime", endpoint, key)
        if mutate == "body":
            _tampering(client, _replace_body)
        with pytest.raises(ClientError) as exc:
            _recommend(client) if mutate == "body" else client.list_dataset_groups()
        assert secret not in str(exc.value)
    store.revoke(key.access_key_id)
    shown = [repr(key), str(key), f"{key}", repr(key.info), repr(store.list()), repr(store)]
    assert all(secret not in s for s in shown)
    assert "***" in repr(key)
    assert caplog.records, "expected Tailor to log key creation and refusals"
    assert secret not in caplog.text
    assert key.access_key_id in caplog.text
    out = capsys.readouterr()
    assert secret not in out.out + out.err


# -- canonical request vs. botocore -----------------------------------------------------------

NOW = dt.datetime(2024, 5, 1, 12, 0, 0)

TRICKY = [
    ("http://localhost:8000/api", {}),
    ("http://localhost:8000/", {}),
    ("http://localhost:8000/api/recommendations", {}),
    ("http://localhost:8000/api/a%20b/%C3%A9t%C3%A9/x%3Dy", {}),
    ("http://localhost:8000/api/a%2Fb/./c/../d//e/", {}),
    ("http://localhost:8000/api/~user/%7Euser/-_.!*'()", {}),
    ("http://localhost:8000/api", {"b": "2", "a": "x y", "k=": "v=/é", "é": "1+1"}),
    ("http://localhost:8000/api", [("a", "2"), ("a", "1"), ("a", "10"), ("e", "")]),
    ("http://localhost:8000/api?z=1&a=%2F&a=%3D&m=%C3%A9&flag", {}),
]
# botocore signs a URL it did not encode itself as sent (`/`, `=` unencoded in values):
LITERAL = [("http://localhost:8000/api?path=a/b&eq=x=y", {})]


def _signed(url: str, params: Any, headers: dict[str, str] | None = None) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        params=params,
        data=b'{"userId": "u"}',
        headers=headers
        or {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "  AmazonPersonalize.ListSolutions   now  ",
        },
    )
    creds = Credentials("AKIATESTTESTTEST0000", "s3cr3t/+=")
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        SigV4Auth(creds, "personalize", REGION).add_auth(request)
    return request


def _wire(request: AWSRequest) -> tuple[str, str, list[tuple[str, str]], bytes]:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()]
    headers.append(("Host", parts.netloc))
    return parts.path, parts.query, headers, prepared.body


@pytest.mark.parametrize(("url", "params"), TRICKY + LITERAL)
def test_canonical_request_matches_botocore(url: str, params: Any) -> None:
    request = _signed(url, params)
    expected = SigV4Auth(Credentials("a", "b"), "personalize", REGION).canonical_request(request)
    path, query, headers, body = _wire(request)
    pairs = sigv4.header_list(headers)
    signed = expected.split("\n")[-2].split(";")
    payload = sigv4._payload_hash(pairs, body)
    if (url, params) in LITERAL:
        canonical_query = sigv4.canonical_query_literal(query)
        assert canonical_query != sigv4.canonical_query_string(query)
    else:  # SigV4's decode-and-re-encode form is what botocore signs for encoded queries
        canonical_query = sigv4.canonical_query_string(query)
    built = sigv4.canonical_request("POST", path, canonical_query, pairs, signed, payload)
    assert built == expected


@pytest.mark.parametrize(("url", "params"), TRICKY + LITERAL)
def test_verify_accepts_botocore_signature(tmp_path: Any, url: str, params: Any) -> None:
    keys = KeyStore(tmp_path)
    with mock.patch.dict(os.environ, {ENV_KEY_ID: "AKIATESTTESTTEST0000", ENV_SECRET: "s3cr3t/+="}):
        keys.ensure_env_key()
    path, query, headers, body = _wire(_signed(url, params))
    now = NOW.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=14)
    assert verify("POST", path, query, headers, body, keys, now=now).role == "admin"
    # ...and rejects the same request with one byte changed anywhere
    for changed in (
        ("PUT", path, query, headers, body),
        ("POST", path + "x", query, headers, body),
        ("POST", path, query + "&x=1", headers, body),
        ("POST", path, query, headers, body + b" "),
        (
            "POST",
            path,
            query,
            [(k, v + "1" if k == "X-Amz-Target" else v) for k, v in headers],
            body,
        ),
    ):
        with pytest.raises(AuthError) as exc:
            verify(*changed, keys, now=now)
        assert exc.value.code == "InvalidSignatureException"


def test_date_header_instead_of_x_amz_date(tmp_path: Any) -> None:
    keys = KeyStore(tmp_path)
    key = keys.create("d", "admin")
    request = AWSRequest(method="POST", url="http://h:1/api", data=b"{}", headers={"Date": "x"})
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        SigV4Auth(
            Credentials(key.access_key_id, key.secret_access_key), "personalize", REGION
        ).add_auth(request)
    assert "X-Amz-Date" not in request.headers
    path, query, headers, body = _wire(request)
    verify("POST", path, query, headers, body, keys, now=NOW.replace(tzinfo=dt.UTC))


def test_malformed_authorization(tmp_path: Any) -> None:
    keys = KeyStore(tmp_path)
    key = keys.create("m", "admin")
    base = [("host", "h"), ("x-amz-date", "20240501T120000Z")]
    cases = {
        "": "MissingAuthenticationTokenException",
        "AWS4-HMAC-SHA256 Credential=x": "IncompleteSignatureException",
        f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/20240501/us-east-1/personalize, "
        "SignedHeaders=host, Signature=00": "IncompleteSignatureException",
        f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/20240501/us-east-1/personalize/"
        "aws4_request, SignedHeaders=x-amz-date, Signature=00": "IncompleteSignatureException",
        f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/20240502/us-east-1/personalize/"
        "aws4_request, SignedHeaders=host, Signature=00": "InvalidSignatureException",
        f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/20240501/us-east-1/s3/"
        "aws4_request, SignedHeaders=host, Signature=00": "InvalidSignatureException",
        f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/20240501/us-east-1/personalize/"
        "aws4_request, SignedHeaders=host;x-missing, Signature=é": "InvalidSignatureException",
    }
    now = NOW.replace(tzinfo=dt.UTC)
    for authorization, code in cases.items():
        headers = [*base, ("authorization", authorization)] if authorization else base
        with pytest.raises(AuthError) as exc:
            verify("POST", "/", "", headers, b"", keys, now=now)
        assert exc.value.code == code, authorization


def test_error_response_shape() -> None:
    response = error_response(AuthError("AccessDeniedException", "no", 403))
    assert response.status_code == 403
    assert json.loads(response.body) == {"__type": "AccessDeniedException", "message": "no"}
    assert response.headers["x-amzn-errortype"] == "AccessDeniedException"


def test_signed_path_without_raw_path() -> None:
    scope = {"root_path": "/api", "path": "/api/a b"}
    assert signed_path(scope) == "/api/a%20b"
    assert route_path(scope) == "/a b"
    # a server that strips the mount prefix from `path`
    assert signed_path({"root_path": "/api", "path": "/events"}) == "/api/events"
    assert route_path({"path": "/health"}) == "/health"


def test_body_limit_and_exempt_prefixes(tmp_path: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse({})(scope, receive, send)

    wrapped = SigV4Middleware(app, KeyStore(tmp_path), max_body=10, exempt=("/docs",))

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=wrapped)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            auth = {"Authorization": "AWS4-HMAC-SHA256 x"}
            return [
                (await client.post("/events", content=b"x" * 11, headers=auth)).status_code,
                (await client.get("/docs")).status_code,
                (await client.get("/docs/oauth2-redirect")).status_code,
                (await client.get("/docsx")).status_code,
            ]

    assert asyncio.run(run()) == [413, 200, 200, 403]
