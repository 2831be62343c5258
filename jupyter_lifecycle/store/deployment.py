"""SQL for deployment jobs: a model's task list, runs per version, each task's status and executed notebook.

Every state change writes its row and a ``registry_activity`` entry in one
transaction (the version's activity log never misses one), and the partial
unique index of migration ``m0011_deployment_jobs`` lets only one run per
version be active: a second start fails in SQL, whichever process tries.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..entities import (
    DeploymentJob,
    DeploymentJobRun,
    DeploymentTask,
    DeploymentTaskRun,
)
from ..errors import Conflict, InvalidState, NotFound
from .database import Database
from .liveness import HOST, process_alive
from .registry import RegistryStore
from .tracking import new_id, now_ms

ACTIVE = ("PENDING", "RUNNING", "APPROVAL")
"""Run states of a job still in progress (at most one per version)."""

_RUN_COLUMNS = ("run_id, job_id, name, version, status, current_task, parameters, error, worker_pid, user_id,"
                " creation_timestamp, last_updated_timestamp, end_timestamp, worker_host")  # fmt: skip
_TASK_COLUMNS = "task_index, task_name, notebook, status, output_notebook, error, start_timestamp, end_timestamp"


class DeploymentStore:
    """Queries over the deployment job tables of one store."""

    def __init__(self, db: Database, home: Path, registry: RegistryStore) -> None:
        self.db = db
        self.home = home
        self.registry = registry

    @property
    def root(self) -> Path:
        """``<home>/deployment_jobs``: executed task notebooks and worker logs, one folder per run."""
        return self.home / "deployment_jobs"

    # ---- jobs ---------------------------------------------------------------

    def set_job(self, name: str, tasks: list[DeploymentTask], parameters: dict[str, Any], user: str | None) -> DeploymentJob:
        """Give model ``name`` this job (replacing its tasks, keeping its id); logged as SET_DEPLOYMENT_JOB."""
        now = now_ms()
        payload = json.dumps([{"name": t.name, "notebook": t.notebook} for t in tasks])
        with self.db.write() as conn:
            self.registry._require_model(conn, name)
            row = conn.execute("SELECT job_id FROM deployment_jobs WHERE name = ?", (name,)).fetchone()
            job_id = row[0] if row else new_id()
            conn.execute(
                "INSERT INTO deployment_jobs VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " tasks = excluded.tasks, parameters = excluded.parameters,"
                " last_updated_timestamp = excluded.last_updated_timestamp",
                (name, job_id, payload, json.dumps(parameters, default=str), now, now),
            )
            self.registry._log(conn, "SET_DEPLOYMENT_JOB", name, user, now, job_id=job_id,
                               tasks=[t.name for t in tasks])  # fmt: skip
        job = self.get_job(name)
        assert job is not None
        return job

    def get_job(self, name: str) -> DeploymentJob | None:
        """The job of model ``name``, or ``None`` when it has none."""
        rows = self.db.query("SELECT job_id, name, tasks, parameters, creation_timestamp, last_updated_timestamp"
                             " FROM deployment_jobs WHERE name = ?", (name,))  # fmt: skip
        return _job(rows[0]) if rows else None

    def get_job_by_id(self, job_id: str) -> DeploymentJob:
        """The job with this id; ``NotFound`` lists the models that have one."""
        rows = self.db.query("SELECT job_id, name, tasks, parameters, creation_timestamp, last_updated_timestamp"
                             " FROM deployment_jobs WHERE job_id = ?", (job_id,))  # fmt: skip
        if not rows:
            known = [f"{r[0]} ({r[1]})" for r in self.db.query("SELECT job_id, name FROM deployment_jobs ORDER BY name")]
            raise NotFound(f"no deployment job has id {job_id!r}; jobs: {', '.join(known) or 'none yet'}")
        return _job(rows[0])

    def delete_job(self, name: str, user: str | None) -> None:
        """Remove model ``name``'s job (its past runs stay); new versions then start nothing."""
        now = now_ms()
        with self.db.write() as conn:
            self.registry._require_model(conn, name)
            if conn.execute("DELETE FROM deployment_jobs WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"registered model {name!r} has no deployment job")
            self.registry._log(conn, "DELETED_DEPLOYMENT_JOB", name, user, now)

    # ---- runs ---------------------------------------------------------------

    def create_run(self, job: DeploymentJob, version: int, start_index: int, user: str | None) -> DeploymentJobRun:
        """A PENDING run of ``job`` for ``version``; tasks before ``start_index`` are SKIPPED.

        ``Conflict`` when the version already has an active run (the unique
        index decides); an active run whose worker process is gone is marked
        FAILED first, so a crashed worker does not block the version forever.
        """
        now = now_ms()
        run_id = new_id()
        with self.db.write() as conn:
            self.registry._require_version(conn, job.name, version)
            self._reap(conn, job.name, version, now)
            try:
                conn.execute(
                    f"INSERT INTO deployment_job_runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, 'PENDING', NULL, ?, NULL,"
                    " NULL, ?, ?, ?, NULL, NULL)",
                    (run_id, job.job_id, job.name, version, json.dumps(job.parameters, default=str), user, now, now),
                )
            except sqlite3.IntegrityError:
                active = conn.execute("SELECT run_id, status, current_task FROM deployment_job_runs WHERE name = ?"
                                      " AND version = ? AND status IN ('PENDING', 'RUNNING', 'APPROVAL')",
                                      (job.name, version)).fetchone()  # fmt: skip
                raise Conflict(f"{job.name!r} version {version} already has a deployment job run in progress "
                               f"(run {active[0]}, {active[1]}, task {active[2]}): wait for it to finish, "
                               "or approve/reject its pending request") from None  # fmt: skip
            conn.executemany(
                f"INSERT INTO deployment_task_runs (run_id, name, {_TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL,"
                " NULL, NULL, NULL)",
                [(run_id, job.name, i, t.name, t.notebook, "SKIPPED" if i < start_index else "PENDING")
                 for i, t in enumerate(job.tasks)],
            )  # fmt: skip
            self.registry._log(conn, "DEPLOYMENT_JOB_PENDING", job.name, user, now, version, job_id=job.job_id,
                               run_id=run_id, from_task=job.tasks[start_index].name)  # fmt: skip
        return self.get_run(run_id)

    def _reap(self, conn: sqlite3.Connection, name: str, version: int, now: int) -> None:
        for run_id, pid, host in conn.execute(
            "SELECT run_id, worker_pid, worker_host FROM deployment_job_runs WHERE name = ? AND version = ?"
            " AND status IN ('PENDING', 'RUNNING', 'APPROVAL') AND worker_pid IS NOT NULL", (name, version)
        ).fetchall():  # fmt: skip
            if host == HOST and not process_alive(pid, now):
                self._finish(conn, run_id, "FAILED", f"the worker process {pid} is gone", now, None)

    def set_worker(self, run_id: str, pid: int) -> None:
        """Record the worker process that runs ``run_id`` (for the dead-worker check)."""
        with self.db.write() as conn:
            conn.execute("UPDATE deployment_job_runs SET worker_pid = ?, worker_host = ? WHERE run_id = ?",
                         (pid, HOST, run_id))  # fmt: skip

    def _run_row(self, conn: sqlite3.Connection, run_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT name, version, job_id FROM deployment_job_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"no deployment job run {run_id!r}")
        return row

    def start_task(self, run_id: str, index: int) -> None:
        """Task ``index`` started: the run is RUNNING it."""
        now = now_ms()
        with self.db.write() as conn:
            name, version, job_id = self._run_row(conn, run_id)
            task = conn.execute("SELECT task_name FROM deployment_task_runs WHERE run_id = ? AND task_index = ?",
                                (run_id, index)).fetchone()[0]  # fmt: skip
            conn.execute("UPDATE deployment_task_runs SET status = 'RUNNING', start_timestamp = ? WHERE run_id = ?"
                         " AND task_index = ?", (now, run_id, index))  # fmt: skip
            conn.execute("UPDATE deployment_job_runs SET status = 'RUNNING', current_task = ?,"
                         " last_updated_timestamp = ? WHERE run_id = ?", (task, now, run_id))  # fmt: skip
            self.registry._log(conn, "DEPLOYMENT_TASK_RUNNING", name, None, now, version, job_id=job_id,
                               run_id=run_id, task=task)  # fmt: skip

    def set_run_status(self, run_id: str, status: str, comment: str | None = None) -> None:
        """Mark an active run PENDING, RUNNING or APPROVAL (waiting for an approval), logged."""
        now = now_ms()
        with self.db.write() as conn:
            name, version, job_id = self._run_row(conn, run_id)
            task = conn.execute("SELECT current_task FROM deployment_job_runs WHERE run_id = ?", (run_id,)).fetchone()[0]
            conn.execute("UPDATE deployment_job_runs SET status = ?, last_updated_timestamp = ? WHERE run_id = ?"
                         " AND status IN ('PENDING', 'RUNNING', 'APPROVAL')", (status, now, run_id))  # fmt: skip
            self.registry._log(conn, f"DEPLOYMENT_JOB_{status}", name, None, now, version, comment=comment,
                               job_id=job_id, run_id=run_id, task=task)  # fmt: skip

    def finish_task(self, run_id: str, index: int, status: str, output: str | None, error: str | None) -> None:
        """Task ``index`` ended SUCCEEDED or FAILED, with its executed notebook (relative to the home)."""
        now = now_ms()
        with self.db.write() as conn:
            name, version, job_id = self._run_row(conn, run_id)
            task = conn.execute("SELECT task_name FROM deployment_task_runs WHERE run_id = ? AND task_index = ?",
                                (run_id, index)).fetchone()[0]  # fmt: skip
            conn.execute("UPDATE deployment_task_runs SET status = ?, output_notebook = ?, error = ?,"
                         " end_timestamp = ? WHERE run_id = ? AND task_index = ?",
                         (status, output, error, now, run_id, index))  # fmt: skip
            conn.execute("UPDATE deployment_job_runs SET last_updated_timestamp = ? WHERE run_id = ?", (now, run_id))
            self.registry._log(conn, f"DEPLOYMENT_TASK_{status}", name, None, now, version, comment=error,
                               job_id=job_id, run_id=run_id, task=task, output_notebook=output)  # fmt: skip

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        """The run ended SUCCEEDED or FAILED (``error`` says why); logged on the version."""
        with self.db.write() as conn:
            self._finish(conn, run_id, status, error, now_ms(), None)

    def _finish(self, conn: sqlite3.Connection, run_id: str, status: str, error: str | None, now: int,
                user: str | None) -> None:  # fmt: skip
        name, version, job_id = self._run_row(conn, run_id)
        conn.execute("UPDATE deployment_job_runs SET status = ?, error = ?, end_timestamp = ?,"
                     " last_updated_timestamp = ? WHERE run_id = ?", (status, error, now, now, run_id))  # fmt: skip
        if status == "FAILED":
            conn.execute("UPDATE deployment_task_runs SET status = 'FAILED', error = coalesce(error, ?),"
                         " end_timestamp = ? WHERE run_id = ? AND status = 'RUNNING'", (error, now, run_id))  # fmt: skip
        self.registry._log(conn, f"DEPLOYMENT_JOB_{status}", name, user, now, version, comment=error, job_id=job_id,
                           run_id=run_id)  # fmt: skip

    def get_run(self, run_id: str) -> DeploymentJobRun:
        """One run with its tasks."""
        with self.db.read() as conn:
            found = self._runs(conn, "run_id = ?", [run_id])
        if not found:
            raise NotFound(f"no deployment job run {run_id!r}")
        return found[0]

    def runs(self, name: str, version: int | None = None) -> list[DeploymentJobRun]:
        """The runs of a model (or one version), oldest first."""
        with self.db.read() as conn:
            if version is None:
                self.registry._require_model(conn, name)
                return self._runs(conn, "name = ?", [name])
            self.registry._require_version(conn, name, version)
            return self._runs(conn, "name = ? AND version = ?", [name, version])

    def _runs(self, conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> list[DeploymentJobRun]:
        rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM deployment_job_runs WHERE {where}"
                            " ORDER BY creation_timestamp, rowid", params).fetchall()  # fmt: skip
        out = []
        for r in rows:
            tasks = [DeploymentTaskRun(index=t[0], name=t[1], notebook=t[2], status=t[3],
                                       output_notebook=str(self.home / t[4]) if t[4] else None, error=t[5],
                                       start_timestamp=t[6], end_timestamp=t[7])
                     for t in conn.execute(f"SELECT {_TASK_COLUMNS} FROM deployment_task_runs WHERE run_id = ?"
                                           " ORDER BY task_index", (r[0],))]  # fmt: skip
            out.append(DeploymentJobRun(
                run_id=r[0], job_id=r[1], name=r[2], version=r[3], status=r[4], current_task_name=r[5],
                tasks=tasks, parameters=json.loads(r[6] or "{}"), error=r[7], worker_pid=r[8], user_id=r[9],
                creation_timestamp=r[10], last_updated_timestamp=r[11], end_timestamp=r[12],
            ))  # fmt: skip
        return out


def _job(row: Sequence[Any]) -> DeploymentJob:
    tasks = [DeploymentTask(t["name"], t["notebook"]) for t in json.loads(row[2])]
    return DeploymentJob(job_id=row[0], name=row[1], tasks=tasks, parameters=json.loads(row[3] or "{}"),
                         creation_timestamp=row[4], last_updated_timestamp=row[5])  # fmt: skip


def require_active(run: DeploymentJobRun) -> None:
    """``InvalidState`` unless the run is still in progress."""
    if run.status not in ACTIVE:
        raise InvalidState(f"deployment job run {run.run_id} already ended ({run.status})")
