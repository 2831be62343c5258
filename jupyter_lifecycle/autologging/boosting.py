"""What XGBoost and LightGBM autolog share: patches, the run, eval metric histories, importance, the model.

Both libraries train through one function (``xgboost.train``,
``lightgbm.train``) that their scikit-learn wrappers call from ``fit``
(through ``xgboost.sklearn.train``...). Autolog wraps that function, the
wrappers' ``fit`` and the data containers' ``__init__`` (a ``DMatrix`` cannot
give its rows back, so the first rows are kept as the model's input example).
The outermost call logs, as MLflow does:

- params: the booster params and the train function's other arguments
  (``num_boost_round``, ``early_stopping_rounds``...), and an estimator's
  ``get_params()``;
- one metric history per eval set and metric (``validation_0-logloss``),
  ``step`` = the boosting round;
- with early stopping, ``best_iteration`` and ``stopped_iteration``, and the
  best round's metrics once more at the step after the last round;
- feature importance as ``feature_importance_<type>.json`` and ``.png``;
- the model, through the flavor's ``log_model`` (handed in by the flavor, so
  this package never imports the flavor modules that import it).

Runs are chosen as scikit-learn autolog chooses them: with no active run the
training gets its own run, inside a run the first training logs into it and
later ones get nested child runs. A fit inside a scikit-learn autologged fit
(a ``Pipeline`` or ``GridSearchCV`` step) logs nothing itself. Logging
problems are warned about, never raised: training proceeds as without autolog.
"""

from __future__ import annotations

import functools
import inspect
import json
import random
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..entities import Param, RunTag
from ..errors import InvalidInput
from ..tracking import fluent
from ..tracking.validation import MAX_PARAM_VALUE_LENGTH
from . import sklearn as sklearn_autolog
from .options import check_mlflow_options

EXAMPLE_ROWS = 5
AUTOLOG_TAG = "mlflow.autologging"
_MISSING = object()
_local = threading.local()


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_PARAM_VALUE_LENGTH else text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."


def head(data: Any) -> Any:
    """The first rows of a DataFrame or array as an input example, or ``None`` for other data."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data.iloc[:EXAMPLE_ROWS].copy()
    if isinstance(data, np.ndarray) and data.ndim == 2:
        return data[:EXAMPLE_ROWS].copy()
    return None


class Framework:
    """One library's autolog: its patches and settings; subclasses say how the library trains."""

    name = ""
    train_data_argument = ""
    unlogged_arguments: tuple[str, ...] = ()
    estimator_modules: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.enabled = False
        self.log_model: Callable[..., Any] | None = None
        self.settings: dict[str, Any] = {"log_models": True, "silent": False}
        self._patches: list[tuple[Any, str, Any]] = []
        self._warned: set[str] = set()
        self._lock = threading.RLock()

    # ---- what each library says --------------------------------------------

    def patch_targets(self) -> tuple[list[tuple[Any, str]], list[type], list[type]]:
        """``(module, name)`` of the train functions, the estimator base class, the data containers."""
        raise NotImplementedError

    def callback(self, session: Session) -> Any:
        """A training callback that calls ``session.record(step, {name: value})`` after every round."""
        raise NotImplementedError

    def early_stopping(self, booster: Any, arguments: dict[str, Any], rounds: int) -> tuple[int, int] | None:
        """``(best_iteration, stopped_iteration)`` when early stopping ran, else ``None``."""
        raise NotImplementedError

    def best_round(self, booster: Any) -> int:
        """The index in the recorded rounds of the best one."""
        raise NotImplementedError

    def importance(self, booster: Any) -> dict[str, dict[str, Any]]:
        """``{importance type: {feature: value}}``."""
        raise NotImplementedError

    def model_options(self) -> dict[str, Any]:
        """Extra ``log_model`` arguments (XGBoost's ``model_format``)."""
        return {}

    # ---- switching on and off ----------------------------------------------

    def enable(self, log_model: Callable[..., Any] | None, **settings: Any) -> None:
        """Patch the library (once); later calls only change the settings."""
        with self._lock:
            self.log_model = log_model
            self.settings.update(settings)
            if self.enabled:
                return
            functions, base, containers = self.patch_targets()
            for module, name in functions:
                self._patch(module, name, self._wrap_train)
            for cls in self._estimator_classes(base):
                self._patch(cls, "fit", self._wrap_fit)
            for cls in containers:
                self._patch(cls, "__init__", self._wrap_init)
            self.enabled = True

    def disable(self) -> None:
        """Put every patched attribute back exactly as it was."""
        with self._lock:
            for owner, name, original in reversed(self._patches):
                setattr(owner, name, original)
            self._patches.clear()
            self.enabled = False

    def _estimator_classes(self, base: list[type]) -> list[type]:
        found: list[type] = []
        stack = list(base)
        while stack:
            cls = stack.pop()
            if cls not in found and cls.__module__ in self.estimator_modules:
                found.append(cls)
                stack.extend(cls.__subclasses__())
        return [cls for cls in found if "fit" in vars(cls)]

    def _patch(self, owner: Any, name: str, wrap: Callable[[Any], Any]) -> None:
        original = vars(owner).get(name, _MISSING)
        if original is _MISSING:
            return
        wrapper = functools.wraps(original)(wrap(original))
        # Marked like scikit-learn autolog's own wrappers, so that it never wraps these fits again.
        wrapper.__lifecycle_original__ = original  # type: ignore[attr-defined]
        self._patches.append((owner, name, original))
        setattr(owner, name, wrapper)

    def warn(self, what: str, exc: BaseException) -> None:
        """Warn once per kind of problem (unless ``silent``)."""
        if what not in self._warned and not self.settings["silent"]:
            self._warned.add(what)
            warnings.warn(f"jupyter-lifecycle {self.name} autolog could not {what}: {type(exc).__name__}: {exc}",
                          stacklevel=4)  # fmt: skip

    # ---- the wrappers --------------------------------------------------------

    def _wrap_init(self, original: Any) -> Any:
        framework = self

        def init_with_example(container: Any, *args: Any, **kwargs: Any) -> None:
            original(container, *args, **kwargs)
            if framework.enabled:
                try:
                    container._lifecycle_example = head(args[0] if args else kwargs.get("data"))
                except Exception:  # an example is a nicety: never fail building the data for it
                    pass

        return init_with_example

    def _wrap_train(self, original: Any) -> Any:
        framework = self

        def train_with_autolog(*args: Any, **kwargs: Any) -> Any:
            session = current()
            if session is not None:
                if session.framework is framework and session.booster is None:  # the train call inside a patched fit
                    return session.train(original, args, kwargs)
                return original(*args, **kwargs)
            if not framework.enabled or sklearn_autolog._depth > 0:
                return original(*args, **kwargs)
            session = Session.open(framework, f"{framework.name}-{random.randint(1, 9999)}")
            if session is None:
                return original(*args, **kwargs)
            with session, _sklearn_autolog_paused():
                booster = session.train(original, args, kwargs)
                data = session.arguments.get(framework.train_data_argument)
                session.finish(booster, booster, getattr(data, "_lifecycle_example", None))
            return booster

        return train_with_autolog

    def _wrap_fit(self, original: Any) -> Any:
        framework = self
        # Under scikit-learn autolog's own wrapper (enabled first): call the fit it wraps, so one log is made.
        fit = getattr(original, "__lifecycle_original__", original)

        def fit_with_autolog(estimator: Any, *args: Any, **kwargs: Any) -> Any:
            if not framework.enabled or current() is not None or sklearn_autolog._depth > 0:
                return fit(estimator, *args, **kwargs)
            session = Session.open(framework, f"{type(estimator).__name__}-{random.randint(1, 9999)}", estimator)
            if session is None:
                return fit(estimator, *args, **kwargs)
            with session:
                with _sklearn_autolog_paused():
                    result = fit(estimator, *args, **kwargs)
                X = args[0] if args else kwargs.get("X")
                session.finish(session.booster, estimator, head(X))
            return result

        return fit_with_autolog


@contextmanager
def _sklearn_autolog_paused() -> Iterator[None]:
    """scikit-learn estimators fitted during training (LightGBM's label encoder) log nothing of their own.

    Counts as a scikit-learn autologged fit in progress, as a Pipeline's steps do.
    """
    sklearn_autolog._enter()
    try:
        yield
    finally:
        sklearn_autolog._leave()


def current() -> Session | None:
    """The training being logged in this thread, if any."""
    return getattr(_local, "session", None)


class Session:
    """One logged training: its run, the rounds recorded so far, the booster once trained."""

    def __init__(self, framework: Framework, run: Any, own: bool) -> None:
        self.framework = framework
        self.run = run
        self.own = own
        self.client = run.client
        self.run_id: str = run.info.run_id
        self.rounds: list[dict[str, float]] = []
        self.booster: Any = None
        self.arguments: dict[str, Any] = {}

    @classmethod
    def open(cls, framework: Framework, run_name: str, estimator: Any = None) -> Session | None:
        """Pick or start the run and log the estimator's params; ``None`` (after a warning) if that fails."""
        own = None
        try:
            active = fluent.active_run()
            if active is None or AUTOLOG_TAG in active.client.get_run(active.info.run_id).data.tags:
                own = fluent.start_run(nested=active is not None, run_name=run_name)
            session = cls(framework, own or active, own is not None)
            tags = [RunTag(AUTOLOG_TAG, framework.name)]
            params: dict[str, Any] = {}
            if estimator is not None:
                tags += [RunTag("estimator_name", type(estimator).__name__),
                         RunTag("estimator_class", f"{type(estimator).__module__}.{type(estimator).__qualname__}")]  # fmt: skip
                params = estimator.get_params(deep=False)
            session.log_params(params, tags)
        except Exception as exc:
            framework.warn("start logging the training", exc)
            if own is not None:
                _end(own, "FAILED")
            return None
        _local.session = session
        return session

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        _local.session = None
        if self.own:
            _end(self.run, "FINISHED" if kind is None else "KILLED" if kind is KeyboardInterrupt else "FAILED")

    def log_params(self, params: dict[str, Any], tags: list[RunTag] | None = None) -> None:
        """Log params not yet in the run (a param cannot change within a run: the first value stays)."""
        existing = self.client.get_run(self.run_id).data.params
        fresh = [Param(k, _param_text(v)) for k, v in params.items() if k not in existing]
        self.client.log_batch(self.run_id, params=fresh, tags=tags or [])

    def record(self, step: int, values: dict[str, Any]) -> None:
        """Log one round's eval metrics at ``step`` (the round); called by the training callback, never raises."""
        try:
            # MLflow's names: "ndcg@3" is not a valid metric name, it becomes "ndcg_at_3".
            clean = {k.replace("@", "_at_"): float(v) for k, v in values.items()}
            self.rounds.append(clean)
            self.client.log_metrics(self.run_id, clean, step=step, timestamp=int(time.time() * 1000))
        except Exception as exc:
            self.framework.warn("log eval metrics", exc)

    def train(self, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call the library's train function with the metric callback added; log its params."""
        framework = self.framework
        try:
            bound = inspect.signature(original).bind(*args, **kwargs)
            logged = inspect.signature(original).bind(*args, **kwargs)
            logged.apply_defaults()
            self.arguments = dict(logged.arguments)
            params = dict(logged.arguments.get("params") or {})
            params.update({k: v for k, v in logged.arguments.items() if k not in framework.unlogged_arguments})
            self.log_params(params)
            # A new list: the caller's own callbacks list is left as it was.
            bound.arguments["callbacks"] = [*(bound.arguments.get("callbacks") or []), framework.callback(self)]
            args, kwargs = bound.args, bound.kwargs
        except Exception as exc:
            framework.warn("log the training params", exc)
        self.booster = original(*args, **kwargs)
        return self.booster

    def finish(self, booster: Any, model: Any, example: Any) -> None:
        """After training: early stopping metrics, feature importance, the model."""
        framework = self.framework
        if booster is None:
            return
        try:
            stopped = framework.early_stopping(booster, self.arguments, len(self.rounds))
            if stopped is not None and self.rounds:
                best, last = stopped
                self.client.log_metrics(self.run_id, {"stopped_iteration": last, "best_iteration": best}, step=0)
                index = framework.best_round(booster)
                if 0 <= index < len(self.rounds):  # a continued booster counts rounds from its first training
                    self.client.log_metrics(self.run_id, self.rounds[index], step=len(self.rounds))
        except Exception as exc:
            framework.warn("log early stopping's best iteration", exc)
        try:
            self.log_importance(framework.importance(booster))
        except Exception as exc:
            framework.warn("log feature importance", exc)
        if framework.settings["log_models"] and framework.log_model is not None:
            try:
                framework.log_model(model, "model", input_example=example, run_id=self.run_id,
                                    **framework.model_options())  # fmt: skip
            except Exception as exc:
                framework.warn("log the trained model", exc)

    def log_importance(self, importance: dict[str, dict[str, Any]]) -> None:
        """``feature_importance_<type>.json`` and a bar chart of it, ``feature_importance_<type>.png``."""
        with tempfile.TemporaryDirectory() as tmp:
            for kind, values in importance.items():
                file = Path(tmp) / f"feature_importance_{kind}.json"
                file.write_text(json.dumps(values, indent=2), encoding="utf-8")
                self.client.log_artifact(self.run_id, file)
                try:
                    chart = importance_chart(values, kind, Path(tmp) / f"feature_importance_{kind}.png")
                except ImportError as exc:
                    self.framework.warn("draw the feature importance chart (pip install matplotlib)", exc)
                    continue
                self.client.log_artifact(self.run_id, chart)


def importance_chart(values: dict[str, Any], kind: str, file: Path) -> Path:
    """A horizontal bar chart of feature importance, largest on top, saved as PNG."""
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: leaves the notebook's backend and figures alone

    # gblinear gives one value per class: chart their total size.
    totals = {name: float(np.abs(np.asarray(value, dtype=float)).sum()) for name, value in values.items()}
    names = sorted(totals, key=totals.__getitem__)
    figure = Figure(figsize=(6.4, 4.8 + 0.1 * max(0, len(names) - 10)))
    axes = figure.subplots()
    axes.barh(range(len(names)), [totals[n] for n in names], align="center", height=0.5)
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("Importance")
    axes.set_title(f"Feature Importance ({kind})")
    figure.tight_layout()
    figure.savefig(file)
    return file


def _end(run: Any, status: str) -> None:
    while any(r is run for r in fluent.run_stack()):
        fluent.end_run(status)


def check_options(name: str, options: dict[str, Any], accepted: str) -> None:
    """MLflow's other ``<name>.autolog`` options: taken when they match what this autolog does, else refused."""
    # log_datasets: the boosting autologs log no dataset, so only False describes them.
    if options.get("log_datasets", False) is not False:
        raise InvalidInput(f"{name} autolog cannot take log_datasets={options['log_datasets']!r}: it logs no "
                           "training dataset (use lc.log_input)")  # fmt: skip
    check_mlflow_options(name, {k: v for k, v in options.items() if k != "log_datasets"}, accepted)
