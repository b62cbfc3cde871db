"""First-start credentials: an admin key for a new data directory, in an AWS credentials file.

When a data directory has no access key (and none comes from TAILOR_ACCESS_KEY_ID /
TAILOR_SECRET_ACCESS_KEY), Tailor creates an admin key and writes it to
`<data_dir>/credentials` (mode 0600) in the AWS shared-credentials format, so
`export AWS_SHARED_CREDENTIALS_FILE=<data_dir>/credentials` is all boto3 and the AWS CLI need.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.auth.keys import AccessKey, KeyStore

CREDENTIALS_FILE = "credentials"


def write_credentials(path: Path, key: AccessKey) -> None:
    """An AWS shared-credentials file with `key` as the default profile (mode 0600)."""
    text = (
        "[default]\n"
        f"aws_access_key_id = {key.access_key_id}\n"
        f"aws_secret_access_key = {key.secret_access_key}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def ensure_credentials(data_dir: Path) -> tuple[KeyStore, Path | None]:
    """The data directory's key store, with the environment's admin key defined and, when no
    key exists at all, a new admin key written to `<data_dir>/credentials` (returned)."""
    store = KeyStore(data_dir)
    store.ensure_env_key()
    path = Path(data_dir) / CREDENTIALS_FILE
    if not store.list():
        write_credentials(path, store.create("admin", "admin"))
        return store, path
    return store, path if path.exists() else None
