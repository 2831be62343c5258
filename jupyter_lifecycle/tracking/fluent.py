"""The fluent API (``lc.start_run()``, ``lc.log_metric()``...), shaped like MLflow's.

Module state: the current experiment and a stack of active runs. As in
MLflow, logging without an active run starts one.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .. import config
from ..entities import Experiment, FileInfo, Metric, Param, Run, RunTag, ViewType
from ..errors import InvalidInput, InvalidState, NotFound
from ..store.tracking import DEFAULT_EXPERIMENT
from . import inputs, system_metrics
from .client import Client, store_home
from .logged_models import dataset_fields

if TYPE_CHECKING:
    import pandas as pd

RunHook = Callable[["ActiveRun"], None]
RUN_START_HOOKS: list[RunHook] = []
"""Called with the run after ``start_run``; notebook capture adds its hooks here."""
RUN_END_HOOKS: list[Callable[[ActiveRun, str], None]] = []
"""Called with the run and its final status just before ``end_run`` ends it."""


class ActiveRun(Run):
    """The run ``start_run`` returns: a ``Run`` as it was when started (``get_run`` reads it fresh),
    and a context manager that ends the run on exit, as MLflow's ``ActiveRun(Run)``."""

    client: Client
    # One object per started run: compared and hashed by identity, like MLflow's.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __init__(self, run: Run, client: Client) -> None:
        super().__init__(**{f.name: getattr(run, f.name) for f in dataclasses.fields(run)})
        object.__setattr__(self, "client", client)  # Run is frozen; the client is not one of its fields

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        # End this run and any nested run left open inside the block.
        while any(r is self for r in _runs.stack):
            end_run(status)

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self.info.run_id} name={self.info.run_name!r}>"


class _ThreadRuns(threading.local):
    """Each thread's stack of active runs and its last ended run, as in MLflow: a run
    started in a worker thread is never a child of the main thread's run by accident,
    and two threads starting runs at once never see each other's as "already active"."""

    def __init__(self) -> None:
        self.stack: list[ActiveRun] = []
        self.last: ActiveRun | None = None


_runs = _ThreadRuns()


def run_stack() -> list[ActiveRun]:
    """The calling thread's active runs, outermost first (the live list: capture and autolog read it)."""
    return _runs.stack


def last_run() -> ActiveRun | None:
    """The calling thread's active run, else the last run it ended, else ``None``."""
    return _runs.stack[-1] if _runs.stack else _runs.last
_experiment: dict[Path, str] = {}  # store database file -> current experiment id
_clients: dict[Path, Client] = {}
_monitors: dict[str, system_metrics.SystemMetricsMonitor] = {}  # run id -> its system metrics thread


_last_client: tuple[tuple[object, ...], Client] | None = None


def client() -> Client:
    """The ``Client`` of the current store (``set_store``/``$JUPYTER_LIFECYCLE_HOME``/defaults).

    The store found last is reused while nothing that decides it changed (``set_store``/``set_tracking_uri``,
    ``$JUPYTER_LIFECYCLE_HOME``, the working directory): every new trace asks, and walking up the folders
    costs more than the trace. A ``.jupyter_lifecycle/`` folder made by hand later is found after a
    ``set_store``/``chdir``.
    """
    global _last_client
    explicit = config._explicit_home
    # the working directory matters unless set_store named an absolute folder (a relative $HOME_ENV too)
    situation = (config.store_generation(), os.environ.get(config.HOME_ENV), None if explicit else os.getcwd())
    last = _last_client
    if last is not None and last[0] == situation:
        return last[1]
    key = config.db_path(config.resolve_home())  # a folder may hold another database (sqlite:///other.db)
    found = _clients.get(key)
    if found is None:
        found = _clients[key] = Client(key.parent)
    _last_client = (situation, found)
    return found


def set_store(path: str | os.PathLike[str] | None) -> None:
    """Use the store in folder ``path`` (created if missing) for this process."""
    if _runs.stack:
        raise InvalidState(f"end the active run {_runs.stack[-1].info.run_id} before switching stores")
    config.set_store(path)


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """MLflow's name for ``set_store``: a folder, ``file://`` URI or ``sqlite:///.../lifecycle.db``."""
    if uri is None:
        set_store(None)
        return
    set_store(store_home(uri))


def get_tracking_uri() -> str:
    """The store home in use."""
    return str(config.resolve_home())


def set_registry_uri(uri: str | os.PathLike[str] | None) -> None:
    """MLflow's registry URI: the registry lives in the tracking store here, so only that store is accepted.

    ``None``, ``""`` or a URI naming the current store are fine; another store
    is refused (switch both with ``set_tracking_uri``), rather than ignored.
    """
    if uri is None or uri == "":
        return
    if store_home(uri) != config.resolve_home():
        raise InvalidInput(
            f"registry URI {os.fspath(uri)!r} is not the tracking store {get_tracking_uri()!r}: the model registry "
            "lives in the tracking store here; use set_tracking_uri(...) to switch both"
        )


def get_registry_uri() -> str:
    """The registry's store: always the tracking store here."""
    return get_tracking_uri()


# ---- experiments -----------------------------------------------------------


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment current (created if the name is new) and return it."""
    c = client()
    if experiment_id is not None:
        experiment = c.get_experiment(experiment_id)
    elif experiment_name:
        experiment = c.get_or_create_experiment(experiment_name)
    else:
        raise InvalidInput("set_experiment needs an experiment_name or an experiment_id")
    if experiment.lifecycle_stage != "active":
        raise InvalidInput(
            f"experiment {experiment.name!r} is deleted: restore_experiment({experiment.experiment_id!r}) "
            "to use it again, or pick another name"
        )
    _experiment[c.store.db_path] = experiment.experiment_id
    return experiment


def _current_experiment_id(c: Client) -> str:
    experiment_id = _experiment.get(c.store.db_path)
    if experiment_id is None:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        experiment_id = _experiment[c.store.db_path] = c.get_or_create_experiment(name).experiment_id
    return experiment_id


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with this id."""
    return client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment with this name, or ``None``."""
    return client().get_experiment_by_name(name)


def create_experiment(name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None) -> str:
    """Create an experiment; return its id."""
    return client().create_experiment(name, artifact_location, tags)


def search_experiments(
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    """Experiments matching a filter such as ``name LIKE 'iris%'``."""
    return client().search_experiments(view_type, max_results, filter_string, order_by)


def delete_experiment(experiment_id: str) -> None:
    """Mark an experiment deleted."""
    client().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str) -> None:
    """Undo ``delete_experiment``."""
    client().restore_experiment(experiment_id)


def set_experiment_tag(key: str, value: Any) -> None:
    """Set a tag on the current experiment."""
    c = client()
    c.set_experiment_tag(_current_experiment_id(c), key, value)


def set_experiment_tags(tags: dict[str, Any]) -> None:
    """Set several tags on the current experiment."""
    for key, value in tags.items():
        set_experiment_tag(key, value)


def delete_experiment_tag(key: str) -> None:
    """Remove a tag from the current experiment."""
    c = client()
    c.delete_experiment_tag(_current_experiment_id(c), key)


# ---- runs ------------------------------------------------------------------


def _source_tags() -> dict[str, str]:
    in_kernel = "ipykernel" in sys.modules
    source = os.environ.get(config.NOTEBOOK_ENV) or (sys.argv[0] if sys.argv and sys.argv[0] else "<console>")
    return {"mlflow.source.type": "NOTEBOOK" if in_kernel else "LOCAL", "mlflow.source.name": source}


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it active; use it as a context manager.

    An exception inside ``with start_run():`` marks the run FAILED (KILLED for
    Ctrl-C); a clean exit marks it FINISHED. ``nested=True`` starts a child of
    the active run. ``log_system_metrics=True`` samples CPU, memory, disk,
    network and GPU use into ``system/*`` metrics while the run is active
    (default: ``enable_system_metrics_logging()`` or
    ``$MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING``).
    """
    with_system_metrics = system_metrics.wanted(log_system_metrics)
    if _runs.stack and not nested:
        current = _runs.stack[-1].info.run_id
        raise InvalidState(
            f"run {current} is already active: end it with end_run(), or pass nested=True to start a child run"
        )
    c = client()
    if run_id is not None:
        run = c.resume_run(run_id)
    else:
        experiment_id = experiment_id or _current_experiment_id(c)
        parent = parent_run_id or (_runs.stack[-1].info.run_id if _runs.stack and nested else None)
        all_tags = _source_tags()
        all_tags.update({k: str(v) for k, v in (tags or {}).items()})
        if description:
            all_tags["mlflow.note.content"] = description
        run = c.create_run(experiment_id, tags=all_tags, run_name=run_name, parent_run_id=parent,
                           notebook_path=os.environ.get(config.NOTEBOOK_ENV))  # fmt: skip
    active = ActiveRun(run, c)
    _runs.stack.append(active)
    if with_system_metrics:
        run_id = run.info.run_id
        _monitors[run_id] = system_metrics.SystemMetricsMonitor(
            lambda values, step: c.log_metrics(run_id, values, step=step)
        ).start()
    for hook in RUN_START_HOOKS:
        _call_hook(hook, active)
    return active


def _call_hook(hook: Callable[..., None], *args: Any) -> None:
    try:
        hook(*args)
    except Exception as exc:  # a hook must never break the user's run
        warnings.warn(f"jupyter-lifecycle hook {getattr(hook, '__name__', hook)} failed: {exc}", stacklevel=3)


def end_run(status: str = "FINISHED") -> None:
    """End the active run (no-op without one), flushing its metrics."""
    if not _runs.stack:
        return
    active = _runs.stack[-1]
    monitor = _monitors.pop(active.info.run_id, None)
    if monitor is not None:
        monitor.stop()
    for hook in RUN_END_HOOKS:
        _call_hook(hook, active, status)
    active.client.set_terminated(active.info.run_id, status)
    _runs.stack.pop()
    _runs.last = active


def _end_runs_at_exit() -> None:
    """At interpreter exit, end the main thread's open runs as MLflow does: FINISHED, or FAILED when
    a script dies of an uncaught exception (a kernel's earlier failed cell does not count)."""
    ipython = sys.modules.get("IPython")
    in_ipython = ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None
    status = "FAILED" if getattr(sys, "last_type", None) is not None and not in_ipython else "FINISHED"
    while _runs.stack:
        try:
            end_run(status)
        except Exception:  # a store gone at exit: the dead-process check marks the run KILLED later
            break


atexit.register(_end_runs_at_exit)


def active_run() -> ActiveRun | None:
    """The active run, or ``None``."""
    return _runs.stack[-1] if _runs.stack else None


def last_active_run() -> Run | None:
    """The most recently ended (or the active) run, read fresh from the store."""
    target = last_run()
    return None if target is None else target.client.get_run(target.info.run_id)


def _run() -> ActiveRun:
    # MLflow starts a run when something is logged without one; so do we.
    return _runs.stack[-1] if _runs.stack else start_run()


def get_run(run_id: str) -> Run:
    """The run with this id."""
    return client().get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    """The parent of a nested run, or ``None`` for a top-level run."""
    return client().get_parent_run(run_id)


def delete_run(run_id: str) -> None:
    """Mark a run deleted."""
    client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Undo ``delete_run``."""
    client().restore_run(run_id)


def flush() -> int:
    """Write buffered metric points of the current store now; return how many."""
    return client().flush()


# ---- logging ---------------------------------------------------------------


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log one metric point to the active run (buffered; see ``flush``).

    ``model_id`` attaches the point to that logged model too, and ``dataset``
    (any object with ``.name`` and ``.digest``) says what data it measures,
    as in MLflow 3. A point at the step a model was logged at in this run is
    that model's as well.
    """
    if (model_id is not None or dataset is not None) and run_id is None and not _runs.stack:
        _check_model(model_id, dataset)  # before a run is started for the point
    if run_id is None:
        run = _runs.stack[-1] if _runs.stack else _run()
        c, run_id = run.client, run.info.run_id
    else:
        c = client()
    if model_id is None and dataset is None and run_id not in MODEL_OUTPUTS:
        c.log_metric(run_id, key, value, timestamp, step, synchronous)
        return
    _log_with_models(c, run_id, {key: value}, step, timestamp, synchronous, model_id, dataset)


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log several metrics at one step; ``model_id`` and ``dataset`` as in ``log_metric``."""
    if (model_id is not None or dataset is not None) and run_id is None and not _runs.stack:
        _check_model(model_id, dataset)
    c, rid = _target(run_id)
    if model_id is None and dataset is None and rid not in MODEL_OUTPUTS:
        c.log_metrics(rid, metrics, step, timestamp, synchronous)
        return
    _log_with_models(c, rid, metrics, step, timestamp, synchronous, model_id, dataset)


MODEL_OUTPUTS: dict[str, dict[int, list[str]]] = {}
"""Run id -> step -> ids of the models logged in that run at that step (filled by ``log_model``)."""


def _check_model(model_id: str | None, dataset: Any) -> None:
    name, _ = dataset_fields(dataset)
    if model_id is None:
        if name is not None:
            raise InvalidInput("dataset= records which data a model's metric measures: pass model_id= too "
                               "(log_model's ModelInfo has it)")  # fmt: skip
        return
    models = client().store.models
    if not models.exists(model_id):
        raise models.not_found(model_id)


def note_model_output(run_id: str, step: int, model_id: str) -> None:
    """Remember that ``log_model`` logged ``model_id`` in ``run_id`` at ``step``: later metrics there are its too."""
    MODEL_OUTPUTS.setdefault(run_id, {}).setdefault(int(step), []).append(model_id)


def _log_with_models(
    c: Client,
    run_id: str,
    metrics: dict[str, Any],
    step: int | None,
    timestamp: int | None,
    synchronous: bool | None,
    model_id: str | None,
    dataset: Any,
) -> None:
    name, digest = dataset_fields(dataset)
    model_ids = [model_id] if model_id else MODEL_OUTPUTS.get(run_id, {}).get(int(step or 0), [])
    if not model_ids and name is not None:
        raise InvalidInput("dataset= records which data a model's metric measures: pass model_id= too "
                           "(log_model's ModelInfo has it)")  # fmt: skip
    for mid in model_ids:  # checked and written before the run's points, so a bad model id writes nothing
        c._log_model_metrics(run_id, metrics, step, timestamp, mid, name, digest)
    c.log_metrics(run_id, metrics, step, timestamp, synchronous)


def _target(run_id: str | None) -> tuple[Client, str]:
    if run_id is not None:
        return client(), run_id
    run = _run()
    return run.client, run.info.run_id


def log_param(key: str, value: Any) -> Any:
    """Log one param to the active run; return the value."""
    c, rid = _target(None)
    return c.log_param(rid, key, value)


def log_params(params: dict[str, Any], run_id: str | None = None) -> None:
    """Log several params."""
    c, rid = _target(run_id)
    c.log_batch(rid, params=[Param(k, v) for k, v in params.items()])


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run."""
    c, rid = _target(None)
    c.set_tag(rid, key, value)


def set_tags(tags: dict[str, Any]) -> None:
    """Set several tags on the active run."""
    c, rid = _target(None)
    c.log_batch(rid, tags=[RunTag(k, v) for k, v in tags.items()])


def delete_tag(key: str) -> None:
    """Remove a tag from the active run."""
    c, rid = _target(None)
    c.delete_tag(rid, key)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Copy a file into the active run's artifacts."""
    c, rid = _target(run_id)
    c.log_artifact(rid, local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Copy a folder's files into the active run's artifacts."""
    c, rid = _target(run_id)
    c.log_artifacts(rid, local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Save text as an artifact of the active run."""
    c, rid = _target(run_id)
    c.log_text(rid, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict (JSON or YAML by extension) as an artifact of the active run."""
    c, rid = _target(run_id)
    c.log_dict(rid, dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a matplotlib/altair/plotly figure as an artifact of the active run."""
    c, rid = _target(run_id)
    c.log_figure(rid, figure, artifact_file)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a DataFrame or dict as a table (.json, .parquet or .csv) of the active run; an existing one grows."""
    c, rid = _target(run_id)
    c.log_table(rid, data, artifact_file)


def load_table(
    artifact_file: str, run_ids: Sequence[str] | None = None, extra_columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The table ``artifact_file`` of the current experiment's runs (or ``run_ids``), concatenated (see ``Client.load_table``)."""
    c = client()
    return c.load_table(_current_experiment_id(c), artifact_file, run_ids, extra_columns)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
) -> None:
    """Save a numpy array or PIL image to the active run: as ``artifact_file``, or as a step of the series ``key``."""
    c, rid = _target(run_id)
    c.log_image(rid, image, artifact_file, key, step, timestamp, synchronous)


def log_input(
    dataset: Any = None, context: str | None = None, tags: dict[str, Any] | None = None, model: Any = None
) -> None:
    """Log a dataset the active run used (``context``: "training", "eval"...), as MLflow's ``log_input``.

    ``dataset`` comes from ``lc.data.from_pandas`` or ``lc.data.from_numpy``;
    ``context`` is stored as the input tag ``mlflow.data.context``; ``model``
    (a ``LoggedModelInput`` or a model id) records a logged model the run read.
    """
    if dataset is None and (context is not None or tags):
        raise InvalidInput("log_input needs a dataset when context or tags are given")
    datasets = [inputs.dataset_input(dataset, context, tags)] if dataset is not None else []
    models = inputs.model_ids([model] if model is not None else [])
    c, rid = _target(None)
    c.log_inputs(rid, datasets, models)


def log_inputs(
    datasets: Sequence[Any] | None = None,
    contexts: Sequence[str | None] | None = None,
    tags_list: Sequence[dict[str, Any] | None] | None = None,
    models: Sequence[Any] | None = None,
) -> None:
    """Log several datasets at once; ``contexts`` and ``tags_list``, when given, match ``datasets`` one to one."""
    if datasets is not None and (not isinstance(datasets, Sequence) or isinstance(datasets, str)):
        raise InvalidInput(f"datasets must be a list of datasets, not {type(datasets).__name__}; "
                           "log_input(dataset) logs one")  # fmt: skip
    datasets = list(datasets or [])
    for name, values in (("contexts", contexts), ("tags_list", tags_list)):
        if values is not None and (not isinstance(values, Sequence) or isinstance(values, str)
                                   or len(values) != len(datasets)):  # fmt: skip
            raise InvalidInput(f"{name} must be a list as long as datasets ({len(datasets)}), not {values!r}")
    contexts = list(contexts) if contexts is not None else [None] * len(datasets)
    tags_list = list(tags_list) if tags_list is not None else [None] * len(datasets)
    checked = []
    for i, (dataset, context, tags) in enumerate(zip(datasets, contexts, tags_list, strict=True)):
        if dataset is None and (context is not None or tags):
            raise InvalidInput(f"datasets[{i}] is None but has a context or tags: pass the dataset")
        if dataset is not None:
            checked.append(inputs.dataset_input(dataset, context, tags, index=i))
    models_ids = inputs.model_ids(list(models) if models is not None else None)
    c, rid = _target(None)
    c.log_inputs(rid, checked, models_ids)


def list_artifacts(run_id: str | None = None, path: str | None = None) -> list[FileInfo]:
    """Files under ``path`` in a run's artifacts (default: the active run)."""
    c, rid = (client(), run_id) if run_id else _target_existing("list_artifacts")
    return c.list_artifacts(rid, path)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The ``file://`` URI of the active run's artifacts (or one file in them)."""
    c, rid = _target(None)
    folder = c.artifact_dir(rid)
    return (folder / artifact_path if artifact_path else folder).as_uri()


def _target_existing(what: str) -> tuple[Client, str]:
    if not _runs.stack:
        raise InvalidState(f"{what} needs a run: pass run_id=... or call it inside `with start_run():`")
    return _runs.stack[-1].client, _runs.stack[-1].info.run_id


def get_metric_history(run_id: str, key: str, as_frame: bool = False) -> list[Metric] | pd.DataFrame:
    """Every point of a metric in a run, as ``Metric`` objects; ``as_frame=True`` gives a
    DataFrame (``step``, ``timestamp``, ``value``) read as numpy columns, for long histories."""
    return client().get_metric_history(run_id, key, as_frame=as_frame)  # type: ignore[call-overload,no-any-return]


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Runs matching an MLflow filter string, as a DataFrame (or a list with ``output_format="list"``).

    Without ``experiment_ids``/``experiment_names`` it searches the current
    experiment (every experiment with ``search_all_experiments=True``).
    """
    c = client()
    ids = list(experiment_ids or [])
    for name in experiment_names or []:
        experiment = c.get_experiment_by_name(name)
        if experiment is None:
            raise NotFound(f"no experiment named {name!r}")
        ids.append(experiment.experiment_id)
    if not ids:
        if search_all_experiments:
            ids = [e.experiment_id for e in c.search_experiments(ViewType.ALL)]
        else:
            ids = [_current_experiment_id(c)]
    if output_format == "list":
        return list(c.search_runs(ids, filter_string, run_view_type, max_results, order_by))
    if output_format != "pandas":
        raise InvalidInput(f"output_format must be 'pandas' or 'list', not {output_format!r}")
    return c.search_runs_frame(ids, filter_string, run_view_type, max_results, order_by)
