"""Tornado handlers for the REST API under ``<base_url>lifecycle/api/``.

Each handler parses its request and calls one function of ``api``. They are
``APIHandler``s, so they are authenticated (token or cookie, plus XSRF for
writes) like every other Jupyter endpoint. Errors are JSON
``{"error_code", "message"}`` with the status of the ``LifecycleError``.
Tornado has already URL-decoded the path arguments (model names, aliases).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..client import Client
from ..errors import InvalidInput, LifecycleError, shown
from . import api

PREFIX = "lifecycle/api"


class LifecycleHandler(APIHandler):
    """Common parts: the store's client, JSON in and out, errors as JSON."""

    def initialize(self, client_factory: Callable[[], Client]) -> None:
        """Tornado calls this with the route's keyword arguments."""
        self.client_factory = client_factory

    @property
    def client(self) -> Client:
        """A client on the server's store (resolved once per process, as everywhere)."""
        return self.client_factory()

    def body(self) -> dict[str, Any]:
        """The JSON object sent with the request (``{}`` when empty)."""
        if not self.request.body:
            return {}
        try:
            value = json.loads(self.request.body)
        except ValueError as exc:
            raise InvalidInput(f"the request body is not JSON: {exc}") from exc
        except RecursionError:
            raise InvalidInput("the request body nests JSON too deeply") from None
        if not isinstance(value, dict):
            raise InvalidInput(f"the request body must be a JSON object, got {type(value).__name__}")
        return value

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors tornado raises itself (an argument that is not UTF-8, no token...) in the API's JSON shape."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code < 500:  # 403 without a token, 405...
            message = self._reason
        else:  # a bug: its traceback is in the server log, not in the answer
            message = f"{self._reason}: see the Jupyter server's log"
        codes = {400: "BAD_REQUEST", 403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST"}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error_code": codes.get(status_code, "INTERNAL_ERROR"), "message": message}))

    def reply(self, call: Callable[[], dict[str, Any]]) -> None:
        """Run ``call`` and send its result, or the error it raised, as JSON."""
        try:
            result = call()
        except LifecycleError as exc:
            self.set_status(exc.http_status)
            result = exc.to_dict()
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(result, allow_nan=False))


class InfoHandler(LifecycleHandler):
    """``GET info``."""

    @web.authenticated
    def get(self) -> None:
        """Where the store is, its schema version and row counts."""
        self.reply(lambda: api.info(self.client))


class ExperimentsHandler(LifecycleHandler):
    """``GET experiments``."""

    @web.authenticated
    def get(self) -> None:
        """Active experiments with their run counts."""
        self.reply(lambda: api.experiments(self.client))


class RunsHandler(LifecycleHandler):
    """``GET runs?experiment_id=...&filter=...&order_by=...&max_results=...``."""

    @web.authenticated
    def get(self) -> None:
        """An experiment's runs matching a filter."""

        def call() -> dict[str, Any]:
            experiment_id = self.get_query_argument("experiment_id", "")
            if not experiment_id:
                raise InvalidInput("give the experiment: runs?experiment_id=<id> (see GET experiments)")
            max_results = self.get_query_argument("max_results", str(api.MAX_RUNS))
            if not re.fullmatch("[0-9]{1,18}", max_results):
                raise InvalidInput(f"max_results must be a positive integer, got {shown(max_results)}")
            return api.runs(self.client, experiment_id, self.get_query_argument("filter", ""),
                            self.get_query_arguments("order_by"), int(max_results))  # fmt: skip

        self.reply(call)


class RunHandler(LifecycleHandler):
    """``GET runs/<run_id>``."""

    @web.authenticated
    def get(self, run_id: str) -> None:
        """One run in detail."""
        self.reply(lambda: api.run_detail(self.client, run_id))


class RunChartHandler(LifecycleHandler):
    """``GET runs/<run_id>/chart?keys=a,b``."""

    @web.authenticated
    def get(self, run_id: str) -> None:
        """The run's metric-history chart as vega-lite."""
        keys = [k for k in self.get_query_argument("keys", "").split(",") if k]
        self.reply(lambda: api.run_chart(self.client, run_id, keys or None))


class ModelsHandler(LifecycleHandler):
    """``GET models``."""

    @web.authenticated
    def get(self) -> None:
        """Every registered model."""
        self.reply(lambda: api.models(self.client))


class ModelHandler(LifecycleHandler):
    """``GET models/<name>``."""

    @web.authenticated
    def get(self, name: str) -> None:
        """A registered model and its versions."""
        self.reply(lambda: api.model_detail(self.client, name))


class AliasHandler(LifecycleHandler):
    """``PUT`` / ``DELETE models/<name>/aliases/<alias>``."""

    @web.authenticated
    def put(self, name: str, alias: str) -> None:
        """Point the alias at ``{"version": N}``."""
        self.reply(lambda: api.set_alias(self.client, name, alias, self.body().get("version")))

    @web.authenticated
    def delete(self, name: str, alias: str) -> None:
        """Remove the alias."""
        self.reply(lambda: api.delete_alias(self.client, name, alias))


class StageHandler(LifecycleHandler):
    """``POST models/<name>/versions/<version>/stage``."""

    @web.authenticated
    def post(self, name: str, version: str) -> None:
        """Move the version to ``{"stage": ..., "archive_existing_versions": bool}``."""

        def call() -> dict[str, Any]:
            body = self.body()
            return api.transition_stage(self.client, name, version, body.get("stage"),
                                        body.get("archive_existing_versions", False))  # fmt: skip

        self.reply(call)


class RevisionsHandler(LifecycleHandler):
    """``GET revisions?notebook_path=...``."""

    @web.authenticated
    def get(self) -> None:
        """Notebook revisions, newest first."""
        self.reply(lambda: api.revisions(self.client, self.get_query_argument("notebook_path", "")))


class ScoringNotebookHandler(LifecycleHandler):
    """``POST scoring-notebooks``."""

    @web.authenticated
    def post(self) -> None:
        """Write a scoring notebook below the server root and say where."""

        def call() -> dict[str, Any]:
            body = self.body()
            root = Path(self.settings["server_root_dir"])
            return api.scoring_notebook(root, body.get("model_uri"), body.get("path"))

        self.reply(call)


class EndpointsHandler(LifecycleHandler):
    """``GET endpoints?all=true``."""

    @web.authenticated
    def get(self) -> None:
        """Model endpoints: running and dead ones (stopped ones too with ``all=true``)."""

        def call() -> dict[str, Any]:
            every = self.get_query_argument("all", "false")
            if every not in ("true", "false"):
                raise InvalidInput(f"all must be true or false, got {shown(every)}")
            return api.endpoints(self.client, every == "true")

        self.reply(call)


class EndpointStopHandler(LifecycleHandler):
    """``POST endpoints/<endpoint_id>/stop``."""

    @web.authenticated
    def post(self, endpoint_id: str) -> None:
        """Stop an endpoint's server."""
        self.reply(lambda: api.stop_endpoint(self.client, endpoint_id))


class OpenAPIHandler(LifecycleHandler):
    """``GET openapi.json``."""

    @web.authenticated
    def get(self) -> None:
        """The OpenAPI 3.1 document of these routes."""
        from .. import __version__
        from .openapi import openapi_document

        self.reply(lambda: openapi_document(__version__, self.settings["base_url"]))


ROUTES: list[tuple[str, type[LifecycleHandler]]] = [
    ("info", InfoHandler),
    ("experiments", ExperimentsHandler),
    ("runs", RunsHandler),
    ("runs/([0-9a-fA-F]+)", RunHandler),
    ("runs/([0-9a-fA-F]+)/chart", RunChartHandler),
    ("models", ModelsHandler),
    ("models/([^/]+)", ModelHandler),
    ("models/([^/]+)/aliases/([^/]+)", AliasHandler),
    ("models/([^/]+)/versions/([0-9]+)/stage", StageHandler),
    ("revisions", RevisionsHandler),
    ("scoring-notebooks", ScoringNotebookHandler),
    ("endpoints", EndpointsHandler),
    ("endpoints/(ep-[0-9a-f]+)/stop", EndpointStopHandler),
    (r"openapi\.json", OpenAPIHandler),
]


def setup_handlers(web_app: Any, client_factory: Callable[[], Client]) -> None:
    """Add the API's routes to the server's tornado application."""
    base = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [(url_path_join(base, PREFIX, pattern), handler, {"client_factory": client_factory})
         for pattern, handler in ROUTES],  # fmt: skip
    )
