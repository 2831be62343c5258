"""Models in MLflow's format: flavors, signatures, requirements, URIs, logged models.

The flavor modules are ``jupyter_lifecycle.pyfunc`` and
``jupyter_lifecycle.sklearn`` (as ``mlflow.pyfunc`` and ``mlflow.sklearn``);
this package holds what they share. Heavy libraries (pandas, cloudpickle,
scikit-learn) are imported only when a model is saved or loaded.
"""

from .code import set_model
from .enforce import enforce_params, enforce_schema
from .environment import get_model_dependencies
from .evaluation import (
    EvaluationMetric,
    EvaluationResult,
    MetricThreshold,
    MetricValue,
    ModelValidationFailedException,
    evaluate,
    make_metric,
    validate_evaluation_results,
)
from .flavors import Flavor, PyFuncModel, get_flavor, list_flavors, load_native, load_pyfunc, register_flavor
from .logged import (
    ActiveModel,
    delete_logged_model_tag,
    finalize_logged_model,
    get_active_model_id,
    get_logged_model,
    initialize_logged_model,
    last_logged_model,
    log_model_params,
    search_logged_models,
    set_active_model,
    set_logged_model_tags,
)
from .model import Model, ModelInfo, verify_model
from .signature import Array, ColSpec, ModelSignature, ParamSchema, ParamSpec, Schema, TensorSpec, infer_signature
from .uri import register_scheme, resolve_model_uri

__all__ = [
    "Array", "ColSpec", "Flavor", "Model", "ModelInfo", "ModelSignature", "ParamSchema", "ParamSpec", "PyFuncModel",
    "Schema", "TensorSpec", "enforce_params", "enforce_schema", "get_flavor", "get_model_dependencies", "list_flavors",
    "load_native", "load_pyfunc",
    "infer_signature", "register_flavor", "register_scheme", "resolve_model_uri", "search_logged_models", "set_model",
    "verify_model",
    "EvaluationMetric", "EvaluationResult", "MetricThreshold", "MetricValue", "ModelValidationFailedException",
    "evaluate", "make_metric", "validate_evaluation_results",
    "ActiveModel", "delete_logged_model_tag", "finalize_logged_model", "get_active_model_id", "get_logged_model",
    "initialize_logged_model", "last_logged_model", "log_model_params", "set_active_model", "set_logged_model_tags",
]  # fmt: skip
