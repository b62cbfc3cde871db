"""Trained models on disk: `<data_dir>/artifacts/<id>/`, written atomically, checksummed.

A model folder is written under a temporary name and renamed into place, with a
`manifest.json` holding the SHA-256 of every file; loading verifies every checksum before
reading, and models are numpy arrays loaded with allow_pickle=False.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

from engine.recipes import recipe_class
from engine.recipes.base import Recipe

MANIFEST = "manifest.json"


class ArtifactError(RuntimeError):
    """A model folder is missing, incomplete or does not match its checksums."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: Recipe, root: Path, artifact_id: str) -> Path:
    """Write `model` to `root/artifact_id` atomically; return the folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{artifact_id}-{uuid.uuid4().hex[:8]}"
    model.save(staging)
    files = sorted(p.name for p in staging.iterdir())
    manifest = {"files": {name: _sha256(staging / name) for name in files}}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    for path in staging.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    target = root / artifact_id
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return target


def load_model(root: Path, artifact_id: str) -> Recipe:
    """Read and verify the model in `root/artifact_id`."""
    folder = Path(root) / artifact_id
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"model {artifact_id}: no readable manifest ({exc})") from None
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file() or _sha256(path) != expected:
            raise ArtifactError(
                f"model {artifact_id}: {name} is missing or does not match its "
                "checksum; retrain the solution version"
            )
    meta = json.loads((folder / "recipe.json").read_text())
    return recipe_class(meta["recipeArn"]).load(folder)


def delete_model(root: Path, artifact_id: str) -> None:
    """Remove a model folder (idempotent)."""
    shutil.rmtree(Path(root) / artifact_id, ignore_errors=True)
