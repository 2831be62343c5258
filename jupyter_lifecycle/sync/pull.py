"""Pull experiments from an MLflow tracking server, or import an MLflow ``mlruns/`` folder or ``mlflow.db``."""

from __future__ import annotations
