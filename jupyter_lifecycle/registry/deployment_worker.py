"""The deployment job worker: ``python -m jupyter_lifecycle.registry.deployment_worker DB_PATH RUN_ID``.

Started by ``start_deployment_job`` in its own session, so it survives the
kernel that started it. It runs the run's PENDING tasks in order with
papermill, records each state change (and the executed notebook) in the store,
and stops at the first failing task with its error on the version.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .. import config
from ..store import open_store
from .deployment import RUN_ENV


def _error(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    return f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"


def run(db_path: str, run_id: str) -> int:
    """Run the job run's pending tasks; 0 when all succeeded, 1 when one failed."""
    import papermill

    config.set_store(db_path)
    store = open_store()
    job_run = store.deployment.get_run(run_id)
    store.deployment.set_worker(run_id, os.getpid())
    folder = store.deployment.root / run_id
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[config.HOME_ENV] = str(store.db_path)  # the task kernels use this store and know their run
    os.environ[RUN_ENV] = run_id
    parameters = {**job_run.parameters, "model_uri": f"models:/{job_run.name}/{job_run.version}",
                  "model_name": job_run.name, "version": job_run.version}  # fmt: skip
    for task in job_run.tasks:
        if task.status != "PENDING":
            continue
        store.deployment.start_task(run_id, task.index)
        output = folder / f"{task.index:02d}-{task.name}.ipynb"
        relative = output.relative_to(store.home).as_posix()
        try:
            papermill.execute_notebook(task.notebook, str(output), parameters=parameters,
                                       cwd=str(Path(task.notebook).parent), progress_bar=False)  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - any failure ends the job with its reason recorded
            error = _error(exc)
            store.deployment.finish_task(run_id, task.index, "FAILED", relative if output.exists() else None, error)
            store.deployment.finish_run(run_id, "FAILED", f"task {task.name!r} failed: {error}")
            return 1
        store.deployment.finish_task(run_id, task.index, "SUCCEEDED", relative, None)
    store.deployment.finish_run(run_id, "SUCCEEDED")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2]))
