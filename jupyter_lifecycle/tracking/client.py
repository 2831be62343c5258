"""``Client``: the tracking API with explicit ids, shaped like ``mlflow.MlflowClient``."""

from __future__ import annotations

import base64
import functools
import getpass
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import Experiment, FileInfo, Metric, Param, Run, RunTag, ViewType
from ..errors import AlreadyExists, InvalidInput, NotFound
from ..store import Store, open_store
from ..store.tracking import DEFAULT_EXPERIMENT
from . import artifacts as files
from .validation import metric_value, param_value, tag_value, validate_key

if TYPE_CHECKING:
    import pandas as pd

TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")


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
        return int(json.loads(base64.b64decode(token))["offset"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(f"invalid page_token {token!r}: pass the token of a previous page") from None


def store_home(uri: str | os.PathLike[str]) -> Path:
    """The store home a tracking URI points to: a folder, ``file://`` URI or ``sqlite:///.../lifecycle.db``."""
    text = os.fspath(uri)
    for prefix in ("sqlite:///", "file://"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    path = Path(text).expanduser().resolve()
    return path.parent if path.suffix == ".db" else path


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
        user = getpass.getuser()
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
        return self._tracking.get_run(run_id)

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
    ) -> None:
        """Buffer one metric point (written at the next flush; ``synchronous=True`` flushes now)."""
        # The hot path of a training loop: checks are cached, the write is an append.
        if key not in self._good_keys:
            self._good_keys.add(validate_key(key, "metric"))
        if type(value) is not float:
            value = metric_value(key, value)
        if run_id not in self._live_runs:
            self._check_run(run_id)
        now = time.time()
        buffer = self._buffer
        with buffer.lock:
            points = buffer.points
            if not points:
                buffer.arm(now)  # the background flusher commits it within max_seconds
            points.append((run_id, key, value, int(now * 1000) if timestamp is None else int(timestamp),
                           int(step) if step else 0))  # fmt: skip
            full = len(points) >= buffer.max_points
        if full or now >= buffer.deadline or synchronous:
            buffer.flush()

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
    ) -> None:
        """Buffer several metrics at one step (the fluent ``log_metrics``, without building ``Metric`` objects)."""
        self._check_run(run_id)
        self._append(self._points(run_id, [(k, v, timestamp, step) for k, v in metrics.items()]), synchronous)

    def _points(self, run_id: str, items: Iterable[tuple[str, Any, int | None, int | None]]) -> list[tuple[str, str, float, int, int]]:
        good, now, points = self._good_keys, _now(), []
        for key, value, timestamp, step in items:
            if key not in good:
                good.add(validate_key(key, "metric"))
            if type(value) is not float:
                value = metric_value(key, value)
            points.append((run_id, key, value, now if timestamp is None else int(timestamp), int(step) if step else 0))
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

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged point of a metric, by step."""
        self.flush()
        return self._tracking.get_metric_history(run_id, key)

    # ---- artifacts ---------------------------------------------------------

    def _write(self, run_id: str, artifact_file: str, write: Callable[[Path], object]) -> str:
        rel = files.clean_artifact_path(artifact_file)
        if not rel:
            raise InvalidInput("artifact_file must name a file, such as 'plots/loss.png'")
        self._check_run(run_id)
        target = self._tracking.artifact_dir(run_id) / rel
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
        """Save a DataFrame or dict of columns as .json (MLflow's split table), .csv or .parquet."""
        self._write(run_id, artifact_file, lambda tmp: files.write_table(data, tmp))

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
        offset = _decode_token(page_token)
        runs = self._tracking.search_runs(ids, filter_string, run_view_type, max_results + 1, order_by, offset)
        token = _encode_token(offset + max_results) if len(runs) > max_results else None
        return PagedList(runs[:max_results], token)

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
        rows = self._tracking.search_run_rows(experiment_ids, filter_string, run_view_type, max_results, order_by)
        return runs_frame(rows, self.store.home)


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
