"""``Client``: the tracking API with explicit ids, shaped like ``mlflow.MlflowClient``."""

from __future__ import annotations

import base64
import dataclasses
import functools
import getpass
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from .. import config
from ..entities import (
    DatasetInput,
    Experiment,
    FileInfo,
    LoggedModel,
    LoggedModelInput,
    Metric,
    Param,
    Run,
    RunTag,
    ViewType,
)
from ..errors import AlreadyExists, InvalidInput, NotFound
from ..store import Store, open_store
from ..store.models import MODELS_DIRNAME
from ..store.search import check_max_results
from ..store.tracking import DEFAULT_EXPERIMENT
from . import artifacts as files
from . import histories
from . import inputs as run_inputs
from .logged_models import checked_strings, model_metrics, new_model_id
from .validation import metric_int, metric_value, param_value, tag_value, validate_key

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"  # MLflow's: the tables a run logged, as JSON
LOGGED_IMAGES_TAG = "mlflow.loggedImages"  # MLflow's: the run has image series
IMAGE_KEY = re.compile(r"[A-Za-z0-9_\-./ ]+")


class PagedList(list):  # type: ignore[type-arg]
    """A page of results; ``token`` fetches the next page (``None`` on the last)."""

    def __init__(self, items: Iterable[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def _encode_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.b64decode(token))["offset"]
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise TypeError(offset)
        return check_max_results(offset, "page_token offset") or 0
    except (ValueError, KeyError, TypeError, InvalidInput):
        raise InvalidInput(f"invalid page_token {token!r}: pass the token of a previous page") from None


def store_home(uri: str | os.PathLike[str]) -> Path:
    """The store home a tracking URI points to: a folder, ``file://`` URI, or a database file.

    ``sqlite:///mlruns.db`` (or any ``.db`` path) makes that file the store's
    database, with the artifacts beside it, as MLflow does.
    """
    text = os.fspath(uri)
    for prefix in ("sqlite:///", "file://"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    path = Path(text).expanduser().resolve()
    return config.use_database(path) if path.suffix == ".db" else path


def store_for(tracking_uri: str | os.PathLike[str] | Store | None) -> Store:
    """The store behind a tracking URI (see ``store_home``), a ``Store``, or the default store."""
    if isinstance(tracking_uri, Store):
        return tracking_uri
    return open_store(None if tracking_uri is None else store_home(tracking_uri))


class Client:
    """Explicit-id access to one store (``Client()`` uses the default store)."""

    def __init__(self, tracking_uri: str | os.PathLike[str] | Store | None = None) -> None:
        self.store = store_for(tracking_uri)
        self._tracking = self.store.tracking
        self._buffer = self.store.metric_buffer
        self._good_keys: set[str] = set()
        self._live_runs: set[str] = set()

    @property
    def tracking_uri(self) -> str:
        """The store home folder this client writes to."""
        return str(self.store.home)

    def flush(self) -> int:
        """Write buffered metric points now; return how many were written."""
        return self._buffer.flush()

    # ---- experiments -------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        """Create an experiment; return its id."""
        return self._tracking.create_experiment(name, artifact_location, {k: str(v) for k, v in (tags or {}).items()})

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id."""
        return self._tracking.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or ``None``."""
        return self._tracking.get_experiment_by_name(name)

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment with this name, created if missing (safe when processes race)."""
        experiment = self._tracking.get_experiment_by_name(name)
        if experiment is None:
            try:
                self._tracking.create_experiment(name)
            except AlreadyExists:
                pass  # another process created it first
            experiment = self._tracking.get_experiment_by_name(name)
            assert experiment is not None
        return experiment

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
    ) -> list[Experiment]:
        """Experiments, filtered by ``name``/``tags.<key>`` with MLflow's grammar."""
        return self._tracking.search_experiments(view_type, filter_string, order_by, max_results)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment deleted (its runs stay, and restore_experiment undoes it)."""
        self._tracking.set_experiment_stage(experiment_id, "deleted")

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo ``delete_experiment``."""
        self._tracking.set_experiment_stage(experiment_id, "active")

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new unique name."""
        self._tracking.rename_experiment(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set a tag on an experiment."""
        validate_key(key, "tag")
        self._tracking.set_experiment_tag(experiment_id, key, tag_value(key, value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag from an experiment; ``NotFound`` if it has no such tag."""
        self._tracking.delete_experiment_tag(experiment_id, key)

    # ---- runs --------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str | None = None,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        notebook_path: str | None = None,
    ) -> Run:
        """Start a RUNNING run in an experiment (default: ``Default``)."""
        if experiment_id is None:
            experiment_id = self.get_or_create_experiment(DEFAULT_EXPERIMENT).experiment_id
        user = current_user()
        all_tags = {"mlflow.user": user}
        for key, value in (tags or {}).items():
            all_tags[validate_key(key, "tag")] = tag_value(key, value)
        run_name = run_name or all_tags.get("mlflow.runName") or _random_name()
        all_tags["mlflow.runName"] = run_name
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = self._tracking.create_run(
            experiment_id, run_name, user, all_tags, start_time, parent_run_id, notebook_path
        )
        self._live_runs.add(run.info.run_id)
        return run

    def get_run(self, run_id: str) -> Run:
        """The run with this id, with its params, latest metrics and tags."""
        self.flush()
        return self._with_inputs([self._tracking.get_run(run_id)])[0]

    def _with_inputs(self, runs: list[Run]) -> list[Run]:
        """The runs with their ``inputs`` (datasets, input models) read from the store."""
        found = self.store.datasets.run_inputs([run.info.run_id for run in runs])
        if not found:
            return runs
        return [dataclasses.replace(run, inputs=found[run.info.run_id]) if run.info.run_id in found else run
                for run in runs]  # fmt: skip

    def get_parent_run(self, run_id: str) -> Run | None:
        """The run's parent run, or ``None`` for a top-level run."""
        parent = self.get_run(run_id).info.parent_run_id
        return None if parent is None else self.get_run(parent)

    def resume_run(self, run_id: str) -> Run:
        """Make an ended run RUNNING again (``start_run(run_id=...)``)."""
        self._check_run(run_id)
        self._tracking.resume_run(run_id)
        return self.get_run(run_id)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Change a run's status or name."""
        self._tracking.update_run(run_id, status=_status(status) if status else None, run_name=name)

    def set_terminated(self, run_id: str, status: str = "FINISHED", end_time: int | None = None) -> None:
        """End a run: flush its metrics, then set status and end time."""
        status = _status(status)
        # The last points and the status land in one commit.
        self._buffer.flush(also=lambda: self._tracking.update_run(run_id, status=status, end_time=end_time or _now()))

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted (``restore_run`` undoes it)."""
        self.flush()
        self._tracking.set_run_stage(run_id, "deleted")
        self._live_runs.discard(run_id)

    def restore_run(self, run_id: str) -> None:
        """Undo ``delete_run``."""
        self._tracking.set_run_stage(run_id, "active")

    def _check_run(self, run_id: str) -> None:
        if run_id in self._live_runs:
            return
        if not isinstance(run_id, str):
            raise InvalidInput(f"run_id must be a string, got {run_id!r}")
        if self._tracking.run_stage(run_id) != "active":
            raise InvalidInput(f"run {run_id} is deleted: restore_run({run_id!r}) before logging to it")
        self._live_runs.add(run_id)

    # ---- logging -----------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> None:
        """Buffer one metric point (written at the next flush; ``synchronous=True`` flushes now).

        With ``model_id`` the point is also the logged model's (MLflow 3),
        measured on the dataset ``dataset_name``/``dataset_digest`` when given.
        """
        if model_id is not None or dataset_name is not None or dataset_digest is not None:
            self._log_model_metrics(run_id, {key: value}, step, timestamp, model_id, dataset_name, dataset_digest)
        # The hot path of a training loop: checks are cached, the write is an append.
        if key not in self._good_keys:
            self._good_keys.add(validate_key(key, "metric"))
        if type(value) is not float:
            value = metric_value(key, value)
        if run_id not in self._live_runs:
            self._check_run(run_id)
        now = time.time()
        when = int(now * 1000) if timestamp is None else metric_int(key, timestamp, "timestamp")
        if type(step) is not int or not -(2**63) <= step < 2**63:  # a plain int in range is taken as it is
            step = metric_int(key, step, "step") if step else 0
        buffer = self._buffer
        with buffer.lock:
            points = buffer.points
            if not points:
                buffer.arm(now)  # the background flusher commits it within max_seconds
            points.append((run_id, key, value, when, step))
            full = len(points) >= buffer.max_points
        if full or now >= buffer.deadline or synchronous:
            buffer.flush()

    def _log_model_metrics(
        self,
        run_id: str,
        metrics: dict[str, Any],
        step: int | None,
        timestamp: int | None,
        model_id: str | None,
        dataset_name: str | None,
        dataset_digest: str | None,
    ) -> None:
        if model_id is None:
            raise InvalidInput("a metric's dataset is recorded on the logged model it measures: pass model_id= too "
                               "(the model_id of log_model's ModelInfo)")  # fmt: skip
        self._check_run(run_id)
        self.store.models.log_metrics(model_id, model_metrics(metrics, model_id, run_id, step, timestamp,
                                                              dataset_name, dataset_digest))  # fmt: skip

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log one param; return the value as given."""
        self.log_batch(run_id, params=[Param(key, value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set one tag (overwrites)."""
        self.log_batch(run_id, tags=[RunTag(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""
        self._tracking.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        synchronous: bool | None = None,
    ) -> None:
        """Log many metrics, params and tags at once; everything is checked before anything is written."""
        self._check_run(run_id)
        checked_params = [(validate_key(p.key, "param"), param_value(p.key, p.value)) for p in params]
        checked_tags = [(validate_key(t.key, "tag"), tag_value(t.key, t.value)) for t in tags]
        points = self._points(run_id, [(m.key, m.value, m.timestamp, m.step) for m in metrics])
        if checked_params:
            self._tracking.log_params(run_id, checked_params)
        if checked_tags:
            self._tracking.set_tags(run_id, checked_tags)
        self._append(points, synchronous)

    def log_metrics(
        self,
        run_id: str,
        metrics: dict[str, Any],
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
        model_id: str | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
    ) -> None:
        """Buffer several metrics at one step (the fluent ``log_metrics``, without building ``Metric`` objects).

        ``model_id`` (and a dataset) attach the points to a logged model too, as ``log_metric`` does.
        """
        if model_id is not None or dataset_name is not None or dataset_digest is not None:
            self._log_model_metrics(run_id, metrics, step, timestamp, model_id, dataset_name, dataset_digest)
        self._check_run(run_id)
        self._append(self._points(run_id, [(k, v, timestamp, step) for k, v in metrics.items()]), synchronous)

    def _points(self, run_id: str, items: Iterable[tuple[str, Any, int | None, int | None]]) -> list[tuple[str, str, float, int, int]]:
        good, now, points = self._good_keys, _now(), []
        for key, value, timestamp, step in items:
            if key not in good:
                good.add(validate_key(key, "metric"))
            if type(value) is not float:
                value = metric_value(key, value)
            points.append((run_id, key, value, now if timestamp is None else metric_int(key, timestamp, "timestamp"),
                           metric_int(key, step, "step") if step else 0))  # fmt: skip
        return points

    def _append(self, points: list[tuple[str, str, float, int, int]], synchronous: bool | None) -> None:
        if not points:
            return
        buffer = self._buffer
        now = time.time()
        with buffer.lock:
            if not buffer.points:
                buffer.arm(now)
            buffer.points.extend(points)
            full = len(buffer.points) >= buffer.max_points
        if full or synchronous or now >= buffer.deadline:
            buffer.flush()

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None,
                   models: Sequence[LoggedModelInput | str] | None = None) -> None:  # fmt: skip
        """Link datasets (``DatasetInput``: a dataset and its input tags) and input models (ids) to a run.

        Everything is checked before anything is written, and written in one
        transaction. A dataset is stored once per experiment by name and digest;
        linking it to the same run again changes nothing (MLflow's rules).
        """
        checked = run_inputs.check_dataset_inputs(datasets)
        ids = run_inputs.model_ids(models)
        self._check_run(run_id)
        self.store.datasets.log_inputs(run_id, checked, ids)

    @overload
    def get_metric_history(self, run_id: str, key: str, as_frame: Literal[False] = False) -> list[Metric]: ...
    @overload
    def get_metric_history(self, run_id: str, key: str, as_frame: Literal[True]) -> pd.DataFrame: ...

    def get_metric_history(self, run_id: str, key: str, as_frame: bool = False) -> list[Metric] | pd.DataFrame:
        """Every logged point of a metric, by step then time, as ``Metric`` objects (MLflow's API).

        ``as_frame=True`` gives a DataFrame with the columns ``step``,
        ``timestamp`` and ``value`` instead, read into numpy columns with no
        Python object per point: about 24 bytes a point against ~300 for the
        list, and faster; use it for long histories.
        """
        if not isinstance(as_frame, bool):
            raise InvalidInput(f"as_frame must be True or False, got {as_frame!r}")
        self.flush()
        if as_frame:
            return histories.history_frame(self._tracking, run_id, key)
        return self._tracking.get_metric_history(run_id, key)

    def get_metric_histories(self, run_ids: Sequence[str], keys: Sequence[str] | None = None) -> pd.DataFrame:
        """The histories of ``keys`` (every key if ``None``) in many runs, as one long DataFrame.

        Columns ``run_id``, ``key`` (categoricals), ``step``, ``timestamp``,
        ``value``; rows by run (in the order given), key, step, time. Read as
        numpy columns (see ``jupyter_lifecycle.tracking.histories``): the bulk
        read for charts and comparisons.
        """
        if isinstance(run_ids, str) or (keys is not None and isinstance(keys, str)):
            raise InvalidInput("run_ids and keys must be lists of strings, such as [run_id] and ['loss']")
        self.flush()
        return histories.histories_frame(self._tracking, list(run_ids), None if keys is None else list(keys))

    # ---- artifacts ---------------------------------------------------------

    def _write(self, run_id: str, artifact_file: str, write: Callable[[Path], object]) -> str:
        rel = files.clean_artifact_path(artifact_file)
        if not rel:
            raise InvalidInput("artifact_file must name a file, such as 'plots/loss.png'")
        self._check_run(run_id)
        root = self._tracking.artifact_dir(run_id)
        target = root / rel
        if target.is_dir():
            raise InvalidInput(f"artifact_file {rel!r} is a folder in run {run_id}'s artifacts; "
                               f"name a file inside it, such as '{rel}/{target.name}.json'")  # fmt: skip
        blocking = next((p for p in target.parents if p != root and root in p.parents and p.is_file()), None)
        if blocking is not None:
            raise InvalidInput(f"artifact_file {rel!r} needs the folder {blocking.relative_to(root).as_posix()!r}, "
                               f"which is a file in run {run_id}'s artifacts; pick another path")  # fmt: skip
        files.write_atomically(target, write)
        self._tracking.record_artifact(run_id, rel, target.stat().st_size, files.sha256_file(target))
        return rel

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Copy a local file (or a folder, recursively) into the run's artifacts."""
        source = Path(local_path)
        if source.is_dir():
            self.log_artifacts(run_id, source, "/".join(filter(None, [artifact_path, source.name])))
            return
        if not source.is_file():
            raise NotFound(f"cannot log artifact {str(local_path)!r}: no such file")
        prefix = files.clean_artifact_path(artifact_path)
        self._write(run_id, f"{prefix}/{source.name}" if prefix else source.name, functools.partial(_copy, source))

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Copy every file below ``local_dir`` into the run's artifacts, keeping the layout."""
        root = Path(local_dir)
        if not root.is_dir():
            raise NotFound(f"cannot log artifacts from {str(local_dir)!r}: no such folder")
        prefix = files.clean_artifact_path(artifact_path)
        for source in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = source.relative_to(root).as_posix()
            self._write(run_id, f"{prefix}/{rel}" if prefix else rel, functools.partial(_copy, source))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save text as an artifact file."""
        self._write(run_id, artifact_file, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Save a dict as JSON, or YAML when the file ends in .yaml/.yml."""
        self._write(run_id, artifact_file, lambda tmp: files.write_dict(dictionary, tmp))

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib figure, altair chart or plotly figure (format from the extension)."""
        self._write(run_id, artifact_file, lambda tmp: files.write_figure(figure, tmp))

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Save a DataFrame or dict as .json (MLflow's split table), .parquet or .csv; an existing table grows.

        As in MLflow, logging to a table file the run already has appends the
        rows, and the run's ``mlflow.loggedArtifacts`` tag lists the table so
        ``load_table`` finds it.
        """
        rel = files.clean_artifact_path(artifact_file)
        if not rel.lower().endswith(files.TABLE_SUFFIXES):
            raise InvalidInput(f"log_table writes .json, .parquet or .csv files, not {artifact_file!r}")
        frame = files.table_frame(data)
        existing = self._tracking.artifact_dir(run_id) / rel
        if existing.is_file():
            import pandas as pd

            frame = pd.concat([files.read_table(existing), frame], ignore_index=True)
        self._write(run_id, rel, lambda tmp: files.write_table(frame, tmp))
        logged = json.loads(self.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
        if {"path": rel, "type": "table"} not in logged:
            self.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*logged, {"path": rel, "type": "table"}]))

    def load_table(
        self,
        experiment_id: str,
        artifact_file: str,
        run_ids: Sequence[str] | None = None,
        extra_columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The table ``artifact_file`` of every run of the experiment that has it (or of ``run_ids``), concatenated.

        ``extra_columns`` names columns of ``search_runs``'s DataFrame (``run_id``,
        ``params.lr``, ``tags.mlflow.runName``...) added to each run's rows; a name
        the table already has gets a trailing ``_``, as in MLflow.
        """
        import pandas as pd

        rel = files.clean_artifact_path(artifact_file)
        runs = self.search_runs_frame([experiment_id])
        if run_ids is not None:
            wanted = list(run_ids)
            missing = sorted(set(wanted) - set(runs["run_id"]))
            if missing:
                raise NotFound(f"no run {missing[0]!r} in experiment {experiment_id}")
            runs = runs[runs["run_id"].isin(wanted)]
        unknown = [c for c in extra_columns or [] if c not in runs.columns]
        if unknown:
            raise InvalidInput(f"extra column {unknown[0]!r} is not a search_runs column (such as run_id or params.<key>)")
        parts = []
        for _, run in runs.iterrows():
            path = self._tracking.artifact_dir(run["run_id"]) / rel
            if not path.is_file():
                if run_ids is not None:
                    raise NotFound(f"run {run['run_id']} has no table {artifact_file!r}")
                continue
            table = files.read_table(path)
            for column in extra_columns or []:
                table[f"{column}_" if column in table.columns else column] = run[column]
            parts.append(table)
        if not parts:
            raise NotFound(f"no run of experiment {experiment_id} has a table {artifact_file!r}")
        return pd.concat(parts, ignore_index=True)

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        """Save a numpy array or PIL image: as ``artifact_file``, or as one step of the image series ``key``.

        A series image goes to ``images/<key>+step+<step>+timestamp+<ms>+<uuid>.png``
        with a 256-pixel ``+compressed.webp`` beside it, MLflow's layout, so
        MLflow's UI shows it as a series. Writes are synchronous here
        (``synchronous`` is accepted for MLflow's signature).
        """
        if artifact_file is not None and (key is not None or step is not None or timestamp is not None):
            raise InvalidInput("log_image takes either artifact_file, or key with step/timestamp: not both")
        if artifact_file is None and key is None:
            raise InvalidInput("log_image needs artifact_file (one image) or key (an image series)")
        picture = files.pil_image(image)
        if artifact_file is not None:
            self._write(run_id, artifact_file, lambda tmp: picture.save(tmp))
            return
        if not isinstance(key, str) or not IMAGE_KEY.fullmatch(key):
            raise InvalidInput(f"image key {key!r} may hold only letters, digits, '_', '-', '.', ' ' and '/'")
        stem = f"images/{key.replace('/', '~')}+step+{int(step or 0)}+timestamp+{int(timestamp or _now())}+{uuid.uuid4()}"
        self._write(run_id, f"{stem}.png", lambda tmp: picture.save(tmp, format="PNG"))
        small = files.thumbnail(picture)
        self._write(run_id, f"{stem}+compressed.webp", lambda tmp: small.save(tmp, format="WEBP"))
        self.set_tag(run_id, LOGGED_IMAGES_TAG, "True")

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly under ``path`` in the run's artifacts."""
        return files.list_dir(self._tracking.artifact_dir(run_id), path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None) -> str:
        """The local path of an artifact (copied to ``dst_path`` if given)."""
        return files.copy_out(self._tracking.artifact_dir(run_id), path, dst_path)

    def artifact_dir(self, run_id: str) -> Path:
        """The local folder holding a run's artifacts."""
        return self._tracking.artifact_dir(run_id)

    # ---- search ------------------------------------------------------------

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Runs matching a filter string, as ``Run`` objects; ``.token`` pages on."""
        self.flush()
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        limit = check_max_results(max_results)
        offset = _decode_token(page_token)
        if limit is None:  # every run: no next page
            return PagedList(self._tracking.search_runs(ids, filter_string, run_view_type, None, order_by, offset), None)
        max_results = limit
        runs = self._tracking.search_runs(ids, filter_string, run_view_type, max_results + 1, order_by, offset)
        token = _encode_token(offset + max_results) if len(runs) > max_results else None
        return PagedList(self._with_inputs(runs[:max_results]), token)

    def search_runs_frame(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: list[str] | None = None,
    ) -> pd.DataFrame:
        """Matching runs as a DataFrame with MLflow's columns (``params.*``, ``metrics.*``, ``tags.*``)."""
        self.flush()
        chunks = self._tracking.search_run_csv(experiment_ids, filter_string, run_view_type, max_results, order_by)
        return runs_frame_from_csv(chunks, self._tracking.home_uri, self._tracking.artifact_uri)

    # ---- logged models (MLflow 3) ------------------------------------------

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        model_type: str | None = None,
        *,
        artifact_path: str | None = None,
        step: int = 0,
    ) -> LoggedModel:
        """A new PENDING logged model in ``experiment_id``; ``finalize_logged_model`` ends it.

        Its files go to ``artifacts/models/<model_id>/`` in the store home, or
        to ``artifact_path`` inside the run's artifacts when both
        ``source_run_id`` and ``artifact_path`` are given (what ``log_model``
        does in a run). The model gets the run's params, as in MLflow 3.
        """
        store = self.store
        model_id = new_model_id()
        values = checked_strings(params, "param")
        if source_run_id is not None:
            run = self.get_run(source_run_id)
            if run.info.experiment_id != experiment_id:
                raise InvalidInput(f"run {source_run_id} is in experiment {run.info.experiment_id}, "
                                   f"not {experiment_id}: log the model to the run's experiment")  # fmt: skip
            values = {**values, **run.data.params}
        store.tracking.get_experiment(experiment_id)  # NotFound names an unknown experiment
        if source_run_id is not None and artifact_path:
            folder = store.tracking.artifact_dir(source_run_id) / artifact_path
            location = folder.relative_to(store.home).as_posix() if folder.is_relative_to(store.home) else str(folder)
        else:
            location = f"{config.ARTIFACTS_DIRNAME}/{MODELS_DIRNAME}/{model_id}"
        all_tags = {"mlflow.user": current_user(), **checked_strings(tags, "tag")}
        return store.models.create(model_id, experiment_id, name or _random_name(), location, source_run_id,
                                   model_type, all_tags, values, step, artifact_path or "")  # fmt: skip

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        """Set a logged model's status to ``"READY"`` or ``"FAILED"``."""
        return self.store.models.finalize(model_id, status)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """The logged model ``m-...``; ``NotFound`` names the closest ones."""
        return self.store.models.get(model_id)

    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any] | str] | None = None,
        page_token: str | None = None,
    ) -> list[LoggedModel]:
        """Logged models of ``experiment_ids`` matching the filter (see ``lc.search_logged_models``); ``.token`` pages on."""
        offset = _decode_token(page_token)
        limit = (max_results or 100) + offset + 1
        found = self.store.models.search(list(experiment_ids), filter_string, order_by, limit, datasets)
        page = found[offset:offset + (max_results or 100)]
        token = _encode_token(offset + len(page)) if len(found) > offset + len(page) else None
        return PagedList(page, token)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        """Set tags on a logged model."""
        self.store.models.set_tags(model_id, checked_strings(tags, "tag"))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove one tag from a logged model."""
        self.store.models.delete_tag(model_id, key)

    def log_model_params(self, model_id: str, params: dict[str, Any]) -> None:
        """Log params to a logged model; a param keeps its first value."""
        self.store.models.log_params(model_id, checked_strings(params, "param"))

    def log_model_metrics(self, model_id: str, metrics: Iterable[Metric]) -> None:
        """Attach ``Metric`` points to a logged model (their ``dataset_name``/``dataset_digest`` kept)."""
        self.store.models.log_metrics(model_id, list(metrics))


def runs_frame(rows: Sequence[Sequence[Any]], home: Path) -> pd.DataFrame:
    """Raw search rows to MLflow's ``search_runs`` DataFrame."""
    import pandas as pd

    columns = list(zip(*rows, strict=True)) or [()] * 14  # no rows: 14 empty columns
    home_uri = home.as_uri()
    base = pd.DataFrame(
        {
            "run_id": columns[0],
            "experiment_id": columns[1],
            "status": columns[3],
            "artifact_uri": [f"{home_uri}/{location}" for location in columns[7]],
            "start_time": _utc_times(columns[4]),
            "end_time": _utc_times(columns[5]),
        }
    )
    parts = [base]
    if rows:
        for index, prefix in ((12, "metrics."), (11, "params."), (13, "tags.")):
            part = _json_lines_frame(columns[index], numeric=prefix == "metrics.")
            part.index = base.index
            parts.append(part.sort_index(axis=1).add_prefix(prefix))
    return pd.concat(parts, axis=1)


def runs_frame_from_csv(
    chunks: Iterable[list[tuple[bytes, bytes]]], home_uri: str, artifact_uri: Callable[[str], str]
) -> pd.DataFrame:
    """MLflow's ``search_runs`` DataFrame from ``TrackingStore.search_run_csv``' pieces.

    Arrow parses each piece's CSV in C++ on a worker thread while SQLite
    reads the next one, and the pieces are joined as Arrow tables, so no
    Python object is made per value and only a piece of text is alive at a
    time (issue #14). Runs with the same keys parse as one CSV; a run
    without some metric, param or tag has a null there. ``artifact_uri`` is
    ``home_uri`` + "/" + the run's usual folder, else ``artifact_uri(folder)``
    (an imported run's, quoted as ``Path.as_uri`` does).
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    tables: list[pa.Table] = []
    with ThreadPoolExecutor(1, thread_name_prefix="runs-frame") as pool:
        pending = None
        for rows in chunks:
            if pending is not None:  # the piece before this one, parsed while SQLite read this one
                tables.append(pending.result())
            pending = pool.submit(_parse_run_csv, rows)
        if pending is not None:
            tables.append(pending.result())
    if not tables:
        return runs_frame([], Path("/"))
    table = pa.concat_tables(tables, promote_options="permissive")
    base = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    table = table.append_column("artifact_uri", _artifact_uris(table, home_uri, artifact_uri))
    names = base + [name for prefix in ("metrics.", "params.", "tags.")
                    for name in sorted(n for n in table.column_names if n.startswith(prefix))]  # fmt: skip
    table = table.select(names)
    for name in ("start_time", "end_time"):
        times = table.column(name).cast(pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("us", tz="UTC"))
        table = table.set_column(names.index(name), name, times)
    return table.to_pandas()


def _artifact_uris(table: pa.Table, home_uri: str, artifact_uri: Callable[[str], str]) -> pa.ChunkedArray:
    """Each run's artifact URI. A run's head names its folder only when it is not artifacts/<experiment
    id>/<run id> of letters, digits, ``_`` and ``-``, which a URI takes as it is (m0019)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    uris = pc.binary_join_element_wise(pa.scalar(f"{home_uri}/artifacts", text), table.column("experiment_id"),
                                       table.column("run_id"), pa.scalar("/", text)).combine_chunks()  # fmt: skip
    named = table.column("artifact_location").combine_chunks()
    valid = named.is_valid()
    rare = np.flatnonzero(valid.to_numpy(zero_copy_only=False))
    if not len(rare):
        return pa.chunked_array([uris])
    # An imported run's folder: few, and quoted as Path.as_uri does.
    quoted = pa.array([artifact_uri(folder) for folder in named.take(rare).to_pylist()], text)
    return pa.chunked_array([pc.replace_with_mask(uris, valid, quoted)])


_HEAD_TYPES = {"run_id": "text", "experiment_id": "text", "status": "text", "start_time": "int",
               "end_time": "int", "artifact_location": "text"}  # fmt: skip


def _parse_run_csv(rows: list[tuple[bytes, bytes]]) -> pa.Table:
    """One piece of ``search_run_csv``: one CSV per set of keys, in the search's order.

    A piece's runs nearly always share their keys (one parse); runs with
    other keys parse apart and are put back in order.
    """
    import numpy as np
    import pyarrow as pa

    groups: dict[bytes, list[int]] = {}
    for position, (keys, _) in enumerate(rows):
        groups.setdefault(keys, []).append(position)
    parts, order = [], []
    for keys, positions in groups.items():
        metrics, params, tags = _three_arrays(keys.decode())
        types = {**_HEAD_TYPES, **{f"metrics.{k}": "float" for k in metrics},
                 **{f"params.{k}": "text" for k in params}, **{f"tags.{k}": "text" for k in tags}}  # fmt: skip
        parts.append(_read_csv([rows[i][1] for i in positions], types))
        order.extend(positions)
    if len(parts) == 1:
        return parts[0]
    return pa.concat_tables(parts, promote_options="permissive").take(np.argsort(order))


def _three_arrays(text: str) -> list[list[str]]:
    """The metric, param and tag keys of ``search_run_csv``: three JSON arrays one after another."""
    decoder, arrays, end = json.JSONDecoder(), [], 0
    for _ in range(3):
        array, end = decoder.raw_decode(text, end)
        arrays.append(array)
    return arrays


def _read_csv(lines: list[bytes], types: dict[str, str]) -> pa.Table:
    """CSV lines with these columns: unquoted empty is null, quoted text is text (even ``""``)."""
    import pyarrow as pa
    from pyarrow import csv

    kinds = {"text": pa.large_string(), "float": pa.float64(), "int": pa.int64()}
    # Strings are Arrow's large_string, the type pandas keeps its strings in: to_pandas then
    # shares their buffers instead of copying them (~30 MB less at the peak for 100,000 runs).
    # Blocks of 1 MiB parse on several threads; a block must hold the longest line.
    block = max(1 << 20, max(map(len, lines)) + 1)
    return csv.read_csv(
        pa.py_buffer(b"\n".join(lines)),
        read_options=csv.ReadOptions(column_names=list(types), block_size=block),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(column_types={name: kinds[kind] for name, kind in types.items()},
                                           null_values=[""], strings_can_be_null=True,
                                           quoted_strings_can_be_null=False),
    )  # fmt: skip


def _utc_times(epoch_ms: Sequence[int | None]) -> pd.DatetimeIndex:
    """Epoch milliseconds (``None`` for not yet) as UTC times, through numpy (6x ``to_datetime``)."""
    import numpy as np
    import pandas as pd

    # float64 holds every epoch-ms integer exactly, and None becomes NaN, then NaT.
    stamps = np.array(epoch_ms, dtype="float64").astype("datetime64[ms]")
    return pd.DatetimeIndex(stamps).tz_localize("UTC").as_unit("us")


def _json_lines_frame(objects: Sequence[str], numeric: bool) -> pd.DataFrame:
    """One column per key of these JSON objects (one per run), parsed by Arrow in C++.

    About 4x faster than decoding to dicts and building the frame from them,
    and the string columns come out as pandas' Arrow-backed strings directly.
    """
    import pyarrow as pa
    from pyarrow import json as pa_json

    text = "\n".join(objects)
    if numeric:  # the store keeps infinities as strings; keys cannot contain '"', so this hits values only
        text = text.replace(':"Infinity"', ":Infinity").replace(':"-Infinity"', ":-Infinity")
    # Blocks of 1 MiB are parsed on several threads (about 2x faster than one
    # block). Each block must hold whole lines: a UTF-8 character is <= 4 bytes.
    # Per-block types merge safely here: strings stay strings, and a metric
    # that is null in one block and a number in another becomes double.
    block = max(1 << 20, 4 * max(map(len, objects)) + 1)
    table = pa_json.read_json(pa.py_buffer(text.encode()), read_options=pa_json.ReadOptions(block_size=block))
    frame = table.to_pandas()
    return frame.astype("float64") if numeric else frame


def current_user() -> str:
    """``getpass.getuser()``, with the password-database lookup it falls back to done once per process:
    without $USER (containers, services) that lookup took ~6% of creating a run (issue #14)."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if user := os.environ.get(name):
            return user
    return _os_user()


@functools.lru_cache(maxsize=1)
def _os_user() -> str:
    return getpass.getuser()


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)


def _status(status: str) -> str:
    from ..entities import RUN_STATUSES

    upper = str(status).upper()
    if upper not in RUN_STATUSES:
        raise InvalidInput(f"invalid run status {status!r}; use one of {', '.join(RUN_STATUSES)}")
    return upper


def _now() -> int:
    return int(time.time() * 1000)


_ADJECTIVES = ("bold", "calm", "bright", "clever", "eager", "gentle", "keen", "lucky", "merry", "quick",
               "quiet", "sharp", "sunny", "swift", "tidy", "wise")  # fmt: skip
_NOUNS = ("otter", "falcon", "maple", "comet", "river", "badger", "heron", "cedar", "lynx", "panda",
          "robin", "tiger", "willow", "zebra", "koala", "finch")  # fmt: skip


def _random_name() -> str:
    """A readable run name such as ``swift-otter-42``, as MLflow gives unnamed runs."""
    import random

    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(1, 999)}"
