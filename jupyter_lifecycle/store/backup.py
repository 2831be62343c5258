"""``jupyter-lifecycle backup`` and ``restore``: a whole store home, copied while kernels keep writing.

The database is copied with SQLite's online backup API in a single step, so
from one read snapshot while writers go on (WAL readers do not block them).
The artifact and registry folders are copied after it, for exactly the runs
and model versions that snapshot holds. Every row of the snapshot then finds
its files: artifact files are written (atomically) before the row recording
them, and a registered version's folder is renamed into place before its row
commits. A backup is itself a store home (``--store BACKUP`` opens it), and
is checked with ``doctor`` before ``backup`` returns.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..errors import StoreError
from . import forget_store
from .database import check_home, file_errors
from .doctor import diagnose, integrity_problems
from .liveness import stale_reason

_SKIP = shutil.ignore_patterns(".tmp-*")  # half-written files and registrations in progress


@dataclass(frozen=True)
class Copied:
    """What a backup or restore copied."""

    runs: int
    model_versions: int
    files: int
    bytes: int

    def __str__(self) -> str:
        return (f"{self.runs} runs, {self.model_versions} model versions, "
                f"{self.files} files ({self.bytes / 2**20:.1f} MiB)")  # fmt: skip


def copy_database(source: Path, target: Path) -> None:
    """Copy the SQLite file ``source`` to a new ``target`` from one consistent snapshot."""
    with file_errors(source):
        src = sqlite3.connect(source, timeout=config.BUSY_TIMEOUT_MS / 1000)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # pages=-1: every page in one step, inside one read transaction
            finally:
                dst.close()
        finally:
            src.close()


def _copy_folders(source_home: Path, target_home: Path, locations: list[str]) -> None:
    for location in locations:
        source = source_home / location
        # Only folders inside the store: a run may keep its artifacts elsewhere (an absolute location).
        if Path(location).is_absolute() or ".." in Path(location).parts or not source.is_dir():
            continue
        shutil.copytree(source, target_home / location, ignore=_SKIP, dirs_exist_ok=True)


def _summary(home: Path) -> Copied:
    conn = sqlite3.connect(f"{config.db_path(home).as_uri()}?mode=ro", uri=True)
    try:
        runs, versions = conn.execute("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM model_versions)").fetchone()
    finally:
        conn.close()
    files = [p for d in (config.ARTIFACTS_DIRNAME, config.REGISTRY_DIRNAME) for p in (home / d).rglob("*") if p.is_file()]
    return Copied(runs, versions, len(files), sum(p.stat().st_size for p in files))


def _empty_folder(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def backup(home: Path, dest: Path) -> Copied:
    """Copy the store at ``home`` into the new folder ``dest``; safe while kernels write to it."""
    home, dest = Path(home).expanduser().resolve(), Path(dest).expanduser().resolve()
    check_home(home)
    db = config.db_path(home)
    if not db.is_file():
        raise StoreError(f"there is no store database at {db}: nothing to back up")
    if home in dest.parents:
        raise StoreError(f"the backup destination {dest} is inside the store {home}: pick a folder outside it")
    if dest.exists() and not _empty_folder(dest):
        raise StoreError(f"the backup destination {dest} exists and is not an empty folder: name a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    copy_database(db, dest / config.DB_FILENAME)
    snapshot = sqlite3.connect(dest / config.DB_FILENAME)
    try:
        runs = [r[0] for r in snapshot.execute("SELECT artifact_location FROM runs")]
        versions = [r[0] for r in snapshot.execute("SELECT storage_location FROM model_versions")]
    finally:
        snapshot.close()
    _copy_folders(home, dest, runs + versions)
    problems = diagnose(dest, stale_runs=False)
    if problems:
        raise StoreError(f"the backup in {dest} failed its check ({len(problems)} problems; the first: {problems[0]}): "
                         f"run `jupyter-lifecycle --store {dest} doctor` for the list")  # fmt: skip
    return _summary(dest)


def _holds_data(home: Path) -> bool:
    """Whether ``home`` has anything worth keeping: a non-empty file, or any file below it."""
    return any(p.is_file() and (p.stat().st_size > 0 or p.parent != home) for p in home.rglob("*"))


def _live_runs(home: Path) -> list[str]:
    """``run <id> (pid <pid> on <host>)`` for each RUNNING run of ``home`` whose process may be alive."""
    db = config.db_path(home)
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT run_id, owner_host, owner_pid, heartbeat_time, start_time FROM runs WHERE status = 'RUNNING'"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # a damaged or lost database, the usual reason to restore: nothing can be checked
    now = int(time.time() * 1000)
    return [f"run {r[0]} (pid {r[2]} on {r[1]})" for r in rows if stale_reason(r[1], r[2], r[3], r[4], now) is None]


def restore(source: Path, home: Path, force: bool = False) -> tuple[Copied, Path | None]:
    """Make ``home`` a copy of the backup ``source``; return what was copied and where the old store went.

    A ``home`` holding data is refused unless ``force``; then its contents are
    moved aside to ``<home>.before-restore-<time>`` (never deleted). Stop the
    kernels and servers using ``home`` first: they would keep the old files open.
    """
    source, home = Path(source).expanduser().resolve(), Path(home).expanduser().resolve()
    if source == home or home in source.parents or source in home.parents:
        raise StoreError(f"cannot restore {source} into {home}: one is inside the other; copy the backup elsewhere first")
    db = source / config.DB_FILENAME
    if not db.is_file() or db.stat().st_size == 0:
        raise StoreError(f"{source} is not a backup: it has no {config.DB_FILENAME} (or an empty one)")
    problems = integrity_problems(db)
    if problems:
        raise StoreError(f"the backup {source} is damaged, nothing was restored: {problems[0].message}")
    if home.exists() and not home.is_dir():
        raise StoreError(f"the store home {home} is a file, not a folder: move it away or restore elsewhere")
    aside = None
    if home.is_dir() and _holds_data(home):
        aside = home.with_name(f"{home.name}.before-restore-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        if not force:
            raise StoreError(
                f"the store home {home} is not empty ({', '.join(sorted(p.name for p in home.iterdir()))}): "
                f"restoring would replace it; pass --force to move its contents to {aside} and restore"
            )
        live = _live_runs(home)
        if live:
            raise StoreError(
                f"runs are still running in {home} ({'; '.join(live[:3])}): their processes would keep "
                "writing to the old files; end those runs or stop their kernels, then restore"
            )
        forget_store(home)
        aside.mkdir()
        for child in home.iterdir():
            child.rename(aside / child.name)
    home.mkdir(parents=True, exist_ok=True)
    for leftover in home.iterdir():  # empty folders, a 0-byte database and its -wal/-shm
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    forget_store(home)
    copy_database(db, config.db_path(home))
    _copy_folders(source, home, [config.ARTIFACTS_DIRNAME, config.REGISTRY_DIRNAME])
    return _summary(home), aside
