"""A registered version's files, checked against the sha256 the store recorded when it was registered.

``create_model_version`` hashes every file it copies into the registry
(``model_version_files``). The hash block in ``MLmodel`` cannot protect a
model from someone who can write its folder: they rewrite the block along
with the pickle, or delete it (issue #12, defect 2). So a version resolved
from the registry is checked against the database, file by file, before
anything in it is unpickled or imported: a changed, missing or added file, a
symbolic link, or a folder the store recorded nothing for is refused.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..entities import ModelVersion
from ..errors import InvalidState
from ..models.model import file_matches
from ..store.registry import RegistryStore

BYTECODE_CACHE = "__pycache__"
MAX_PROBLEMS = 10  # how many problems one message lists


def _listing(folder: Path) -> tuple[list[str], list[str], list[str]]:
    """Regular files, other entries (links, devices...) and bytecode caches in a version folder, as relative paths."""
    files: list[str] = []
    odd: list[str] = []
    caches: list[str] = []
    pending = [("", str(folder))]
    while pending:
        prefix, path = pending.pop()
        with os.scandir(path) as entries:  # never follows links: a linked folder is listed, not entered
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if entry.name == BYTECODE_CACHE:
                        caches.append(rel)
                    else:
                        pending.append((rel + "/", entry.path))
                elif entry.is_file(follow_symlinks=False):
                    files.append(rel)
                else:
                    odd.append(rel)
    return sorted(files), sorted(odd), caches


def _remove_caches(folder: Path, caches: list[str]) -> list[str]:
    # Python runs a .pyc whose header matches its source's size and mtime, both
    # of which anyone can copy: a planted cache would run code no hash covers.
    # They are only caches, so they go, and Python writes fresh ones.
    left = []
    for rel in caches:
        shutil.rmtree(folder / rel, ignore_errors=True)
        if (folder / rel).exists():
            left.append(f"{rel!r} could not be removed (bytecode caches are not checked)")
    return left


def version_file_problems(version: ModelVersion, registry: RegistryStore) -> list[str]:
    """Every way a version's folder differs from what the store recorded at registration (empty: intact).

    Bytecode caches (``__pycache__``) are removed rather than checked.
    """
    folder = Path(version.storage_location)
    recorded = {path: digest for path, _, digest in registry.version_files(version.name, version.version)
                if BYTECODE_CACHE not in path.split("/")}  # fmt: skip
    if not recorded:
        return ["the store recorded no files for this version (its rows in model_version_files are gone)"]
    files, odd, caches = _listing(folder)
    problems = _remove_caches(folder, caches)
    present = set(files)
    for rel, digest in recorded.items():
        if rel not in present:
            problems.append(f"{rel!r} is missing" if rel not in odd else f"{rel!r} was replaced by a link or special file")
        elif not file_matches(folder / rel, digest):
            problems.append(f"{rel!r} changed (its sha256 differs from the one recorded at registration)")
    problems += [f"{rel!r} was added after registration" for rel in files if rel not in recorded]
    problems += [f"{rel!r} is a link or special file (the registry holds regular files only)"
                 for rel in odd if rel not in recorded]  # fmt: skip
    return problems


def verify_version(version: ModelVersion, registry: RegistryStore) -> Path:
    """The version's folder, once every file in it matches the sha256 the store recorded.

    Raises ``InvalidState`` (one line) naming each changed, missing or added
    file and saying what to do; nothing in the folder has been loaded then.
    """
    problems = version_file_problems(version, registry)
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS])
        if len(problems) > MAX_PROBLEMS:
            shown += f" (and {len(problems) - MAX_PROBLEMS} more)"
        raise InvalidState(
            f"refusing to load {version.name!r} version {version.version}: its files in {version.storage_location} "
            f"no longer match the sha256 the store recorded when it was registered, so they may have been tampered "
            f"with: {shown}. Nothing was loaded. Restore the folder from a backup, or delete this version and "
            "register the model again from a source you trust."
        )
    return Path(version.storage_location)
