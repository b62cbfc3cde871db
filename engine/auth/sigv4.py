"""AWS Signature Version 4 verification of requests signed by botocore (and other AWS SDKs).

`verify` rebuilds the canonical request from what was received, the way botocore's
`SigV4Auth.canonical_request` builds it from what it sends:

- canonical URI: the path *as sent* (still percent-encoded), dot segments and empty segments
  removed, then percent-encoded once more (`quote(..., safe="/~")`). For non-S3 services
  botocore thus signs the wire path encoded a second time (`%20` -> `%2520`), so the
  server must start from the raw path, not the decoded one.
- canonical query: `key=value` pairs sorted. botocore takes its own (already canonical) URL
  encoding as is; the SigV4 spec decodes and re-encodes each name and value. Both forms are
  computed from the received query; a signature over either is accepted.
- canonical headers: the names listed in `SignedHeaders`, lower-cased and sorted, each value
  trimmed with inner whitespace runs collapsed, repeated headers joined with `,`.
- payload hash: sha256 of the body received. botocore puts `X-Amz-Content-SHA256` in the
  canonical request when it sends that header; here the header is only accepted when it
  equals the body's actual hash (so `UNSIGNED-PAYLOAD` is refused: the body must be signed).

The string to sign uses the request time from `X-Amz-Date` (or `Date`), which must be within
15 minutes of now, and the credential scope from the Authorization header; the signing key is
derived from the stored secret and compared with `hmac.compare_digest`.

Which Personalize API a request calls comes from its route, not from the credential scope:
botocore signs personalize, personalize-runtime and personalize-events all with the signing
name `personalize`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_to_bytes

from starlette.responses import Response

from engine.auth.keys import (
    SERVICE_CONTROL_PLANE,
    SERVICE_EVENTS,
    SERVICE_RUNTIME,
    AccessKey,
    KeyStore,
)

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = timedelta(minutes=15)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: Signing names accepted in the credential scope (botocore uses `personalize` for all three).
SCOPE_SERVICES = frozenset({SERVICE_CONTROL_PLANE, SERVICE_RUNTIME, SERVICE_EVENTS})

RUNTIME_PATHS = frozenset({"/recommendations", "/personalize-ranking", "/action-recommendations"})
EVENTS_PATHS = frozenset({"/events", "/items", "/users", "/actions", "/action-interactions"})

Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]


class AuthError(Exception):
    """A request that fails authentication or authorization, as an AWS error."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def to_aws(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}

    def __repr__(self) -> str:
        return f"AuthError({self.code!r}, {self.message!r}, {self.status})"


def error_response(exc: AuthError, media_type: str = "application/x-amz-json-1.1") -> Response:
    """AWS's JSON error shape; `x-amzn-ErrorType` lets rest-json clients read the code too."""
    return Response(
        json.dumps(exc.to_aws()),
        status_code=exc.status,
        media_type=media_type,
        headers={"x-amzn-ErrorType": exc.code},
    )


def _missing() -> AuthError:
    return AuthError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)


def _incomplete(message: str) -> AuthError:
    return AuthError("IncompleteSignatureException", message, 400)


def _invalid(message: str) -> AuthError:
    return AuthError("InvalidSignatureException", message, 403)


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)
UNRECOGNIZED_CLIENT = "The security token included in the request is invalid."


# -- canonical request ------------------------------------------------------------------------


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def header_list(headers: Headers) -> list[tuple[str, str]]:
    """(lower-case name, value) pairs, repeated headers kept, from a mapping or ASGI pairs."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(_text(name).lower(), _text(value)) for name, value in items]


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, plus dropping empty segments (as botocore's `normalize_url_path`)."""
    if not path:
        return "/"
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment and segment != ".":
            out.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_uri(raw_path: str) -> str:
    """The canonical URI of a path as it was sent (percent-encoded): encoded once more."""
    return quote(remove_dot_segments(raw_path), safe="/~")


def _split_query(query_string: str) -> list[tuple[str, str]]:
    if not query_string:
        return []
    return [pair.partition("=")[::2] for pair in query_string.split("&")]


def canonical_query_literal(query_string: str) -> str:
    """botocore's form for a URL it did not encode itself: pairs sorted, taken as sent."""
    return "&".join(f"{k}={v}" for k, v in sorted(_split_query(query_string)))


def _reencode(component: str) -> str:
    # Decode as the server will ('+' is a space, like parse_qsl), then encode per SigV4.
    raw = unquote_to_bytes(component.replace("+", " "))
    return quote(raw, safe="-_.~")


def canonical_query_string(query_string: str) -> str:
    """SigV4's form: each name and value decoded and URI-encoded, pairs sorted."""
    pairs = [(_reencode(k), _reencode(v)) for k, v in _split_query(query_string)]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _trimall(value: str) -> str:
    return " ".join(value.split())


def canonical_headers(headers: Iterable[tuple[str, str]], signed: list[str]) -> str:
    """`name:value` lines for the signed headers (values trimmed, repeats joined by `,`)."""
    values: dict[str, list[str]] = {name: [] for name in signed}
    for name, value in headers:
        if name in values:
            values[name].append(value)
    lines = []
    for name in signed:
        if not values[name]:
            raise _invalid(f"The request does not have the signed header {name!r}.")
        joined = ",".join(_trimall(v) for v in values[name])
        if name == "host":
            joined = joined.lower()  # botocore signs the host lower-cased, as in the URL
        lines.append(f"{name}:{joined}")
    return "\n".join(lines)


def canonical_request(
    method: str,
    raw_path: str,
    canonical_query: str,
    headers: Iterable[tuple[str, str]],
    signed: list[str],
    payload_hash: str,
) -> str:
    """The canonical request; `canonical_query` is already in canonical form."""
    return "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query,
            canonical_headers(headers, signed) + "\n",
            ";".join(signed),
            payload_hash,
        ]
    )


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return "\n".join([ALGORITHM, timestamp, scope, digest])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    k = sign(f"AWS4{secret}".encode(), date)
    k = sign(k, region)
    k = sign(k, service)
    return sign(k, "aws4_request")


def signature(key: bytes, to_sign: str) -> str:
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


# -- Authorization header ---------------------------------------------------------------------


class Credential:
    """The parsed `Authorization` header."""

    def __init__(self, header: str) -> None:
        algorithm, _, rest = header.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise _incomplete(
                f"Authorization header must use {ALGORITHM} (AWS Signature Version 4)."
            )
        fields: dict[str, str] = {}
        for part in rest.split(","):
            name, sep, value = part.strip().partition("=")
            if sep:
                fields[name] = value.strip()
        for required in ("Credential", "SignedHeaders", "Signature"):
            if not fields.get(required):
                raise _incomplete(f"Authorization header requires '{required}' parameter.")
        parts = fields["Credential"].split("/")
        if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
            raise _incomplete(
                "Credential must have the form "
                "<access key id>/<yyyymmdd>/<region>/<service>/aws4_request."
            )
        self.access_key_id, self.date, self.region, self.service, _ = parts
        self.scope = "/".join(parts[1:])
        self.signed_headers = [h.strip().lower() for h in fields["SignedHeaders"].split(";")]
        self.signature = fields["Signature"]


def _request_time(headers: list[tuple[str, str]]) -> tuple[datetime, str]:
    """The signing time and its ISO-8601 basic form, from X-Amz-Date or else Date."""
    lookup = dict(headers)
    if "x-amz-date" in lookup:
        stamp = lookup["x-amz-date"].strip()
        try:
            when = datetime.strptime(stamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise _incomplete(
                f"X-Amz-Date {stamp[:40]!r} is not in the form 20240131T235959Z."
            ) from None
        return when, stamp
    if "date" in lookup:
        try:
            when = parsedate_to_datetime(lookup["date"])
        except (TypeError, ValueError):
            raise _incomplete("The Date header is not an HTTP date.") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        when = when.astimezone(UTC)
        return when, when.strftime(TIMESTAMP_FORMAT)
    raise _incomplete(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def _check_time(when: datetime, now: datetime | None) -> None:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    stamp = when.strftime(TIMESTAMP_FORMAT)
    if when < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(TIMESTAMP_FORMAT)
        raise _invalid(
            f"Signature expired: {stamp} is now earlier than {earliest} "
            f"({now.strftime(TIMESTAMP_FORMAT)} - 15 min.)"
        )
    if when > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(TIMESTAMP_FORMAT)
        raise _invalid(
            f"Signature not yet current: {stamp} is still later than {latest} "
            f"({now.strftime(TIMESTAMP_FORMAT)} + 15 min.)"
        )


def _payload_hash(headers: list[tuple[str, str]], body: bytes) -> str:
    actual = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    claimed = [v.strip() for n, v in headers if n == "x-amz-content-sha256"]
    if claimed and any(c.lower() != actual for c in claimed):
        raise AuthError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            400,
        )
    # botocore puts the header's value (as sent) into the canonical request.
    return claimed[0] if claimed else actual


# -- verification -----------------------------------------------------------------------------


def verify(
    method: str,
    path: str | bytes,
    query_string: str | bytes,
    headers: Headers,
    body: bytes,
    store: KeyStore,
    now: datetime | None = None,
) -> AccessKey:
    """The access key that signed this request, or AuthError.

    `path` is the full path the client sent, still percent-encoded (ASGI's `raw_path`), and
    `query_string` the raw query without `?`.
    """
    pairs = header_list(headers)
    authorization = [v for n, v in pairs if n == "authorization"]
    if not authorization or not authorization[0].strip():
        raise _missing()
    if len(authorization) > 1:
        raise _incomplete("The request has more than one Authorization header.")
    cred = Credential(authorization[0])

    key = store.get(cred.access_key_id)
    if key is None:
        raise AuthError("UnrecognizedClientException", UNRECOGNIZED_CLIENT, 403)

    if "host" not in cred.signed_headers:
        raise _incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    if "authorization" in cred.signed_headers:
        raise _incomplete("'Authorization' must not be a 'SignedHeader'.")
    if cred.service not in SCOPE_SERVICES:
        raise _invalid(
            f"Credential should be scoped to correct service: '{SERVICE_CONTROL_PLANE}'."
        )
    when, timestamp = _request_time(pairs)
    if cred.date != timestamp[:8]:
        raise _invalid(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{cred.date}' != '{timestamp[:8]}', from '{timestamp}'."
        )
    _check_time(when, now)
    payload_hash = _payload_hash(pairs, body)

    raw_path = _text(path) or "/"
    query = _text(query_string)
    # Canonical signed-header list: lower-case, sorted, unique (what every SDK sends).
    signed = sorted(set(cred.signed_headers))
    key_bytes = signing_key(key.secret_access_key, cred.date, cred.region, cred.service)
    provided = cred.signature.encode("utf-8", "replace")
    queries = [canonical_query_string(query)]
    literal = canonical_query_literal(query)
    if literal != queries[0]:
        queries.append(literal)
    matched = False
    for canonical_query in queries:
        canonical = canonical_request(
            method, raw_path, canonical_query, pairs, signed, payload_hash
        )
        expected = signature(key_bytes, string_to_sign(timestamp, cred.scope, canonical))
        # No early exit: both candidates cost the same whichever matches.
        matched |= hmac.compare_digest(expected.encode("ascii"), provided)
    if not matched:
        raise _invalid(SIGNATURE_MISMATCH)
    return key


# -- authorization ----------------------------------------------------------------------------


def service_for_path(route_path: str, prefix: str = "") -> str:
    """Which Personalize API a route belongs to.

    `route_path` is relative to where the API is mounted (pass `prefix`, e.g. `/api`, when it
    is not). personalize-runtime and personalize-events are REST APIs with fixed paths; the
    JSON 1.1 control plane is the endpoint itself, and anything else is treated as control
    plane (admin only).
    """
    path = route_path
    if prefix and (path == prefix or path.startswith(prefix.rstrip("/") + "/")):
        path = path[len(prefix.rstrip("/")) :]
    path = "/" + path.strip("/")
    if path in RUNTIME_PATHS:
        return SERVICE_RUNTIME
    if path in EVENTS_PATHS:
        return SERVICE_EVENTS
    return SERVICE_CONTROL_PLANE


def authorize(key: AccessKey, service: str) -> None:
    """AccessDeniedException unless `key`'s role may call `service`."""
    if not key.allows(service):
        raise AuthError(
            "AccessDeniedException",
            f"Access key {key.access_key_id} has role {key.role!r}, which may not call {service}.",
            403,
        )
