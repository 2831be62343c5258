"""Deployment jobs: a registered model's notebook tasks (evaluate -> approve -> deploy) run for each new version.

A job is an ordered list of notebooks. Starting it (by hand, or when a
version is created) records a PENDING run in the store, then launches a
worker process in its own session (``deployment_worker``), so it outlives the
kernel that started it; the worker runs each notebook with papermill,
parameterised with ``model_uri``, ``model_name``, ``version`` and the job's
``parameters``, and keeps the executed notebooks in the store. The approve
task calls ``wait_for_approval``: it opens a transition request and waits
until someone approves it (``approve_transition_request``, ``%lifecycle
approve``, ``jupyter-lifecycle approve``) or rejects it, which stops the job.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config
from ..entities import DeploymentJob, DeploymentJobRun, DeploymentTask, TransitionRequest
from ..errors import InvalidInput, InvalidState

if TYPE_CHECKING:
    from ..store import Store

RUN_ENV = "JUPYTER_LIFECYCLE_DEPLOYMENT_RUN"
"""Set by the worker for the task notebooks' kernels: the deployment job run they belong to."""

DEFAULT_TASKS = ("evaluate", "approve", "deploy")


# ---- the default task notebooks -----------------------------------------------

_PARAMETERS = '''# Parameters: the deployment job passes model_uri, model_name, version and the job's parameters
model_uri = ""
model_name = ""
version = 0
'''

_NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "evaluate": [
        ("markdown", "# Evaluate the candidate version\n\nDeployment job task 1. Evaluates the new version on "
                     "`eval_data` against the current `@champion` and fails (stopping the job) when a threshold "
                     "fails. Edit freely: the job runs this notebook as it is saved."),
        ("parameters", _PARAMETERS + '''eval_data = ""          # a CSV or Parquet file with the features and the target column
targets = "label"       # the target column
model_type = "classifier"
baseline_alias = "champion"
# {"f1_score": {"threshold": 0.8, "min_absolute_change": 0.01, "greater_is_better": True}}
thresholds = {}
'''),
        ("code", '''import pandas as pd

import jupyter_lifecycle as lc
from jupyter_lifecycle.models import MetricThreshold

if not eval_data:
    raise ValueError("set the job parameter eval_data (a CSV or Parquet file): "
                     "client.set_deployment_job(name, parameters={'eval_data': 'eval.csv', 'targets': 'label'})")
data = pd.read_parquet(eval_data) if str(eval_data).endswith(".parquet") else pd.read_csv(eval_data)
client = lc.Client()
baseline = None
try:
    if client.get_model_version_by_alias(model_name, baseline_alias).version != int(version):
        baseline = f"models:/{model_name}@{baseline_alias}"
except lc.NotFound:
    pass  # no champion yet: the thresholds' absolute values decide
lc.set_experiment(f"deployment job {model_name}")
with lc.start_run(run_name=f"evaluate {model_name} v{version}") as run:
    result = lc.evaluate(model_uri, data, targets=targets, model_type=model_type, baseline_model=baseline)
client.set_model_version_tag(model_name, version, "deployment_job.evaluation_run_id", run.info.run_id)
result'''),
        ("code", '''rules = {name: MetricThreshold(**rule) for name, rule in thresholds.items()}
if rules:  # raises listing every failed threshold: the job stops here, the reason goes on the version
    lc.validate_evaluation_results(rules, result)'''),
    ],
    "approve": [
        ("markdown", "# Approve\n\nDeployment job task 2. Opens a transition request and waits until someone "
                     "approves it (`%lifecycle approve NAME VERSION`, `jupyter-lifecycle approve NAME VERSION`, "
                     "`client.approve_transition_request`, the sidebar); a rejection stops the job."),
        ("parameters", _PARAMETERS + '''approval_stage = "Production"
poll_seconds = 1.0
'''),
        ("code", '''from jupyter_lifecycle.registry.approval import wait_for_approval

wait_for_approval(model_name, version, stage=approval_stage, poll_seconds=poll_seconds)'''),
    ],
    "deploy": [
        ("markdown", "# Deploy\n\nDeployment job task 3. Points `@champion` at the version and (re)starts its "
                     "local endpoint, replacing the endpoints serving this model."),
        ("parameters", _PARAMETERS + '''alias = "champion"
port = 0
log_requests = True
'''),
        ("code", '''import jupyter_lifecycle as lc

client = lc.Client()
client.set_registered_model_alias(model_name, alias, version)
if hasattr(lc, "serve"):
    endpoint = lc.serve(f"models:/{model_name}/{version}", port=int(port), replace=True, log_requests=log_requests)
    client.set_model_version_tag(model_name, version, "deployment_job.endpoint", endpoint.url)
    client.set_model_version_tag(model_name, version, "deployment_job.endpoint_id", endpoint.endpoint_id)
    print(f"{model_name} version {version} is @{alias}, served at {endpoint.url}")
else:
    print(f"{model_name} version {version} is @{alias} (this jupyter-lifecycle has no lc.serve: no endpoint started)")'''),
    ],
}


def write_default_notebooks(name: str, directory: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write ``evaluate.ipynb``, ``approve.ipynb`` and ``deploy.ipynb`` for model ``name`` (existing files are kept).

    ``directory`` defaults to ``./<name>_deployment_job``. Each has a papermill
    ``parameters`` cell; edit them as any notebook.
    """
    import nbformat

    folder = Path(directory) if directory is not None else Path.cwd() / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}_deployment_job"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for task in DEFAULT_TASKS:
        path = (folder / f"{task}.ipynb").resolve()
        if not path.exists():  # the user's edits win over the template
            nb = nbformat.v4.new_notebook()
            nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
            for kind, source in _NOTEBOOKS[task]:
                if kind == "markdown":
                    nb.cells.append(nbformat.v4.new_markdown_cell(source))
                else:
                    cell = nbformat.v4.new_code_cell(source)
                    if kind == "parameters":
                        cell.metadata["tags"] = ["parameters"]
                    nb.cells.append(cell)
            nbformat.write(nb, str(path))
        paths.append(path)
    return paths


def check_tasks(tasks: Sequence[Any]) -> list[DeploymentTask]:
    """Tasks from paths, ``(name, path)`` pairs or ``{"name", "notebook"}`` dicts; every notebook must exist now."""
    if isinstance(tasks, str | os.PathLike) or not isinstance(tasks, Sequence) or not tasks:
        raise InvalidInput(f"tasks must be a non-empty list of notebook paths, not {tasks!r}")
    out: list[DeploymentTask] = []
    for item in tasks:
        name: Any
        notebook: Any
        if isinstance(item, DeploymentTask):
            name, notebook = item.name, item.notebook
        elif isinstance(item, dict):
            notebook = item.get("notebook")
            name = item.get("name") or (Path(os.fspath(notebook)).stem if notebook else None)
        elif isinstance(item, tuple) and len(item) == 2:
            name, notebook = item
        elif isinstance(item, str | os.PathLike):
            notebook, name = item, Path(os.fspath(item)).stem
        else:
            raise InvalidInput(f"a task is a notebook path, a (name, path) pair or a dict, not {item!r}")
        if not notebook:
            raise InvalidInput(f"task {name!r} has no notebook")
        path = Path(os.fspath(notebook)).expanduser().resolve()
        if path.suffix != ".ipynb":
            raise InvalidInput(f"task {name!r}: {path} is not a notebook (.ipynb)")
        if not path.is_file():
            raise InvalidInput(f"task {name!r}: the notebook {path} does not exist; create it, or leave tasks out "
                               "to get the default evaluate/approve/deploy notebooks")  # fmt: skip
        if any(t.name == name for t in out):
            raise InvalidInput(f"two tasks are named {name!r}: give each task its own name")
        out.append(DeploymentTask(str(name), str(path)))
    return out


# ---- running ------------------------------------------------------------------


def start_run(store: Store, job: DeploymentJob, version: int, start_index: int, user: str | None) -> DeploymentJobRun:
    """Record a PENDING run and launch its worker in a new session (it outlives this process)."""
    run = store.deployment.create_run(job, version, start_index, user)
    folder = store.deployment.root / run.run_id
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, config.HOME_ENV: str(store.db_path)}
    with open(folder / "worker.log", "ab") as log:
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "jupyter_lifecycle.registry.deployment_worker", str(store.db_path), run.run_id],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            store.deployment.finish_run(run.run_id, "FAILED", f"the worker could not start: {exc}")
            raise
    store.deployment.set_worker(run.run_id, process.pid)
    return store.deployment.get_run(run.run_id)


def task_index(job: DeploymentJob, task: str | int | None) -> int:
    """The position of ``task`` (a name or an index) in the job; 0 for ``None``."""
    if task is None:
        return 0
    names = [t.name for t in job.tasks]
    if isinstance(task, int) and not isinstance(task, bool) and 0 <= task < len(names):
        return task
    if task in names:
        return names.index(str(task))
    raise InvalidInput(f"the deployment job of {job.name!r} has no task {task!r}; its tasks: {', '.join(names)}")


def wait_for_run(store: Store, run_id: str, timeout: float | None = None, poll_seconds: float = 0.5,
                 until: Sequence[str] = ("SUCCEEDED", "FAILED")) -> DeploymentJobRun:  # fmt: skip
    """Poll the run until its status is one of ``until``; ``InvalidState`` after ``timeout`` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        run = store.deployment.get_run(run_id)
        if run.status in until:
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise InvalidState(f"deployment job run {run_id} is still {run.status} (task {run.current_task_name}) "
                               f"after {timeout:g} s")  # fmt: skip
        time.sleep(poll_seconds)


def decide(client: Any, name: str, version: int | str, approve: bool, stage: str | None = None,
           comment: str | None = None) -> TransitionRequest:  # fmt: skip
    """Approve or reject a version's pending request (``stage`` may be left out when there is one).

    What ``%lifecycle approve`` and ``jupyter-lifecycle approve``/``reject`` do.
    """
    pending = client.list_transition_requests(name, version)
    if stage is None:
        if len(pending) != 1:
            listed = ", ".join(f"-> {r.to_stage} (by {r.user_id})" for r in pending) or "none"
            raise InvalidInput(f"{name!r} version {version} has {len(pending)} pending requests ({listed}): "
                               "name the stage with --stage" if pending else
                               f"{name!r} version {version} has no pending transition request to decide")  # fmt: skip
        stage = pending[0].to_stage
    if approve:
        return client.approve_transition_request(name, version, stage, comment=comment)
    return client.reject_transition_request(name, version, stage, comment=comment)


def runs_frame(runs: Sequence[DeploymentJobRun]) -> Any:
    """Deployment job runs as a DataFrame: one row per task of each run, with its executed notebook."""
    import pandas as pd

    rows = [{"run_id": r.run_id, "version": r.version, "run_state": r.status, "task": t.name, "task_state": t.status,
             "output_notebook": t.output_notebook, "error": t.error or (r.error if t.status == "FAILED" else None)}
            for r in runs for t in r.tasks]  # fmt: skip
    return pd.DataFrame(rows, columns=["run_id", "version", "run_state", "task", "task_state", "output_notebook",
                                       "error"])  # fmt: skip


ACTIONS = ("set", "show", "start", "rerun", "runs", "delete")
"""The actions of ``%lifecycle deploy-job`` and ``jupyter-lifecycle deploy-job``."""


def parameter_value(text: str) -> Any:
    """A ``K=V`` value from the command line: a Python literal (``0.8``, ``{"a": 1}``) when it parses, else the text."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run_action(
    client: Any,
    action: str,
    name: str,
    version: str | None = None,
    tasks: list[str] | None = None,
    directory: str | None = None,
    parameters: dict[str, str] | None = None,
    from_task: str | None = None,
) -> Any:
    """One ``deploy-job`` action: the job (set, show), a run (start, rerun), the runs as a DataFrame, or ``None``."""
    if action not in ACTIONS:
        raise InvalidInput(f"deploy-job action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if action in ("start", "rerun") and version is None:
        raise InvalidInput(f"deploy-job {action} needs NAME VERSION")
    assert version is not None or action not in ("start", "rerun")
    if action != "set" and (tasks or directory or parameters):
        raise InvalidInput("--task, --dir and --param go with deploy-job set")
    if action != "start" and from_task is not None:
        raise InvalidInput("--from-task goes with deploy-job start")
    if action == "set":
        params = {k: parameter_value(v) for k, v in (parameters or {}).items()}
        return client.set_deployment_job(name, tasks or None, parameters=params or None, directory=directory)
    if action == "show":
        return client.get_deployment_job(name)
    if action == "start":
        task: str | int | None = int(from_task) if from_task and from_task.isdigit() else from_task
        return client.start_deployment_job(name, str(version), task)
    if action == "rerun":
        return client.rerun_deployment_job(name, str(version))
    if action == "runs":
        return runs_frame(client.get_deployment_job_runs(name, version))
    client.delete_deployment_job(name)
    return None
