"""Access keys that Tailor issues, stored in `<data_dir>/keys`.

The file is JSON, mode 0600, rewritten atomically (temp file in the same directory, fsync,
`os.replace`). It holds each secret in clear: SigV4 verification needs the secret itself (the
signature is an HMAC keyed by it), just as AWS keeps it. Nothing here logs a secret, and
`AccessKey`'s repr hides it.

Roles: `admin` may call everything; `runtime` only personalize-runtime (recommendations,
ranking); `events` only personalize-events (put events, items, users, actions).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
import string
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("tailor.auth")

KEYS_FILE = "keys"
FILE_MODE = 0o600
FORMAT_VERSION = 1

SERVICE_CONTROL_PLANE = "personalize"
SERVICE_RUNTIME = "personalize-runtime"
SERVICE_EVENTS = "personalize-events"
SERVICES = (SERVICE_CONTROL_PLANE, SERVICE_RUNTIME, SERVICE_EVENTS)

#: The services each role may call.
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(SERVICES),
    "runtime": frozenset({SERVICE_RUNTIME}),
    "events": frozenset({SERVICE_EVENTS}),
}

ENV_KEY_ID = "TAILOR_ACCESS_KEY_ID"
ENV_SECRET = "TAILOR_SECRET_ACCESS_KEY"
ENV_KEY_NAME = "env"

_ID_ALPHABET = string.ascii_uppercase + string.digits
_ID_PREFIX = "AKIA"
_ID_RANDOM_LEN = 16
_SECRET_BYTES = 30  # token_urlsafe(30) is 40 characters
# A key id is the first field of a SigV4 credential scope: no '/', ',', '=' or whitespace.
_ID_FORBIDDEN = set("/,=") | set(string.whitespace)


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: everything but its secret."""

    access_key_id: str
    name: str
    role: str
    created: datetime

    def to_dict(self) -> dict[str, str]:
        return {
            "accessKeyId": self.access_key_id,
            "name": self.name,
            "role": self.role,
            "created": self.created.isoformat(),
        }


@dataclass(frozen=True)
class AccessKey:
    """An access key with its secret. The secret is left out of repr and `info`."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    name: str
    role: str
    created: datetime

    def __repr__(self) -> str:
        return (
            f"AccessKey(access_key_id={self.access_key_id!r}, secret_access_key='***', "
            f"name={self.name!r}, role={self.role!r}, created={self.created.isoformat()!r})"
        )

    __str__ = __repr__

    @property
    def info(self) -> KeyInfo:
        return KeyInfo(self.access_key_id, self.name, self.role, self.created)

    def allows(self, service: str) -> bool:
        """Whether this key's role may call `service`."""
        return service in ROLES.get(self.role, frozenset())


def new_access_key_id() -> str:
    """`AKIA` and 16 random uppercase letters and digits, like AWS's long-term key ids."""
    return _ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_RANDOM_LEN))


def new_secret_access_key() -> str:
    """40 random URL-safe characters."""
    return secrets.token_urlsafe(_SECRET_BYTES)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")


def _check_key_id(access_key_id: str) -> None:
    if not access_key_id or len(access_key_id) > 128:
        raise ValueError("an access key id must have 1 to 128 characters")
    if any(c in _ID_FORBIDDEN or not c.isprintable() for c in access_key_id):
        raise ValueError("an access key id must not contain '/', ',', '=' or whitespace")


class KeyStore:
    """The access keys of one data directory (`<data_dir>/keys`).

    Reads are cached and reloaded when the file changes (another process, e.g. `tailor keys`,
    may write it). Writes are serialised by a thread lock and, across processes, an advisory
    lock on `<data_dir>/keys.lock`.
    """

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / KEYS_FILE
        self._lock = threading.RLock()
        self._cache: dict[str, AccessKey] = {}
        self._cache_sig: tuple[int, int, int] | None = None

    def __repr__(self) -> str:
        return f"KeyStore({str(self.data_dir)!r})"

    # -- public API --------------------------------------------------------------------------

    def create(self, name: str, role: str) -> AccessKey:
        """A new key with a random id and secret; the only time the secret is handed out."""
        _check_role(role)
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise ValueError("a key name must have 1 to 256 characters")
        with self._writing() as keys:
            key_id = new_access_key_id()
            while key_id in keys:  # pragma: no cover - 36**16 ids
                key_id = new_access_key_id()
            key = AccessKey(key_id, new_secret_access_key(), name, role, _now())
            keys[key_id] = key
        log.info("created access key %s (%s, role %s)", key.access_key_id, name, role)
        return key

    def list(self) -> list[KeyInfo]:
        """Every key, oldest first, without secrets."""
        keys = self._load()
        return sorted((k.info for k in keys.values()), key=lambda i: (i.created, i.access_key_id))

    def get(self, access_key_id: str) -> AccessKey | None:
        """The key with this id (secret included, for signature checks), or None."""
        return self._load().get(access_key_id)

    def revoke(self, access_key_id: str) -> bool:
        """Delete a key; False when there is none with this id."""
        with self._writing() as keys:
            removed = keys.pop(access_key_id, None)
        if removed is not None:
            log.info("revoked access key %s (%s)", access_key_id, removed.name)
        return removed is not None

    def ensure_env_key(self) -> AccessKey | None:
        """Define (or update) the admin key given by TAILOR_ACCESS_KEY_ID/SECRET_ACCESS_KEY.

        Returns that key, or None when the two variables are not both set. The file is only
        rewritten when something changed.
        """
        key_id = os.environ.get(ENV_KEY_ID, "").strip()
        secret = os.environ.get(ENV_SECRET, "")
        if not key_id or not secret:
            if key_id or secret:
                log.warning("%s and %s must be set together; ignoring", ENV_KEY_ID, ENV_SECRET)
            return None
        _check_key_id(key_id)
        current = self.get(key_id)
        if current is not None and current.secret_access_key == secret and current.role == "admin":
            return current
        with self._writing() as keys:
            old = keys.get(key_id)
            key = AccessKey(
                key_id,
                secret,
                old.name if old else ENV_KEY_NAME,
                "admin",
                old.created if old else _now(),
            )
            keys[key_id] = key
        log.info(
            "%s admin access key %s from %s", "updated" if old else "defined", key_id, ENV_KEY_ID
        )
        return key

    # -- storage -----------------------------------------------------------------------------

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load(self) -> dict[str, AccessKey]:
        """The cached keys (reloaded when the file changed); never mutate the result."""
        with self._lock:
            sig = self._signature()
            if sig is None:
                self._cache, self._cache_sig = {}, None
                return {}
            if sig != self._cache_sig:
                self._cache = self._read()
                self._cache_sig = sig
            return self._cache

    def _read(self) -> dict[str, AccessKey]:
        with open(self.path, encoding="utf-8") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode != FILE_MODE:
                log.warning("%s had mode %o; setting it back to 600", self.path, mode)
                with contextlib.suppress(OSError):
                    os.fchmod(f.fileno(), FILE_MODE)
            try:
                doc = json.load(f)
            except json.JSONDecodeError as exc:
                # No excerpt of the file in the message: it holds secrets.
                raise ValueError(f"{self.path} is not valid JSON (line {exc.lineno})") from None
        keys: dict[str, AccessKey] = {}
        for entry in doc.get("keys", []):
            key = _from_json(entry)
            keys[key.access_key_id] = key
        return keys

    @contextlib.contextmanager
    def _writing(self) -> Iterator[dict[str, AccessKey]]:
        """Yield the current keys to change in place; write them back atomically."""
        with self._lock, self._file_lock():
            self._cache_sig = None  # re-read under the lock: another process may have written
            keys = dict(self._load())
            yield keys
            self._write(keys)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover
            yield
            return
        fd = os.open(self.data_dir / f"{KEYS_FILE}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write(self, keys: dict[str, AccessKey]) -> None:
        doc = {
            "version": FORMAT_VERSION,
            "keys": [_to_json(k) for k in sorted(keys.values(), key=lambda k: k.created)],
        }
        data = (json.dumps(doc, indent=2) + "\n").encode("utf-8")
        # mkstemp creates the file 0600 whatever the umask; fchmod makes that explicit.
        fd, tmp = tempfile.mkstemp(prefix=f".{KEYS_FILE}.", suffix=".tmp", dir=self.data_dir)
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.data_dir)
        self._cache = dict(keys)
        self._cache_sig = self._signature()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _to_json(key: AccessKey) -> dict[str, str]:
    return {
        "accessKeyId": key.access_key_id,
        "secretAccessKey": key.secret_access_key,
        "name": key.name,
        "role": key.role,
        "created": key.created.isoformat(),
    }


def _from_json(entry: dict[str, Any]) -> AccessKey:
    created = datetime.fromisoformat(entry["created"])
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return AccessKey(
        access_key_id=entry["accessKeyId"],
        secret_access_key=entry["secretAccessKey"],
        name=entry.get("name", ""),
        role=entry["role"],
        created=created,
    )
