"""The tracking API: experiments, runs, params, metrics, tags, artifacts, search.

``jupyter_lifecycle.tracking.MlflowClient`` (MLflow's import path) is the full
client, tracking and registry: the package root sets it, since the registry
sits above this package.
"""

from .client import Client
from .fluent import ActiveRun

__all__ = ["ActiveRun", "Client"]
