"""jupyter-lifecycle: the ML lifecycle inside Jupyter, on one local SQLite store.

``import jupyter_lifecycle as lc`` gives MLflow's fluent tracking API;
``%load_ext jupyter_lifecycle`` adds notebook capture and magics.
"""

from . import tracking
from ._version import __version__
from .client import Client  # tracking + model registry
from .entities import (
    Experiment,
    FileInfo,
    LoggedModel,
    Metric,
    ModelVersion,
    Param,
    RegisteredModel,
    RegistryActivity,
    Run,
    RunData,
    RunInfo,
    RunTag,
    TransitionRequest,
    ViewType,
)
from .errors import (
    AlreadyExists,
    InvalidInput,
    InvalidState,
    LifecycleError,
    MlflowException,
    NotFound,
    SchemaMismatch,
    StoreError,
)
from .notebook import display as _display  # noqa: F401  (gives Run, Experiment... their HTML reprs)
from .notebook import evaluation as _evaluation_display  # noqa: F401  (gives EvaluationResult its HTML repr)
from .notebook import traces as _trace_display  # noqa: F401  (gives Trace its HTML repr)
from .registry import Lineage, lineage, register_model, search_model_versions, search_registered_models
from .tracing import (
    delete_assessment,
    delete_trace_tag,
    delete_traces,
    flush_trace_async_logging,
    get_assessment,
    get_current_active_span,
    get_last_active_trace_id,
    get_trace,
    log_assessment,
    log_expectation,
    log_feedback,
    search_traces,
    set_trace_tag,
    start_span,
    start_span_no_context,
    trace,
    update_assessment,
    update_current_trace,
)
from .tracking.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_experiment_tag,
    delete_run,
    delete_tag,
    end_run,
    flush,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_metric_history,
    get_parent_run,
    get_registry_uri,
    get_run,
    get_tracking_uri,
    last_active_run,
    list_artifacts,
    load_table,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_input,
    log_inputs,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
    restore_experiment,
    restore_run,
    search_experiments,
    search_runs,
    set_experiment,
    set_experiment_tag,
    set_experiment_tags,
    set_registry_uri,
    set_store,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from .tracking.system_metrics import (
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    set_system_metrics_samples_before_logging,
    set_system_metrics_sampling_interval,
)

MlflowClient = Client  # MLflow's name, for `import jupyter_lifecycle as mlflow`
# `mlflow.tracking.MlflowClient` is the full client too; set from here because the
# registry half lives above the tracking package.
tracking.MlflowClient = Client  # type: ignore[attr-defined]

# The inline UI imports altair and ipywidgets: loaded on first use, so that
# `import jupyter_lifecycle` stays fast in scripts and servers.
_LAZY = {"charts": ("notebook.charts", None), "compare": ("notebook.comparison", "compare"),
         "browse": ("notebook.widgets", "browse")}  # fmt: skip
# Notebook capture (nbformat, scikit-learn patches): also loaded on first use.
_LAZY.update({name: ("capture.revisions", name) for name in (
    "diff_revisions", "export_executed_notebook", "get_revision", "list_revisions", "record_revision",
    "restore_revision")})  # fmt: skip
_LAZY["autolog"] = ("autologging", "autolog")
# Datasets (pandas, numpy): loaded on first use, as `mlflow.data`.
_LAZY["data"] = ("data", None)
# GenAI evaluation, datasets and prompts (pandas, tqdm): loaded on first use, as `mlflow.genai`.
_LAZY["genai"] = ("genai", None)
# OpenAI autolog (lc.openai.autolog, as mlflow.openai.autolog): loaded on first use.
_LAZY["openai"] = ("autologging.openai", None)
# Models in MLflow's format (cloudpickle, pandas, scikit-learn): loaded on first use.
_LAZY.update({"pyfunc": ("pyfunc", None), "sklearn": ("sklearn", None), "models": ("models", None),
              "xgboost": ("xgboost", None), "lightgbm": ("lightgbm", None),
              "infer_signature": ("models.signature", "infer_signature"),
              "search_logged_models": ("models.logged", "search_logged_models"),
              "evaluate": ("models.evaluation", "evaluate"),
              "validate_evaluation_results": ("models.evaluation", "validate_evaluation_results")})  # fmt: skip
# Logged models (MLflow 3): loaded on first use with the models package.
_LAZY.update({name: ("models.logged", name) for name in (
    "ActiveModel", "delete_logged_model_tag", "finalize_logged_model", "get_active_model_id", "get_logged_model",
    "initialize_logged_model", "last_logged_model", "log_model_params", "set_active_model",
    "set_logged_model_tags")})  # fmt: skip
# Sync with an MLflow tracking server (requests): loaded on first use.
_LAZY["sync"] = ("sync", None)
# Scoring (batch scoring, scoring notebooks): loaded on first use.
_LAZY.update({"score": ("scoring", "score"), "generate_scoring_notebook": ("scoring", "generate_scoring_notebook")})
# Model endpoints and their inference tables (issue #16): loaded on first use.
_LAZY.update({name: ("serving", name) for name in ("Endpoint", "endpoints", "get_endpoint", "inference_log", "serve")})


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext jupyter_lifecycle``: record every cell and notebook revision, add the magics."""
    from .notebook.extension import load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """``%unload_ext jupyter_lifecycle``: remove every hook the extension added."""
    from .notebook.extension import unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The jupyter_server extension (the sidebar's REST API) lives in ``jupyter_lifecycle.server``."""
    return [{"module": "jupyter_lifecycle.server"}]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'jupyter_lifecycle' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(f".{module_name}", __name__)
    return module if attr is None else getattr(module, attr)


__all__ = [
    "__version__", "ActiveRun", "AlreadyExists", "Client", "Experiment", "FileInfo", "InvalidInput", "InvalidState",
    "LifecycleError", "Metric", "MlflowClient", "MlflowException", "NotFound", "Param", "Run", "RunData",
    "RunInfo", "RunTag", "SchemaMismatch", "StoreError", "ViewType",
    "active_run", "create_experiment", "delete_experiment", "delete_run", "delete_tag", "end_run", "flush",
    "get_artifact_uri", "get_experiment", "get_experiment_by_name", "get_metric_history", "get_run",
    "get_tracking_uri", "last_active_run", "list_artifacts", "log_artifact", "log_artifacts", "log_dict",
    "log_figure", "log_input", "log_inputs", "log_metric", "log_metrics", "log_param", "log_params", "log_table",
    "log_text",
    "restore_experiment", "restore_run", "search_experiments", "search_runs", "set_experiment", "set_store",
    "set_tag", "set_tags", "set_tracking_uri", "start_run",
    "delete_experiment_tag", "get_parent_run", "get_registry_uri", "load_table", "log_image", "set_experiment_tag",
    "set_experiment_tags", "set_registry_uri",
    # datasets (loaded on first use)
    "data",
    # GenAI evaluation, datasets and prompts; OpenAI autolog (loaded on first use)
    "genai", "openai",
    # system metrics
    "disable_system_metrics_logging", "enable_system_metrics_logging", "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    # GenAI tracing
    "delete_trace_tag", "delete_traces", "flush_trace_async_logging", "get_current_active_span",
    "get_last_active_trace_id", "get_trace", "search_traces", "set_trace_tag", "start_span", "start_span_no_context",
    "trace", "update_current_trace",
    # feedback and expectations on traces
    "delete_assessment", "get_assessment", "log_assessment", "log_expectation", "log_feedback", "update_assessment",
    # model registry
    "Lineage", "ModelVersion", "RegisteredModel", "RegistryActivity", "TransitionRequest", "lineage",
    "register_model", "search_model_versions", "search_registered_models",
    # models (loaded on first use)
    "evaluate", "infer_signature", "lightgbm", "models", "validate_evaluation_results", "pyfunc", "search_logged_models", "sklearn", "xgboost",
    # logged models, MLflow 3 (loaded on first use)
    "ActiveModel", "LoggedModel", "delete_logged_model_tag", "finalize_logged_model", "get_active_model_id",
    "get_logged_model", "initialize_logged_model", "last_logged_model", "log_model_params", "set_active_model",
    "set_logged_model_tags",
    # scoring (loaded on first use)
    "generate_scoring_notebook", "score",
    # model endpoints and inference tables (loaded on first use)
    "Endpoint", "endpoints", "get_endpoint", "inference_log", "serve",
    # sync with an MLflow tracking server (loaded on first use)
    "sync",
    # inline UI (loaded on first use)
    "browse", "charts", "compare",
    # notebook capture
    "autolog", "diff_revisions", "export_executed_notebook", "get_revision", "list_revisions",
    "load_ipython_extension", "record_revision", "restore_revision", "unload_ipython_extension",
]  # fmt: skip
