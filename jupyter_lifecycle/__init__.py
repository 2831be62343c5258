"""jupyter-lifecycle: the ML lifecycle inside Jupyter, on one local SQLite store.

``import jupyter_lifecycle as lc`` gives MLflow's fluent tracking API;
``%load_ext jupyter_lifecycle`` adds notebook capture and magics.
"""

from .entities import Experiment, FileInfo, Metric, Param, Run, RunData, RunInfo, RunTag, ViewType
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
from .tracking.client import Client
from .tracking.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    end_run,
    flush,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_metric_history,
    get_run,
    get_tracking_uri,
    last_active_run,
    list_artifacts,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
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
    set_store,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)

MlflowClient = Client  # MLflow's name, for `import jupyter_lifecycle as mlflow`

__version__ = "0.1.0"

__all__ = [
    "ActiveRun", "AlreadyExists", "Client", "Experiment", "FileInfo", "InvalidInput", "InvalidState",
    "LifecycleError", "Metric", "MlflowClient", "MlflowException", "NotFound", "Param", "Run", "RunData",
    "RunInfo", "RunTag", "SchemaMismatch", "StoreError", "ViewType",
    "active_run", "create_experiment", "delete_experiment", "delete_run", "delete_tag", "end_run", "flush",
    "get_artifact_uri", "get_experiment", "get_experiment_by_name", "get_metric_history", "get_run",
    "get_tracking_uri", "last_active_run", "list_artifacts", "log_artifact", "log_artifacts", "log_dict",
    "log_figure", "log_metric", "log_metrics", "log_param", "log_params", "log_table", "log_text",
    "restore_experiment", "restore_run", "search_experiments", "search_runs", "set_experiment", "set_store",
    "set_tag", "set_tags", "set_tracking_uri", "start_run",
]  # fmt: skip
