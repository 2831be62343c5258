"""The REST scoring server: MLflow's ``/invocations`` protocol over a loaded model.

``protocol.invocations(body, content_type, model)`` is framework-free;
``server.serve(model_uri, host, port, workers)`` puts it behind HTTP.
"""

from .protocol import invocations
from .server import ScoringApp, serve

__all__ = ["ScoringApp", "invocations", "serve"]
