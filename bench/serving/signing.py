"""Requests built and signed the way boto3 builds them, as raw HTTP/1.1 bytes.

botocore's own serializer turns the operation's parameters into the REST-JSON body and path,
`SigV4Auth` (signing name `personalize`, region us-east-1) signs it, and the prepared request
is written out as bytes, with the `Host` header the client will send (the one that was
signed). The load generator sends these bytes over a persistent connection, so signing costs
nothing during a measurement window; the server still verifies every request in full.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.serialize import create_serializer
from botocore.session import get_session

REGION = "us-east-1"
SIGNING_NAME = "personalize"  # botocore signs all three Personalize APIs with this name
USER_AGENT = f"Boto3/1.x md/Botocore#{botocore.__version__} ua/2.1 os/linux lang/python"


@functools.cache
def _operation(service: str, operation: str) -> Any:
    return get_session().get_service_model(service).operation_model(operation)


@functools.cache
def _serializer() -> Any:
    return create_serializer("rest-json", include_validation=False)


class Signer:
    """Builds signed raw requests for one endpoint (`http://host:port/api`) and key."""

    def __init__(self, endpoint: str, key_id: str, secret: str) -> None:
        scheme, _, rest = endpoint.partition("://")
        assert scheme == "http", endpoint
        self.endpoint = endpoint.rstrip("/")
        self.host, _, prefix = rest.partition("/")
        self.prefix = "/" + prefix if prefix else ""
        self.auth = SigV4Auth(Credentials(key_id, secret), SIGNING_NAME, REGION)

    def operation(self, service: str, operation: str, params: dict[str, Any]) -> bytes:
        """A boto3-style request for a modelled operation (e.g. personalize-runtime
        GetRecommendations), signed."""
        request = _serializer().serialize_to_request(params, _operation(service, operation))
        return self.raw(request["method"], request["url_path"], request["body"], request["headers"])

    def raw(
        self, method: str, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> bytes:
        """Any request under the endpoint (`path` relative to `/api`), signed."""
        request = AWSRequest(
            method=method,
            url=f"{self.endpoint}{path}",
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        request.headers["User-Agent"] = USER_AGENT
        self.auth.add_auth(request)
        prepared = request.prepare()
        lines = [f"{method} {self.prefix}{path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in prepared.headers.items()]
        lines.append("Accept-Encoding: identity")
        body_bytes = prepared.body or b""
        if isinstance(body_bytes, str):
            body_bytes = body_bytes.encode()
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body_bytes
