"""SQL and files for the model registry: models, versions, aliases, stages, requests, activity.

A version's files are copied into ``<home>/registry/<model_id>/<version>/``
(``model_id`` is a hex UUID that survives renames), made read-only, hashed
and recorded in ``model_version_files``, so a registered version never
changes under the people using it. Every change also appends a row to
``registry_activity`` in the same transaction, so the log cannot miss one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .. import config
from ..entities import (
    ACTIVE_STAGES,
    STAGES,
    ModelVersion,
    ModelVersionDeploymentJobState,
    Param,
    RegisteredModel,
    RegistryActivity,
    TransitionRequest,
)
from ..errors import AlreadyExists, InvalidInput, InvalidState, NotFound, shown
from .database import Database
from .models import LoggedModelStore
from .search import (
    Condition,
    check_max_results,
    parse_filter,
    parse_order_by,
    where_clauses,
)
from .tracking import new_id, now_ms

REGISTRY_DIRNAME = config.REGISTRY_DIRNAME

ALIAS_PATTERN = re.compile(r"^[\w\-]*$")  # MLflow's _REGISTERED_MODEL_ALIAS_REGEX
RESERVED_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
MAX_ALIAS_LENGTH = 255
MAX_MODEL_NAME_LENGTH = 256  # MLflow's registered_models.name column
MAX_VERSION = 2**63 - 1  # SQLite's largest integer
MAX_LISTED = 20  # how many existing names an error message lists

_CANONICAL_STAGES = {stage.lower(): stage for stage in STAGES}

# Filterable / sortable attributes: name -> (column, numeric).
MODEL_ATTRIBUTES = {
    "name": ("m.name", False),
    "description": ("m.description", False),
    "creation_timestamp": ("m.creation_timestamp", True),
    "last_updated_timestamp": ("m.last_updated_timestamp", True),
    "timestamp": ("m.last_updated_timestamp", True),  # MLflow's order_by shorthand
}
VERSION_ATTRIBUTES = {
    "name": ("v.name", False),
    "version_number": ("v.version", True),
    "version": ("v.version", True),
    "run_id": ("v.run_id", False),
    "source_path": ("v.source", False),
    "source": ("v.source", False),
    "current_stage": ("v.current_stage", False),
    "status": ("v.status", False),
    "user_id": ("v.user_id", False),
    "description": ("v.description", False),
    "creation_timestamp": ("v.creation_timestamp", True),
    "last_updated_timestamp": ("v.last_updated_timestamp", True),
    "timestamp": ("v.last_updated_timestamp", True),
}

_VERSION_COLUMNS = (
    "v.name, v.version, v.creation_timestamp, v.last_updated_timestamp, v.description, v.user_id,"
    " v.current_stage, v.source, v.run_id, v.status, v.status_message, v.run_link, v.storage_location,"
    " (SELECT json_group_object(key, value) FROM model_version_tags t"
    "  WHERE t.name = v.name AND t.version = v.version),"
    " (SELECT json_group_array(alias) FROM (SELECT alias FROM registered_model_aliases a"
    "  WHERE a.name = v.name AND a.version = v.version ORDER BY alias)), v.model_id"
)
_REQUEST_COLUMNS = (
    "request_id, name, version, to_stage, status, user_id, comment, creation_timestamp,"
    " last_updated_timestamp, resolved_by, resolution_comment"
)


def canonical_stage(stage: str | None) -> str:
    """MLflow's canonical spelling of a stage given in any case; ``InvalidInput`` lists the stages."""
    found = _CANONICAL_STAGES.get(str(stage).lower())
    if found is None:
        raise InvalidInput(f"invalid model version stage {stage!r}: use one of {', '.join(STAGES)} (any case)")
    return found


def check_model_name(name: Any, what: str = "registered model name") -> str:
    """A valid registered model name (non-empty, no '/' or ':', as in MLflow)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what} must be a non-empty string, got {name!r}")
    if "/" in name or ":" in name:
        raise InvalidInput(f"invalid {what} {name!r}: names cannot contain '/' or ':' (they would break models:/ URIs)")
    if name in (".", ".."):
        raise InvalidInput(f"invalid {what} {name!r}: '.' and '..' name folders, not models; pick another name")
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidInput(f"{what} {name[:40]!r}... is {len(name)} characters long; the limit is {MAX_MODEL_NAME_LENGTH}")
    # Control characters (newlines, NUL...), line separators and lone surrogates
    # would break URIs, listings and logs; no real name needs them.
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")), None)
    if bad is not None:
        raise InvalidInput(f"invalid {what} {shown(name)}: it contains {bad!r} (a control character, line "
                           "separator or lone surrogate); use printable characters only")  # fmt: skip
    return name


def check_alias(alias: Any) -> str:
    """A valid alias: MLflow's characters and length, and not a reserved name."""
    if not isinstance(alias, str) or not alias:
        raise InvalidInput(f"an alias must be a non-empty string, got {alias!r}")
    if not ALIAS_PATTERN.fullmatch(alias):  # match() with `$` would let "champion\n" through
        raise InvalidInput(
            f"invalid alias {alias!r}: use only letters, digits, '_' and '-' (MLflow's rule), e.g. 'champion'"
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidInput(f"alias {alias[:40]!r}... is {len(alias)} characters long; the limit is {MAX_ALIAS_LENGTH}")
    if alias.lower() == "latest":
        raise InvalidInput("the alias 'latest' (any case) is reserved: models:/<name>/latest already means the newest version")
    if RESERVED_VERSION_ALIAS.match(alias):
        raise InvalidInput(f"the alias {alias!r} is reserved: v<number> names a version; pick another, e.g. 'champion'")
    return alias


def version_number(version: Any) -> int:
    """A version given as ``3`` or ``"3"``, as an ``int``."""
    if isinstance(version, bool):
        raise InvalidInput(f"a model version is a positive number such as 3, got {shown(version)}")
    if isinstance(version, int):
        number = version
    elif isinstance(version, str) and re.fullmatch(r"[0-9]+", version.strip()):
        # Past 30 digits it is out of range anyway, and int() refuses over 4,300.
        number = int(version) if len(version) <= 30 else MAX_VERSION + 1
    else:
        raise InvalidInput(f"a model version is a positive number such as 3 or '3', got {shown(version)}")
    if number < 1:
        raise InvalidInput(f"model versions are numbered from 1, got {shown(version)}")
    if number > MAX_VERSION:
        raise InvalidInput(f"model version {shown(version)} is larger than any version can be ({MAX_VERSION})")
    return number


def _listing(items: Sequence[str], empty: str) -> str:
    if not items:
        return empty
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else "")


def copy_tree(source: Path, target: Path) -> list[tuple[str, int, str]]:
    """Copy a folder, hashing each file as it is read; make the copies read-only.

    Returns ``(relative path, size, sha256)`` per file. Temporary files of an
    interrupted artifact write (``.tmp-*``) are left out.
    """
    if source.is_file():
        raise InvalidInput(f"{str(source)!r} is a file: register the model's folder (the one holding MLmodel)")
    records = []
    target.mkdir(parents=True)
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if path.name.startswith(".tmp-"):
            continue
        if path.is_dir():
            (target / rel).mkdir(parents=True, exist_ok=True)
            continue
        digest, size = hashlib.sha256(), 0
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as src, open(dest, "wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        os.chmod(dest, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        records.append((rel, size, digest.hexdigest()))
    return records


class RegistryStore:
    """Queries and file operations over the registry tables of one store."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home

    @property
    def root(self) -> Path:
        """``<home>/registry``: where registered versions' files live."""
        return self.home / REGISTRY_DIRNAME

    def counts(self) -> dict[str, int]:
        """Row counts of the main registry tables, for ``info``."""
        tables = ("registered_models", "model_versions", "registry_activity")
        row = self.db.query("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables))[0]
        return dict(zip(tables, row, strict=True))

    # ---- errors that list what exists --------------------------------------

    def model_names(self) -> list[str]:
        """Every registered model name, sorted."""
        return [r[0] for r in self.db.query("SELECT name FROM registered_models ORDER BY name")]

    def _no_model(self, name: str) -> NotFound:
        names = self.model_names()
        listed = _listing([repr(n) for n in names], "none yet: register one with register_model(model_uri, name)")
        return NotFound(f"no registered model named {name!r}; registered models: {listed}")

    def _no_version(self, conn: sqlite3.Connection, name: str, version: int) -> NotFound:
        versions = [str(r[0]) for r in conn.execute(
            "SELECT version FROM model_versions WHERE name = ? ORDER BY version", (name,))]  # fmt: skip
        listed = _listing(versions, "none yet")
        return NotFound(f"registered model {name!r} has no version {version}; its versions: {listed}")

    def _aliases_listing(self, conn: sqlite3.Connection, name: str) -> str:
        rows = conn.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias", (name,)
        ).fetchall()
        return _listing([f"{a} -> {v}" for a, v in rows], "none yet (set one with set_registered_model_alias)")

    def _require_model(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = conn.execute("SELECT model_id FROM registered_models WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise self._no_model(name)
        return row

    def _require_version(self, conn: sqlite3.Connection, name: str, version: int) -> tuple[str, str]:
        row = conn.execute(
            "SELECT current_stage, storage_location FROM model_versions WHERE name = ? AND version = ?",
            (name, version),
        ).fetchone()
        if row is None:
            self._require_model(conn, name)
            raise self._no_version(conn, name, version)
        return row[0], row[1]

    # ---- activity log ------------------------------------------------------

    @staticmethod
    def _log(
        conn: sqlite3.Connection,
        activity_type: str,
        name: str,
        user: str | None,
        timestamp: int,
        version: int | None = None,
        from_stage: str | None = None,
        to_stage: str | None = None,
        comment: str | None = None,
        **details: Any,
    ) -> None:
        conn.execute(
            "INSERT INTO registry_activity (timestamp, user_id, activity_type, name, version, from_stage,"
            " to_stage, comment, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (timestamp, user, activity_type, name, version, from_stage, to_stage, comment,
             json.dumps(details, default=str)),
        )  # fmt: skip

    def activity(self, name: str, version: int | None = None) -> list[RegistryActivity]:
        """The activity log of a model (or one version), oldest first; kept after deletions."""
        sql = (
            "SELECT activity_id, activity_type, name, version, user_id, timestamp, from_stage, to_stage,"
            " comment, details FROM registry_activity WHERE name = ?"
        )
        params: list[Any] = [name]
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        rows = self.db.query(sql + " ORDER BY activity_id", params)
        if not rows and name not in self.model_names():
            raise self._no_model(name)
        return [
            RegistryActivity(activity_id=r[0], activity_type=r[1], name=r[2], version=r[3], user_id=r[4],
                             timestamp=r[5], from_stage=r[6], to_stage=r[7], comment=r[8],
                             details=json.loads(r[9] or "{}"))
            for r in rows
        ]  # fmt: skip

    # ---- registered models -------------------------------------------------

    def create_registered_model(
        self, name: str, tags: dict[str, str] | None, description: str | None, user: str | None
    ) -> RegisteredModel:
        """Create an empty registered model; ``AlreadyExists`` if the name is taken."""
        check_model_name(name)
        now = now_ms()
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO registered_models (name, model_id, description, creation_timestamp,"
                    " last_updated_timestamp) VALUES (?, ?, ?, ?, ?)",
                    (name, new_id(), description, now, now),
                )
                conn.executemany(
                    "INSERT INTO registered_model_tags VALUES (?, ?, ?)", [(name, k, v) for k, v in (tags or {}).items()]
                )
                self._log(conn, "CREATED_MODEL", name, user, now, description=description, tags=tags or {})
        except sqlite3.IntegrityError:
            raise AlreadyExists(
                f"registered model {name!r} already exists: register new versions with "
                f"register_model(model_uri, {name!r}) or pick another name"
            ) from None
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model with its tags, aliases and latest version per stage."""
        found = self._models("m.name = ?", [name])
        if not found:
            raise self._no_model(name)
        return found[0]

    def _models(self, where: str, params: Sequence[Any], order: str = "m.name", limit: str = "") -> list[RegisteredModel]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT m.name, m.creation_timestamp, m.last_updated_timestamp, m.description,"
                " (SELECT json_group_object(key, value) FROM registered_model_tags t WHERE t.name = m.name),"
                " (SELECT json_group_object(alias, version) FROM registered_model_aliases a WHERE a.name = m.name)"
                f" FROM registered_models m WHERE {where} ORDER BY {order}{limit}",
                params,
            ).fetchall()
            names = [r[0] for r in rows]
            latest: dict[str, list[ModelVersion]] = {n: [] for n in names}
            if names:
                marks = ", ".join("?" for _ in names)
                for mv in self._versions(
                    conn,
                    f"(v.name, v.version) IN (SELECT name, max(version) FROM model_versions"
                    f" WHERE name IN ({marks}) GROUP BY name, current_stage)",
                    names,
                    "v.name, v.version",
                ):
                    latest[mv.name].append(mv)
        return [
            RegisteredModel(r[0], r[1], r[2], r[3], latest[r[0]], json.loads(r[4] or "{}"),
                            dict(sorted(json.loads(r[5] or "{}").items())))
            for r in rows
        ]  # fmt: skip

    def search_registered_models(
        self,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int | None = None,
        offset: int = 0,
    ) -> list[RegisteredModel]:
        """Registered models matching ``name LIKE 'fraud%'`` / ``tags.team = 'risk'`` style filters."""
        clauses, params = where_clauses(
            parse_filter(filter_string), MODEL_ATTRIBUTES,
            {"tag": "m.name IN (SELECT name FROM registered_model_tags WHERE key = ? AND {})"},
            "registered models",
        )  # fmt: skip
        clauses.append("1")
        order = _order(order_by, MODEL_ATTRIBUTES, "registered models") or []
        if not any(o.startswith("m.name ") for o in order):
            order.append("m.name ASC")
        limit = _limit(max_results, offset)
        return self._models(" AND ".join(clauses), params, ", ".join(order), limit)

    def rename_registered_model(self, name: str, new_name: str, user: str | None) -> None:
        """Rename a model; its versions, aliases, requests and history follow it."""
        check_model_name(new_name, "new registered model name")
        if new_name == name:
            self.get_registered_model(name)
            return
        now = now_ms()
        with self.db.write() as conn:
            self._require_model(conn, name)
            if conn.execute("SELECT 1 FROM registered_models WHERE name = ?", (new_name,)).fetchone():
                raise AlreadyExists(f"cannot rename {name!r} to {new_name!r}: a registered model with that name exists")
            conn.execute(
                "UPDATE registered_models SET name = ?, last_updated_timestamp = ? WHERE name = ?", (new_name, now, name)
            )
            for table in ("registered_model_tags", "model_versions", "model_version_tags", "model_version_files",
                          "registered_model_aliases", "transition_requests", "registry_activity", "deployment_jobs",
                          "deployment_job_runs", "deployment_task_runs"):  # fmt: skip
                conn.execute(f"UPDATE {table} SET name = ? WHERE name = ?", (new_name, name))
            self._log(conn, "RENAMED_MODEL", new_name, user, now, old_name=name, new_name=new_name)

    def update_registered_model(self, name: str, description: str | None, user: str | None) -> RegisteredModel:
        """Set a model's description."""
        now = now_ms()
        with self.db.write() as conn:
            self._require_model(conn, name)
            conn.execute(
                "UPDATE registered_models SET description = ?, last_updated_timestamp = ? WHERE name = ?",
                (description, now, name),
            )
            self._log(conn, "UPDATED_DESCRIPTION", name, user, now, comment=description)
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str, user: str | None) -> None:
        """Delete a model, its versions (and their files), tags, aliases and requests; the log stays."""
        now = now_ms()
        with self.db.write() as conn:
            model_id = self._require_model(conn, name)[0]
            versions = [r[0] for r in conn.execute("SELECT version FROM model_versions WHERE name = ?", (name,))]
            for table in ("deployment_task_runs", "deployment_job_runs", "deployment_jobs",
                          "registered_model_aliases", "transition_requests", "model_version_files",
                          "model_version_tags", "model_versions", "registered_model_tags", "registered_models"):  # fmt: skip
                conn.execute(f"DELETE FROM {table} WHERE name = ?", (name,))
            self._log(conn, "DELETED_MODEL", name, user, now, deleted_versions=versions)
        shutil.rmtree(self.root / model_id, ignore_errors=True)

    def set_registered_model_tag(self, name: str, key: str, value: str, user: str | None) -> None:
        """Set a tag on a model (overwrites)."""
        now = now_ms()
        with self.db.write() as conn:
            self._require_model(conn, name)
            conn.execute("INSERT OR REPLACE INTO registered_model_tags VALUES (?, ?, ?)", (name, key, value))
            conn.execute("UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?", (now, name))
            self._log(conn, "SET_TAG", name, user, now, key=key, value=value)

    def delete_registered_model_tag(self, name: str, key: str, user: str | None) -> None:
        """Remove a tag from a model; ``NotFound`` lists its tags if it has no such tag."""
        now = now_ms()
        with self.db.write() as conn:
            self._require_model(conn, name)
            if not conn.execute("DELETE FROM registered_model_tags WHERE name = ? AND key = ?", (name, key)).rowcount:
                keys = [r[0] for r in conn.execute("SELECT key FROM registered_model_tags WHERE name = ?", (name,))]
                raise NotFound(f"registered model {name!r} has no tag {key!r}; its tags: {_listing(keys, 'none')}")
            self._log(conn, "DELETED_TAG", name, user, now, key=key)

    # ---- versions ----------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        folder: Path,
        source: str,
        run_id: str | None,
        tags: dict[str, str] | None,
        description: str | None,
        run_link: str | None,
        user: str | None,
        logged_model_id: str | None = None,
    ) -> ModelVersion:
        """Copy ``folder`` into the registry and record it as the model's next version.

        ``logged_model_id`` names the logged model it came from (its params and
        metrics then show on the version, as in MLflow 3).

        The copy (the slow part) happens before the write lock is taken; the
        number is taken from ``registered_models.last_version`` inside one
        ``BEGIN IMMEDIATE`` transaction, so concurrent registrations from
        several processes get distinct numbers, and the copied folder is moved
        to its final place in that same transaction.
        """
        with self.db.read() as conn:
            model_id = self._require_model(conn, name)[0]
        parent = self.root / model_id
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".tmp-{new_id()}"
        try:
            records = copy_tree(folder, staging)
            now = now_ms()
            with self.db.write() as conn:
                row = conn.execute("SELECT model_id FROM registered_models WHERE name = ?", (name,)).fetchone()
                if row is None or row[0] != model_id:
                    raise NotFound(f"registered model {name!r} was deleted or renamed while this version was copied")
                conn.execute(
                    "UPDATE registered_models SET last_version = last_version + 1, last_updated_timestamp = ?"
                    " WHERE name = ?",
                    (now, name),
                )
                version = conn.execute("SELECT last_version FROM registered_models WHERE name = ?", (name,)).fetchone()[0]
                final = parent / str(version)
                location = final.relative_to(self.home).as_posix()
                conn.execute(
                    "INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp,"
                    " description, user_id, current_stage, source, run_id, run_link, status, storage_location, model_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'None', ?, ?, ?, 'READY', ?, ?)",
                    (name, version, now, now, description, user, source, run_id, run_link, location, logged_model_id),
                )
                conn.executemany(
                    "INSERT INTO model_version_tags VALUES (?, ?, ?, ?)",
                    [(name, version, k, v) for k, v in (tags or {}).items()],
                )
                conn.executemany(
                    "INSERT INTO model_version_files VALUES (?, ?, ?, ?, ?)",
                    [(name, version, *record) for record in records],
                )
                self._log(conn, "CREATED_VERSION", name, user, now, version, source=source, run_id=run_id,
                          files=len(records))  # fmt: skip
                if final.exists():  # left by a crash between this rename and COMMIT: no row owns it
                    shutil.rmtree(final)
                os.rename(staging, final)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return self.get_model_version(name, version)

    def _versions(
        self, conn: sqlite3.Connection, where: str, params: Sequence[Any], order: str, limit: str = ""
    ) -> list[ModelVersion]:
        rows = conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM model_versions v WHERE {where} ORDER BY {order}{limit}", params
        ).fetchall()
        ids = sorted({r[15] for r in rows if r[15]})
        logged = {m.model_id: m for m in LoggedModelStore(self.db, self.home)._models(
            f"m.model_id IN ({', '.join('?' * len(ids))})", ids)} if ids else {}  # fmt: skip
        jobs = version_states(conn, [(r[0], r[1]) for r in rows])
        return [
            ModelVersion(
                name=r[0], version=r[1], creation_timestamp=r[2], last_updated_timestamp=r[3], description=r[4],
                user_id=r[5], current_stage=r[6], source=r[7], run_id=r[8], status=r[9], status_message=r[10],
                tags=json.loads(r[13] or "{}"), run_link=r[11], aliases=json.loads(r[14] or "[]"),
                storage_location=str(self.home / r[12]), model_id=r[15],
                params=[Param(k, v) for k, v in logged[r[15]].params.items()] if r[15] in logged else None,
                metrics=list(logged[r[15]].metrics) if r[15] in logged else None,
                deployment_job_state=jobs.get((r[0], r[1])),
            )  # fmt: skip
            for r in rows
        ]

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """One version; ``NotFound`` lists the model's versions (or the models)."""
        with self.db.read() as conn:
            found = self._versions(conn, "v.name = ? AND v.version = ?", [name, version], "v.version")
            if not found:
                self._require_version(conn, name, version)
        return found[0]

    def version_files(self, name: str, version: int) -> list[tuple[str, int, str]]:
        """``(path, size, sha256)`` of each file of a version's registry copy."""
        return [tuple(r) for r in self.db.query(  # type: ignore[misc]
            "SELECT path, size, sha256 FROM model_version_files WHERE name = ? AND version = ? ORDER BY path",
            (name, version),
        )]  # fmt: skip

    def update_model_version(self, name: str, version: int, description: str | None, user: str | None) -> ModelVersion:
        """Set a version's description."""
        now = now_ms()
        with self.db.write() as conn:
            self._require_version(conn, name, version)
            conn.execute(
                "UPDATE model_versions SET description = ?, last_updated_timestamp = ? WHERE name = ? AND version = ?",
                (description, now, name, version),
            )
            self._log(conn, "UPDATED_DESCRIPTION", name, user, now, version, comment=description)
        return self.get_model_version(name, version)

    def delete_model_version(self, name: str, version: int, user: str | None) -> None:
        """Delete a version, its files, tags, aliases and requests; its number is never given again."""
        now = now_ms()
        with self.db.write() as conn:
            stage, location = self._require_version(conn, name, version)
            aliases = [r[0] for r in conn.execute(
                "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ?", (name, version))]  # fmt: skip
            conn.execute("DELETE FROM deployment_task_runs WHERE run_id IN (SELECT run_id FROM deployment_job_runs"
                         " WHERE name = ? AND version = ?)", (name, version))  # fmt: skip
            for table in ("deployment_job_runs", "registered_model_aliases", "transition_requests",
                          "model_version_files", "model_version_tags", "model_versions"):  # fmt: skip
                conn.execute(f"DELETE FROM {table} WHERE name = ? AND version = ?", (name, version))
            conn.execute("UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?", (now, name))
            self._log(conn, "DELETED_VERSION", name, user, now, version, from_stage=stage, removed_aliases=aliases)
        shutil.rmtree(self.home / location, ignore_errors=True)

    def get_latest_versions(self, name: str, stages: Iterable[str] | None) -> list[ModelVersion]:
        """The newest version in each stage (each of ``stages``, or every stage), by version number."""
        wanted = [canonical_stage(s) for s in stages] if stages else list(STAGES)
        marks = ", ".join("?" for _ in wanted)
        with self.db.read() as conn:
            self._require_model(conn, name)
            return self._versions(
                conn,
                "(v.name, v.version) IN (SELECT name, max(version) FROM model_versions"
                f" WHERE name = ? AND current_stage IN ({marks}) GROUP BY current_stage)",
                [name, *wanted],
                "v.version",
            )

    def search_model_versions(
        self,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int | None = None,
        offset: int = 0,
    ) -> list[ModelVersion]:
        """Versions matching ``name = 'x' and tags.k = 'v'`` style filters (MLflow's keys plus stage/status)."""
        clauses, params = where_clauses(
            [_canonical_stages(cond) for cond in parse_filter(filter_string)], VERSION_ATTRIBUTES,
            {"tag": "EXISTS (SELECT 1 FROM model_version_tags t WHERE t.name = v.name"
                    " AND t.version = v.version AND key = ? AND {})"},
            "model versions",
        )  # fmt: skip
        clauses.append("1")
        order = _order(order_by, VERSION_ATTRIBUTES, "model versions") or []
        if not any(o.startswith("v.name ") for o in order):
            order.append("v.name ASC")
        if not any(o.startswith("v.version ") for o in order):
            order.append("v.version DESC")
        limit = _limit(max_results, offset)
        with self.db.read() as conn:
            return self._versions(conn, " AND ".join(clauses), params, ", ".join(order), limit)

    def set_model_version_tag(self, name: str, version: int, key: str, value: str, user: str | None) -> None:
        """Set a tag on a version (overwrites)."""
        now = now_ms()
        with self.db.write() as conn:
            self._require_version(conn, name, version)
            conn.execute("INSERT OR REPLACE INTO model_version_tags VALUES (?, ?, ?, ?)", (name, version, key, value))
            conn.execute(
                "UPDATE model_versions SET last_updated_timestamp = ? WHERE name = ? AND version = ?", (now, name, version)
            )
            self._log(conn, "SET_TAG", name, user, now, version, key=key, value=value)

    def delete_model_version_tag(self, name: str, version: int, key: str, user: str | None) -> None:
        """Remove a tag from a version; ``NotFound`` lists its tags if it has no such tag."""
        now = now_ms()
        with self.db.write() as conn:
            self._require_version(conn, name, version)
            deleted = conn.execute(
                "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?", (name, version, key)
            ).rowcount
            if not deleted:
                keys = [r[0] for r in conn.execute(
                    "SELECT key FROM model_version_tags WHERE name = ? AND version = ?", (name, version))]  # fmt: skip
                raise NotFound(f"{name!r} version {version} has no tag {key!r}; its tags: {_listing(keys, 'none')}")
            self._log(conn, "DELETED_TAG", name, user, now, version, key=key)

    # ---- stages ------------------------------------------------------------

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing_versions: bool,
        user: str | None,
        activity_type: str = "APPLIED_TRANSITION",
        comment: str | None = None,
    ) -> ModelVersion:
        """Move a version to ``stage``; optionally archive the others in that stage, all with one timestamp.

        The archived versions are logged as ``SYSTEM_TRANSITION`` entries, as
        managed MLflow does.
        """
        target = canonical_stage(stage)
        if archive_existing_versions and target not in ACTIVE_STAGES:
            raise InvalidInput(
                f"archive_existing_versions=True only applies to {' and '.join(ACTIVE_STAGES)}, "
                f"not {target!r}: drop it or pick one of those stages"
            )
        now = now_ms()
        with self.db.write() as conn:
            current, _ = self._require_version(conn, name, version)
            if archive_existing_versions:
                others = [r[0] for r in conn.execute(
                    "SELECT version FROM model_versions WHERE name = ? AND version != ? AND current_stage = ?",
                    (name, version, target))]  # fmt: skip
                for other in others:
                    conn.execute(
                        "UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = ?"
                        " WHERE name = ? AND version = ?",
                        (now, name, other),
                    )
                    self._log(conn, "SYSTEM_TRANSITION", name, user, now, other, target, "Archived",
                              reason=f"version {version} moved to {target} with archive_existing_versions")  # fmt: skip
            conn.execute(
                "UPDATE model_versions SET current_stage = ?, last_updated_timestamp = ? WHERE name = ? AND version = ?",
                (target, now, name, version),
            )
            conn.execute("UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?", (now, name))
            self._log(conn, activity_type, name, user, now, version, current, target, comment,
                      archive_existing_versions=archive_existing_versions)  # fmt: skip
        return self.get_model_version(name, version)

    # ---- aliases -----------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int, user: str | None) -> None:
        """Point ``alias`` at ``version``: one statement, so readers see the old or the new target."""
        check_alias(alias)
        now = now_ms()
        with self.db.write() as conn:
            self._require_version(conn, name, version)
            old = conn.execute(
                "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias)
            ).fetchone()
            conn.execute(
                "INSERT INTO registered_model_aliases VALUES (?, ?, ?)"
                " ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                (name, alias, version),
            )
            conn.execute("UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?", (now, name))
            self._log(conn, "SET_ALIAS", name, user, now, version, alias=alias,
                      previous_version=old[0] if old else None)  # fmt: skip

    def delete_alias(self, name: str, alias: str, user: str | None) -> None:
        """Remove an alias; ``NotFound`` lists the model's aliases if it has no such alias."""
        now = now_ms()
        with self.db.write() as conn:
            self._require_model(conn, name)
            old = conn.execute(
                "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias)
            ).fetchone()
            if old is None:
                raise NotFound(f"registered model {name!r} has no alias {alias!r}; its aliases: "
                               f"{self._aliases_listing(conn, name)}")  # fmt: skip
            conn.execute("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias))
            conn.execute("UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?", (now, name))
            self._log(conn, "DELETED_ALIAS", name, user, now, old[0], alias=alias)

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points to; ``NotFound`` lists the model's aliases."""
        with self.db.read() as conn:
            self._require_model(conn, name)
            row = conn.execute(
                "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias)
            ).fetchone()
            if row is None:
                raise NotFound(f"registered model {name!r} has no alias {alias!r}; its aliases: "
                               f"{self._aliases_listing(conn, name)}")  # fmt: skip
            return self._versions(conn, "v.name = ? AND v.version = ?", [name, row[0]], "v.version")[0]

    # ---- transition requests and comments ---------------------------------

    def _requests(self, conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> list[TransitionRequest]:
        rows = conn.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM transition_requests WHERE {where} ORDER BY creation_timestamp, rowid",
            params,
        ).fetchall()
        return [TransitionRequest(*r) for r in rows]

    def create_request(
        self, name: str, version: int, stage: str, comment: str | None, user: str | None
    ) -> TransitionRequest:
        """Ask for a version to move to ``stage``; one pending request per version and stage."""
        target = canonical_stage(stage)
        now = now_ms()
        with self.db.write() as conn:
            current, _ = self._require_version(conn, name, version)
            if current == target:
                raise InvalidState(f"{name!r} version {version} is already in {target}: nothing to request")
            pending = self._requests(conn, "name = ? AND version = ? AND to_stage = ? AND status = 'PENDING'",
                                     [name, version, target])  # fmt: skip
            if pending:
                raise AlreadyExists(
                    f"{pending[0].user_id} already requested {name!r} version {version} -> {target}: "
                    "approve, reject or cancel that request first"
                )
            request_id = new_id()
            conn.execute(
                f"INSERT INTO transition_requests ({_REQUEST_COLUMNS}) VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, NULL, NULL)",
                (request_id, name, version, target, user, comment, now, now),
            )
            self._log(conn, "REQUESTED_TRANSITION", name, user, now, version, current, target, comment,
                      request_id=request_id)  # fmt: skip
            return self._requests(conn, "request_id = ?", [request_id])[0]

    def resolve_request(
        self,
        name: str,
        version: int,
        stage: str,
        status: str,
        comment: str | None,
        user: str | None,
        archive_existing_versions: bool = False,
    ) -> TransitionRequest:
        """Approve (and apply), reject or cancel the pending request for ``version`` -> ``stage``."""
        target = canonical_stage(stage)
        activity = {"APPROVED": "APPROVED_REQUEST", "REJECTED": "REJECTED_REQUEST", "CANCELLED": "CANCELLED_REQUEST"}
        now = now_ms()
        with self.db.write() as conn:
            current, _ = self._require_version(conn, name, version)
            pending = self._requests(conn, "name = ? AND version = ? AND status = 'PENDING'", [name, version])
            match = [r for r in pending if r.to_stage == target]
            if not match:
                listed = _listing([f"-> {r.to_stage} (by {r.user_id})" for r in pending], "none")
                raise NotFound(f"no pending request to move {name!r} version {version} to {target}; "
                               f"its pending requests: {listed}")  # fmt: skip
            request = match[0]
            conn.execute(
                "UPDATE transition_requests SET status = ?, resolved_by = ?, resolution_comment = ?,"
                " last_updated_timestamp = ? WHERE request_id = ?",
                (status, user, comment, now, request.request_id),
            )
            if status == "APPROVED":
                self.transition_stage(name, version, target, archive_existing_versions, user,
                                      "APPROVED_REQUEST", comment)  # fmt: skip
            else:
                self._log(conn, activity[status], name, user, now, version, current, target, comment,
                          request_id=request.request_id, requested_by=request.user_id)  # fmt: skip
            return self._requests(conn, "request_id = ?", [request.request_id])[0]

    def list_requests(self, name: str, version: int | None, pending_only: bool) -> list[TransitionRequest]:
        """Transition requests of a model (or one version), oldest first."""
        with self.db.read() as conn:
            params: list[Any] = [name]
            if version is None:
                self._require_model(conn, name)
                where = "name = ?"
            else:
                self._require_version(conn, name, version)
                where = "name = ? AND version = ?"
                params.append(version)
            if pending_only:
                where += " AND status = 'PENDING'"
            return self._requests(conn, where, params)

    def add_comment(self, name: str, version: int, comment: str, user: str | None) -> None:
        """Record a comment on a version in the activity log."""
        if not isinstance(comment, str) or not comment.strip():
            raise InvalidInput(f"a comment must be a non-empty string, got {comment!r}")
        now = now_ms()
        with self.db.write() as conn:
            self._require_version(conn, name, version)
            self._log(conn, "NEW_COMMENT", name, user, now, version, comment=comment)


def version_states(conn: sqlite3.Connection, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], ModelVersionDeploymentJobState]:
    """The latest deployment job run of each ``(name, version)``, as MLflow 3's state objects."""
    if not keys:
        return {}
    names = sorted({k[0] for k in keys})
    marks = ", ".join("?" * len(names))
    rows = conn.execute(
        f"SELECT r.run_id, r.job_id, r.name, r.version, r.status, r.current_task, r.error,"
        f" EXISTS (SELECT 1 FROM deployment_jobs j WHERE j.name = r.name AND j.job_id = r.job_id)"
        f" FROM deployment_job_runs r WHERE r.name IN ({marks}) ORDER BY r.creation_timestamp, r.rowid", names,
    ).fetchall()  # fmt: skip
    wanted = set(keys)
    latest = {(r[2], r[3]): r for r in rows if (r[2], r[3]) in wanted}
    out = {}
    for key, r in latest.items():
        tasks = dict(conn.execute("SELECT task_name, status FROM deployment_task_runs WHERE run_id = ?"
                                  " ORDER BY task_index", (r[0],)).fetchall())  # fmt: skip
        out[key] = ModelVersionDeploymentJobState(job_id=r[1], run_id=r[0], job_state="CONNECTED" if r[7] else "NOT_FOUND",
                                                  run_state=r[4], current_task_name=r[5], tasks=tasks, error=r[6])  # fmt: skip
    return out


def _limit(max_results: object, offset: object) -> str:
    """`` LIMIT n OFFSET m`` from checked integers (no limit when ``max_results`` is 0 or ``None``)."""
    limit = check_max_results(max_results)
    return f" LIMIT {limit} OFFSET {check_max_results(offset, 'offset') or 0}" if limit else ""


def _order(order_by: list[str] | None, columns: dict[str, tuple[str, bool]], what: str) -> list[str]:
    order = []
    for clause in parse_order_by(order_by):
        if clause.kind != "attribute" or clause.key not in columns:
            raise InvalidInput(f"cannot order {what} by {clause.key!r}; use one of {', '.join(columns)}")
        order.append(f"{columns[clause.key][0]} {'ASC' if clause.ascending else 'DESC'}")
    return order


def _canonical_stages(cond: Condition) -> Condition:
    """Stages compare in any case, as everywhere else: 'production' finds Production."""
    if cond.kind != "attribute" or cond.key != "current_stage" or cond.comparator not in ("=", "!=", "IN", "NOT IN"):
        return cond
    given = cond.value if isinstance(cond.value, tuple) else (cond.value,)
    canon = tuple(canonical_stage(str(s)) for s in given)
    return Condition(cond.kind, cond.key, cond.comparator, canon if isinstance(cond.value, tuple) else canon[0])
