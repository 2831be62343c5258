"""The tracking API: experiments, runs, params, metrics, tags, artifacts, search."""

from .client import Client
from .fluent import ActiveRun

__all__ = ["ActiveRun", "Client"]
