"""``jupyter-lifecycle doctor``: find what is wrong with a store home, and fix what can be fixed.

``diagnose`` only reads (the database through a read-only connection for the
integrity check). Each ``Problem`` says what is wrong in one line and, when
something safe can be done, carries the fix; ``repair`` applies those fixes.
No fix deletes user data: orphaned folders are moved into ``lost+found/``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..errors import StoreError
from . import open_store
from .database import lost_database, store_error
from .tracking import TrackingStore

LOST_AND_FOUND = "lost+found"
"""Folder of the store home that ``doctor --fix`` moves orphaned folders into."""

_STAGING_GRACE_SECONDS = 3600  # a registration copies into .tmp-* first; younger ones may be in progress
_MAX_INTEGRITY_LINES = 10


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a store: a kind, a one-line message, and the fix if one is safe."""

    kind: str  # home, database, integrity, orphan, registry, stale-run
    message: str
    fix: Callable[[], str] | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def diagnose(home: Path, stale_runs: bool = True) -> list[Problem]:
    """Every problem found in the store at ``home`` (an empty list when it is healthy).

    Checks, in order: the home is a folder; the database is not lost beside
    artifacts; ``PRAGMA integrity_check``; artifact and registry folders that
    no row owns; registered model files whose size or sha256 differ from
    ``model_version_files`` (or are missing, or were added); RUNNING runs
    whose process is gone (skipped with ``stale_runs=False``).
    """
    home = Path(home).expanduser().resolve()
    if not home.exists():
        return [Problem("home", f"{home} does not exist: there is no store to check")]
    if not home.is_dir():
        return [Problem("home", f"the store home {home} is a file, not a folder")]
    lost = lost_database(home)
    if lost:
        return [Problem("database", lost)]
    db_path = config.db_path(home)
    if not db_path.exists():
        return []  # a home with nothing in it yet
    problems = integrity_problems(db_path)
    if problems:
        return problems
    try:
        store = open_store(home)
    except StoreError as exc:
        return [Problem("database", str(exc))]
    problems += _orphans(store.home, store.db.query)
    problems += _registry_files(store.home, store.db.query)
    if stale_runs:
        for run_id, reason in store.tracking.stale_runs():
            problems.append(Problem("stale-run", f"run {run_id} is RUNNING but {reason}", _kill(store.tracking, run_id)))
    return problems


def _kill(tracking: TrackingStore, run_id: str) -> Callable[[], str]:
    def fix() -> str:
        if tracking.mark_killed([run_id]):
            return f"marked run {run_id} KILLED"
        return f"run {run_id} had already ended"

    return fix


def repair(problems: list[Problem]) -> list[str]:
    """Apply the fix of every fixable problem; one sentence per fix saying what was done."""
    return [problem.fix() for problem in problems if problem.fix is not None]


def integrity_problems(db_path: Path) -> list[Problem]:
    """`PRAGMA integrity_check` of the file at ``db_path``, read-only; an empty list when it passes."""
    try:
        conn = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [Problem("database", str(store_error(exc, db_path) or f"cannot open {db_path}: {exc}"))]
    try:
        rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.Error as exc:
        return [Problem("database", str(store_error(exc, db_path) or f"cannot check {db_path}: {exc}"))]
    finally:
        conn.close()
    if rows == ["ok"]:
        return []
    shown = [Problem("integrity", f"{db_path}: {row}") for row in rows[:_MAX_INTEGRITY_LINES]]
    if len(rows) > _MAX_INTEGRITY_LINES:
        shown.append(Problem("integrity", f"{db_path}: and {len(rows) - _MAX_INTEGRITY_LINES} more"))
    advice = "restore a backup with `jupyter-lifecycle restore BACKUP --force`"
    return [*shown, Problem("integrity", f"{db_path} failed PRAGMA integrity_check: {advice}")]


def _move_to_lost_and_found(home: Path, folder: Path) -> Callable[[], str]:
    def fix() -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = home / LOST_AND_FOUND / stamp / folder.relative_to(home)
        target.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(target)
        return f"moved {folder} to {target}"

    return fix


Query = Callable[[str], list[tuple[object, ...]]]


def _orphans(home: Path, query: Query) -> list[Problem]:
    """Artifact and registry folders that no experiment, run or model version refers to."""
    problems = []
    runs = {str(r[0]) for r in query("SELECT artifact_location FROM runs")}
    experiments = {str(r[0]) for r in query("SELECT artifact_location FROM experiments")}
    hint = "" if runs else " (the database has no runs at all: was it recreated? restore a backup)"
    artifacts = home / config.ARTIFACTS_DIRNAME
    for experiment in sorted(p for p in artifacts.glob("*") if p.is_dir()):
        location = experiment.relative_to(home).as_posix()
        children = sorted(p for p in experiment.iterdir() if p.is_dir())
        owned = [c for c in children if c.relative_to(home).as_posix() in runs]
        if location not in experiments and not owned:
            problems.append(Problem("orphan", f"artifact folder {experiment} belongs to no experiment{hint}",
                                    _move_to_lost_and_found(home, experiment)))  # fmt: skip
            continue
        for child in children:
            if child.relative_to(home).as_posix() not in runs:
                problems.append(Problem("orphan", f"artifact folder {child} belongs to no run{hint}",
                                        _move_to_lost_and_found(home, child)))  # fmt: skip
    models = {str(r[0]) for r in query("SELECT model_id FROM registered_models")}
    versions = {str(r[0]) for r in query("SELECT storage_location FROM model_versions")}
    registry = home / config.REGISTRY_DIRNAME
    for model in sorted(p for p in registry.glob("*") if p.is_dir()):
        children = sorted(p for p in model.iterdir() if p.is_dir())
        if model.name not in models and not any(c.relative_to(home).as_posix() in versions for c in children):
            problems.append(Problem("orphan", f"registry folder {model} belongs to no registered model",
                                    _move_to_lost_and_found(home, model)))  # fmt: skip
            continue
        for child in children:
            if child.relative_to(home).as_posix() in versions:
                continue
            if child.name.startswith(".tmp-") and time.time() - child.stat().st_mtime < _STAGING_GRACE_SECONDS:
                continue  # a registration may be copying into it right now
            problems.append(Problem("orphan", f"registry folder {child} belongs to no model version",
                                    _move_to_lost_and_found(home, child)))  # fmt: skip
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _registry_files(home: Path, query: Query) -> list[Problem]:
    """Registered files that differ from the sizes and hashes recorded when they were registered."""
    problems = []
    expected: dict[tuple[str, int, str], dict[str, tuple[int, str]]] = {}
    for name, version, location, path, size, sha256 in query(
        "SELECT v.name, v.version, v.storage_location, f.path, f.size, f.sha256 FROM model_version_files f"
        " JOIN model_versions v ON v.name = f.name AND v.version = f.version ORDER BY v.name, v.version, f.path"
    ):
        expected.setdefault((str(name), int(str(version)), str(location)), {})[str(path)] = (int(str(size)), str(sha256))
    advice = "restore it from a backup, or register the model again"
    for (name, version, location), files in expected.items():
        folder = home / location
        label = f"registered model {name!r} version {version}"
        for rel, (size, sha256) in files.items():
            path = folder / rel
            if not path.is_file():
                problems.append(Problem("registry", f"{label}: {path} is missing: {advice}"))
            elif (actual := _sha256(path)) != sha256 or path.stat().st_size != size:
                problems.append(Problem("registry", f"{label}: {path} changed since it was registered "
                                        f"(sha256 {actual}, registered {sha256}): {advice}"))  # fmt: skip
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if "__pycache__" in path.relative_to(folder).parts:
                continue  # Python writes these when a model's code is imported; they are caches, not the model
            if path.relative_to(folder).as_posix() not in files:
                problems.append(Problem("registry", f"{label}: {path} was added after it was registered: {advice}"))
    return problems
