"""Every catalog version the platform has used, as reviewable files under ``versions/``.

One JSON file per version, named ``<version>-<hash>.json``, holding the whole catalog (every
channel's fields). A file is written once, when its catalog first ships, and never edited: data
stored under it, and senders still built from it, are read through it. The current catalog must
be registered (``python -m p424.catalog register``; the tests and ``--check`` fail otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path

from p424.catalog.model import Catalog

VERSIONS_DIR = Path(__file__).resolve().parent / "versions"


def version_file(catalog: Catalog, directory: Path = VERSIONS_DIR) -> Path:
    return directory / f"{catalog.version}-{catalog.hash_hex}.json"


def registered_versions(directory: Path = VERSIONS_DIR) -> list[Catalog]:
    """Every registered catalog, oldest version first; each file is checked against its name."""
    out = []
    for path in sorted(directory.glob("*.json")):
        catalog = Catalog.from_dict(json.loads(path.read_text(encoding="utf-8")))
        if path.name != version_file(catalog, directory).name:
            raise ValueError(f"{path}: holds catalog {catalog.version} ({catalog.hash_hex}); the name must match")
        out.append(catalog)
    return sorted(out, key=lambda c: tuple(int(p) for p in c.version.split(".")))


def render(catalog: Catalog) -> str:
    """The version file: one channel per line, so a review diff shows channels, not fields."""
    doc = catalog.to_dict()
    lines = [json.dumps(c, ensure_ascii=False) for c in doc["channels"]]
    return (
        f'{{\n "version": {json.dumps(doc["version"])},\n "hash": {json.dumps(doc["hash"])},\n "channels": [\n  '
        + ",\n  ".join(lines)
        + "\n ]\n}\n"
    )


def register(catalog: Catalog, directory: Path = VERSIONS_DIR) -> Path | None:
    """Write the catalog's version file if it is new; returns the path written, or None."""
    path = version_file(catalog, directory)
    if path.exists():
        return None
    clash = [c for c in registered_versions(directory) if c.version == catalog.version or c.hash == catalog.hash]
    if clash:
        old = clash[0]
        raise ValueError(
            f"catalog {catalog.version} ({catalog.hash_hex}) clashes with registered {old.version} ({old.hash_hex}): "
            "a changed channel list needs a new CATALOG_VERSION, and a new version a changed channel list"
        )
    path.write_text(render(catalog), encoding="utf-8")
    return path


def unregistered(catalog: Catalog, directory: Path = VERSIONS_DIR) -> str | None:
    """Why the current catalog is not (properly) registered, or None when it is."""
    path = version_file(catalog, directory)
    if not path.exists():
        return (
            f"catalog {catalog.version} ({catalog.hash_hex}) has no version file; run `python -m p424.catalog register`"
        )
    registered = Catalog.from_dict(json.loads(path.read_text(encoding="utf-8")))
    if registered.hash != catalog.hash:
        return f"{path.name} does not hold the current catalog"
    return None
