"""SQL for prompts: versioned templates with aliases and tags (migration ``m0013_prompts``).

Rows go out as plain dicts; ``jupyter_lifecycle.genai.prompts`` builds its
``PromptVersion``/``Prompt`` entities from them (the store sits below it).
Names and aliases follow the model registry's rules (``store/registry.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from .database import Database
from .registry import check_alias, check_model_name, version_number
from .search import check_max_results, parse_filter, parse_order_by, where_clauses
from .tracking import now_ms

__all__ = ["PromptStore"]

ATTRIBUTES = {
    "name": ("p.name", False),
    "creation_timestamp": ("p.creation_timestamp", True),
    "last_updated_timestamp": ("p.last_updated_timestamp", True),
}
KEYED = {"tag": "EXISTS (SELECT 1 FROM json_each(p.tags_json) WHERE key = ? AND {})"}
_VERSION_COLUMNS = (
    "v.name, v.version, v.template, v.chat, v.commit_message, v.creation_timestamp, v.tags_json,"
    " (SELECT json_group_array(alias) FROM (SELECT alias FROM prompt_aliases a"
    "  WHERE a.name = v.name AND a.version = v.version ORDER BY alias))"
)


def check_prompt_name(name: Any) -> str:
    """A valid prompt name (the registry's rules: no '/' or ':', which would break ``prompts:/`` URIs)."""
    return check_model_name(name, "prompt name")


class PromptStore:
    """Prompts of one store file."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home

    def create_version(
        self, name: str, template: str, chat: bool, commit_message: str | None, tags: dict[str, str]
    ) -> dict[str, Any]:
        """Add the next version of prompt ``name`` (creating the prompt on its first version)."""
        check_prompt_name(name)
        now = now_ms()
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO prompts (name, creation_timestamp, last_updated_timestamp) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, now, now),
            )
            version = conn.execute(
                "UPDATE prompts SET last_version = last_version + 1, last_updated_timestamp = ? WHERE name = ?"
                " RETURNING last_version",
                (now, name),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO prompt_versions (name, version, template, chat, commit_message, creation_timestamp,"
                " tags_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, version, template, int(chat), commit_message, now, json.dumps(tags)),
            )
        return self.get_version(name, version)

    def get_version(self, name: str, version: Any) -> dict[str, Any]:
        """One version as a dict; ``NotFound`` names the versions that exist."""
        number = version_number(version)
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM prompt_versions v WHERE v.name = ? AND v.version = ?", (name, number)
            ).fetchone()
            if row is None:
                existing = [r[0] for r in conn.execute(
                    "SELECT version FROM prompt_versions WHERE name = ? ORDER BY version", (name,))]  # fmt: skip
                self._require(conn, name)
                raise NotFound(f"prompt {name!r} has no version {number}: its versions are {existing}")
        return _version(row)

    def latest_version(self, name: str) -> int:
        """The newest version number of prompt ``name``."""
        with self.db.read() as conn:
            self._require(conn, name)
            row = conn.execute("SELECT max(version) FROM prompt_versions WHERE name = ?", (name,)).fetchone()
        if row[0] is None:
            raise NotFound(f"prompt {name!r} has no versions: register one with register_prompt")
        return int(row[0])

    def version_for_alias(self, name: str, alias: str) -> int:
        """The version an alias points to; ``NotFound`` lists the prompt's aliases."""
        with self.db.read() as conn:
            self._require(conn, name)
            row = conn.execute(
                "SELECT version FROM prompt_aliases WHERE name = ? AND alias = ?", (name, alias)
            ).fetchone()
            if row is None:
                aliases = [r[0] for r in conn.execute(
                    "SELECT alias FROM prompt_aliases WHERE name = ? ORDER BY alias", (name,))]  # fmt: skip
                raise NotFound(
                    f"prompt {name!r} has no alias {alias!r}: its aliases are {aliases}; set one with set_prompt_alias"
                )
        return int(row[0])

    def set_alias(self, name: str, alias: str, version: Any) -> None:
        """Point ``alias`` at a version of ``name`` (moving it if it pointed elsewhere)."""
        check_alias(alias)
        number = version_number(version)
        self.get_version(name, number)  # NotFound for an unknown prompt or version
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO prompt_aliases (name, alias, version) VALUES (?, ?, ?)", (name, alias, number)
            )
            conn.execute("UPDATE prompts SET last_updated_timestamp = ? WHERE name = ?", (now_ms(), name))

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias; ``NotFound`` when the prompt has no such alias."""
        with self.db.write() as conn:
            self._require(conn, name)
            if conn.execute("DELETE FROM prompt_aliases WHERE name = ? AND alias = ?", (name, alias)).rowcount == 0:
                raise NotFound(f"prompt {name!r} has no alias {alias!r}")

    def set_tag(self, name: str, key: str, value: str) -> None:
        """Set a tag on the prompt itself (``search_prompts`` filters on these)."""
        with self.db.write() as conn:
            self._require(conn, name)
            conn.execute(
                "UPDATE prompts SET tags_json = json_patch(tags_json, json_object(?, ?)) WHERE name = ?",
                (key, value, name),
            )

    def delete_tag(self, name: str, key: str) -> None:
        """Remove a tag of the prompt; ``NotFound`` when it has no such tag."""
        with self.db.write() as conn:
            self._require(conn, name)
            found = conn.execute(
                "SELECT 1 FROM prompts, json_each(prompts.tags_json) WHERE name = ? AND key = ?", (name, key)
            ).fetchone()
            if found is None:
                raise NotFound(f"prompt {name!r} has no tag {key!r}")
            conn.execute(
                "UPDATE prompts SET tags_json = json_patch(tags_json, json_object(?, json('null'))) WHERE name = ?",
                (key, name),
            )

    def search(
        self, filter_string: str | None, max_results: int | None, order_by: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        """Prompts matching MLflow's filter grammar (``name``, ``tags.<key>``), by name unless ``order_by``."""
        clauses, params = where_clauses(parse_filter(filter_string), ATTRIBUTES, KEYED, "prompts")
        order = []
        for clause in parse_order_by(list(order_by or [])):
            if clause.kind != "attribute" or clause.key not in ATTRIBUTES:
                raise InvalidInput(
                    f"invalid order_by: prompts can be ordered by {', '.join(ATTRIBUTES)}, not {clause.kind} {clause.key!r}"
                )
            order.append(f"{ATTRIBUTES[clause.key][0]} {'ASC' if clause.ascending else 'DESC'}")
        sql = (
            "SELECT p.name, p.creation_timestamp, p.last_updated_timestamp, p.tags_json,"
            " (SELECT max(version) FROM prompt_versions v WHERE v.name = p.name),"
            " (SELECT json_group_object(alias, version) FROM prompt_aliases a WHERE a.name = p.name) FROM prompts p"
            + (" WHERE " + " AND ".join(clauses) if clauses else "")
            + " ORDER BY " + ", ".join([*order, "p.name"])
        )  # fmt: skip
        limit = check_max_results(max_results)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            {"name": r[0], "creation_timestamp": r[1], "last_updated_timestamp": r[2], "tags": json.loads(r[3]),
             "latest_version": r[4], "aliases": json.loads(r[5])}
            for r in self.db.query(sql, params)
        ]  # fmt: skip

    @staticmethod
    def _require(conn: Any, name: str) -> None:
        if conn.execute("SELECT 1 FROM prompts WHERE name = ?", (name,)).fetchone() is None:
            raise NotFound(f"prompt {name!r} not found: register it with register_prompt (search_prompts lists them)")


def _version(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "name": row[0], "version": row[1], "template": json.loads(row[2]) if row[3] else row[2],
        "commit_message": row[4], "creation_timestamp": row[5], "tags": json.loads(row[6]),
        "aliases": json.loads(row[7]),
    }  # fmt: skip
