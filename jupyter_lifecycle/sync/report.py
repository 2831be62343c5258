"""What a sync did: counts per kind, conflicts and per-object errors."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SyncReport:
    """The outcome of a push, pull or import; ``ok`` is false when anything was left out."""

    remote: str
    direction: str
    dry_run: bool = False
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    """Objects deleted here and so deleted over there (or, pulling, the other way round)."""
    restored: Counter[str] = field(default_factory=Counter)
    metric_points: int = 0
    files: int = 0
    conflicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    items: list[tuple[str, str, str]] = field(default_factory=list)
    """``(created|updated|deleted|restored, kind, label)`` of each object a dry run would send, for the sidebar's comparison."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, what: str, kind: str, n: int = 1, label: str | None = None) -> None:
        """Add ``n`` to ``created``, ``updated``, ``unchanged``, ``deleted`` or ``restored`` for ``kind`` (thread-safe); ``label`` names the object in ``items``."""
        with self._lock:
            getattr(self, what)[kind] += n
            if label is not None and what != "unchanged":
                self.items.append((what, kind, label))

    def add(self, points: int = 0, files: int = 0) -> None:
        """Add metric points and files sent or received (thread-safe)."""
        with self._lock:
            self.metric_points += points
            self.files += files

    def conflict(self, message: str) -> None:
        """Record an object changed or deleted on the other side, left alone."""
        with self._lock:
            self.conflicts.append(message)

    def error(self, message: str) -> None:
        """Record an object that failed; the others went on."""
        with self._lock:
            self.errors.append(message)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the REST API's answer to a push)."""
        return {"remote": self.remote, "direction": self.direction, "dry_run": self.dry_run, "ok": self.ok,
                "created": dict(self.created), "updated": dict(self.updated), "unchanged": dict(self.unchanged),
                "deleted": dict(self.deleted), "restored": dict(self.restored),
                "metric_points": self.metric_points, "files": self.files, "conflicts": list(self.conflicts),
                "errors": list(self.errors), "seconds": round(self.seconds, 3), "text": str(self)}  # fmt: skip

    @property
    def ok(self) -> bool:
        """Whether everything asked for was synced (no conflict, no error)."""
        return not self.conflicts and not self.errors

    def __str__(self) -> str:
        verb = {"push": "would push to" if self.dry_run else "pushed to", "pull": "pulled from",
                "import": "imported from"}[self.direction]  # fmt: skip
        kinds = sorted(set(self.created) | set(self.updated) | set(self.unchanged) | set(self.deleted) | set(self.restored))
        lines = [f"{verb} {self.remote} in {self.seconds:.1f} s: {self.metric_points} metric points, {self.files} files"]
        for kind in kinds:
            line = f"  {kind}: {self.created[kind]} new, {self.updated[kind]} updated, {self.unchanged[kind]} unchanged"
            line += "".join(f", {getattr(self, what)[kind]} {what}" for what in ("deleted", "restored")
                            if getattr(self, what)[kind])  # fmt: skip
            lines.append(line)
        lines += [f"  conflict: {c}" for c in self.conflicts]
        lines += [f"  error: {e}" for e in self.errors]
        if not self.ok:
            lines.append("  (the objects above were not synced; the rest was. Run again after fixing them: "
                         "what was synced is not sent twice)")  # fmt: skip
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))  # IPython shows the report, not the dataclass fields

    def _repr_markdown_(self) -> str:
        return "```\n" + str(self) + "\n```"
