"""The REST scoring server: MLflow's ``/invocations`` protocol over a loaded model, and model endpoints.

``protocol.invocations(body, content_type, model)`` is framework-free;
``server.serve(model_uri, host, port, workers)`` puts it behind HTTP in this
process; ``endpoints.serve(model_uri)`` starts it as a background endpoint
registered in the store; ``inference.inference_log`` reads what endpoints
started with ``log_requests`` recorded.
"""

from .endpoints import Endpoint, endpoints, get_endpoint, run_endpoint, serve, stop_endpoint
from .inference import inference_log
from .protocol import invocations
from .server import ScoringApp

__all__ = ["Endpoint", "ScoringApp", "endpoints", "get_endpoint", "inference_log", "invocations", "run_endpoint",
           "serve", "stop_endpoint"]  # fmt: skip
