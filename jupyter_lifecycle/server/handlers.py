"""Tornado handlers for the REST API under ``<base_url>lifecycle/api/``.

Each handler parses its request and calls one function of ``api``. They are
``APIHandler``s, so they are authenticated (token or cookie, plus XSRF for
writes) like every other Jupyter endpoint. Errors are JSON
``{"error_code", "message"}`` with the status of the ``LifecycleError``.
Tornado has already URL-decoded the path arguments (model names, aliases).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..client import Client
from ..errors import InvalidInput, LifecycleError, shown
from . import api, previews

PREFIX = "lifecycle/api"
# Store queries run here, never on the server's event loop; a few threads, as
# SQLite serialises writes anyway and the machine may have few cores.
EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lifecycle-api")


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

    async def reply(self, call: Callable[[], dict[str, Any]]) -> None:
        """Run ``call`` on the API's thread pool and send its result, or the error it raised, as JSON.

        Off the event loop, the JSON encoding included: a slow listing must not
        hold up kernels' messages, saves and every other request of the server
        (issue #14). Each pool thread has its own store connection (the store
        keeps one per thread).
        """

        def answer() -> tuple[int, str]:
            try:
                return 200, json.dumps(call(), allow_nan=False)
            except LifecycleError as exc:
                return exc.http_status, json.dumps(exc.to_dict())

        status, text = await asyncio.get_running_loop().run_in_executor(EXECUTOR, answer)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(text)


class InfoHandler(LifecycleHandler):
    """``GET info``."""

    @web.authenticated
    async def get(self) -> None:
        """Where the store is, its schema version and row counts."""
        await self.reply(lambda: api.info(self.client))


class ExperimentsHandler(LifecycleHandler):
    """``GET experiments``."""

    @web.authenticated
    async def get(self) -> None:
        """Active experiments with their run counts."""
        await self.reply(lambda: api.experiments(self.client))


class RunsHandler(LifecycleHandler):
    """``GET runs?experiment_id=...&filter=...&order_by=...&max_results=...&page_token=...&columns=...``."""

    @web.authenticated
    async def get(self) -> None:
        """A page of the runs of one or more experiments matching a filter."""

        def call() -> dict[str, Any]:
            experiment_ids = [i for i in self.get_query_arguments("experiment_id") if i]
            if not experiment_ids:
                raise InvalidInput("give the experiment: runs?experiment_id=<id> (see GET experiments)")
            max_results = self.get_query_argument("max_results", str(api.MAX_RUNS))
            if not re.fullmatch("[0-9]{1,18}", max_results):
                raise InvalidInput(f"max_results must be a positive integer, got {shown(max_results)}")
            return api.runs(self.client, experiment_ids, self.get_query_argument("filter", ""),
                            self.get_query_arguments("order_by"), int(max_results),
                            self.get_query_argument("page_token", None), self.get_query_argument("columns", None))  # fmt: skip

        await self.reply(call)


class RunHandler(LifecycleHandler):
    """``GET runs/<run_id>``."""

    @web.authenticated
    async def get(self, run_id: str) -> None:
        """One run in detail."""
        await self.reply(lambda: api.run_detail(self.client, run_id))


class RunChartHandler(LifecycleHandler):
    """``GET runs/<run_id>/chart?keys=a,b``."""

    @web.authenticated
    async def get(self, run_id: str) -> None:
        """The run's metric-history chart as vega-lite."""
        keys = [k for k in self.get_query_argument("keys", "").split(",") if k]
        await self.reply(lambda: api.run_chart(self.client, run_id, keys or None))


class CompareHandler(LifecycleHandler):
    """``GET compare?run_id=...&run_id=...``."""

    @web.authenticated
    async def get(self) -> None:
        """Runs side by side: summaries and metric histories."""
        run_ids = [i for i in self.get_query_arguments("run_id") if i]
        await self.reply(lambda: api.compare(self.client, run_ids))


class ModelsHandler(LifecycleHandler):
    """``GET models``."""

    @web.authenticated
    async def get(self) -> None:
        """Every registered model."""
        await self.reply(lambda: api.models(self.client))


class ModelHandler(LifecycleHandler):
    """``GET models/<name>``."""

    @web.authenticated
    async def get(self, name: str) -> None:
        """A registered model and its versions."""
        await self.reply(lambda: api.model_detail(self.client, name))


class AliasHandler(LifecycleHandler):
    """``PUT`` / ``DELETE models/<name>/aliases/<alias>``."""

    @web.authenticated
    async def put(self, name: str, alias: str) -> None:
        """Point the alias at ``{"version": N}``."""
        await self.reply(lambda: api.set_alias(self.client, name, alias, self.body().get("version")))

    @web.authenticated
    async def delete(self, name: str, alias: str) -> None:
        """Remove the alias."""
        await self.reply(lambda: api.delete_alias(self.client, name, alias))


class StageHandler(LifecycleHandler):
    """``POST models/<name>/versions/<version>/stage``."""

    @web.authenticated
    async def post(self, name: str, version: str) -> None:
        """Move the version to ``{"stage": ..., "archive_existing_versions": bool}``."""

        def call() -> dict[str, Any]:
            body = self.body()
            return api.transition_stage(self.client, name, version, body.get("stage"),
                                        body.get("archive_existing_versions", False))  # fmt: skip

        await self.reply(call)


class ArtifactsHandler(LifecycleHandler):
    """``GET runs/<run_id>/artifacts?path=...``."""

    @web.authenticated
    async def get(self, run_id: str) -> None:
        """The files and folders under a path of the run's artifacts."""
        path = self.get_query_argument("path", "")
        await self.reply(lambda: api.artifacts(self.client, run_id, path))


class ArtifactHandler(LifecycleHandler):
    """``GET runs/<run_id>/artifact?path=...``."""

    @web.authenticated
    async def get(self, run_id: str) -> None:
        """One artifact's content for a preview, with its detected kind."""
        path = self.get_query_argument("path", "")
        await self.reply(lambda: previews.artifact_preview(self.client, run_id, path))


class VersionHandler(LifecycleHandler):
    """``GET models/<name>/versions/<version>``."""

    @web.authenticated
    async def get(self, name: str, version: str) -> None:
        """A version with signature, requirements, lineage, metrics, transition requests and activity."""
        root = Path(self.settings["server_root_dir"])
        await self.reply(lambda: api.version_detail(self.client, name, version, root))


class DescriptionHandler(LifecycleHandler):
    """``PUT models/<name>/versions/<version>/description``."""

    @web.authenticated
    async def put(self, name: str, version: str) -> None:
        """Replace the version's description with ``{"description": "..."}``."""
        await self.reply(lambda: api.set_version_description(self.client, name, version,
                                                             self.body().get("description")))  # fmt: skip


class TransitionRequestHandler(LifecycleHandler):
    """``POST models/<name>/versions/<version>/requests/<request|approve|reject|cancel>``."""

    @web.authenticated
    async def post(self, name: str, version: str, action: str) -> None:
        """Create or resolve a transition request ``{"stage": ..., "comment": ...}``."""
        await self.reply(lambda: api.transition_request(self.client, name, version, action, self.body()))


class RevisionsHandler(LifecycleHandler):
    """``GET revisions?notebook_path=...``."""

    @web.authenticated
    async def get(self) -> None:
        """Notebook revisions, newest first."""
        await self.reply(lambda: api.revisions(self.client, self.get_query_argument("notebook_path", "")))


class ScoringNotebookHandler(LifecycleHandler):
    """``POST scoring-notebooks``."""

    @web.authenticated
    async def post(self) -> None:
        """Write a scoring notebook below the server root and say where."""

        def call() -> dict[str, Any]:
            body = self.body()
            root = Path(self.settings["server_root_dir"])
            return api.scoring_notebook(root, body.get("model_uri"), body.get("path"))

        await self.reply(call)


class EndpointsHandler(LifecycleHandler):
    """``GET endpoints?all=true``."""

    @web.authenticated
    async def get(self) -> None:
        """Model endpoints: running and dead ones (stopped ones too with ``all=true``)."""

        def call() -> dict[str, Any]:
            every = self.get_query_argument("all", "false")
            if every not in ("true", "false"):
                raise InvalidInput(f"all must be true or false, got {shown(every)}")
            return api.endpoints(self.client, every == "true")

        await self.reply(call)


class EndpointStopHandler(LifecycleHandler):
    """``POST endpoints/<endpoint_id>/stop``."""

    @web.authenticated
    async def post(self, endpoint_id: str) -> None:
        """Stop an endpoint's server."""
        await self.reply(lambda: api.stop_endpoint(self.client, endpoint_id))


class SyncStatusHandler(LifecycleHandler):
    """``GET sync/status?uri=...``."""

    @web.authenticated
    async def get(self) -> None:
        """Local-only, remote-only and changed objects against an MLflow tracking server (a dry run)."""
        await self.reply(lambda: api.sync_status(self.client, self.get_query_argument("uri", "")))


class SyncPushHandler(LifecycleHandler):
    """``POST sync/push`` ``{"uri": ...}``."""

    @web.authenticated
    async def post(self) -> None:
        """Push the store to an MLflow tracking server; the report."""
        await self.reply(lambda: api.sync_push(self.client, self.body().get("uri")))


class OpenAPIHandler(LifecycleHandler):
    """``GET openapi.json``."""

    @web.authenticated
    async def get(self) -> None:
        """The OpenAPI 3.1 document of these routes."""
        from .. import __version__
        from .openapi import openapi_document

        await self.reply(lambda: openapi_document(__version__, self.settings["base_url"]))


ROUTES: list[tuple[str, type[LifecycleHandler]]] = [
    ("info", InfoHandler),
    ("experiments", ExperimentsHandler),
    ("runs", RunsHandler),
    ("runs/([0-9a-fA-F]+)", RunHandler),
    ("runs/([0-9a-fA-F]+)/chart", RunChartHandler),
    ("runs/([0-9a-fA-F]+)/artifacts", ArtifactsHandler),
    ("runs/([0-9a-fA-F]+)/artifact", ArtifactHandler),
    ("compare", CompareHandler),
    ("models", ModelsHandler),
    ("models/([^/]+)", ModelHandler),
    ("models/([^/]+)/aliases/([^/]+)", AliasHandler),
    ("models/([^/]+)/versions/([0-9]+)", VersionHandler),
    ("models/([^/]+)/versions/([0-9]+)/stage", StageHandler),
    ("models/([^/]+)/versions/([0-9]+)/description", DescriptionHandler),
    ("models/([^/]+)/versions/([0-9]+)/requests/(request|approve|reject|cancel)", TransitionRequestHandler),
    ("revisions", RevisionsHandler),
    ("scoring-notebooks", ScoringNotebookHandler),
    ("endpoints", EndpointsHandler),
    ("endpoints/(ep-[0-9a-f]+)/stop", EndpointStopHandler),
    ("sync/status", SyncStatusHandler),
    ("sync/push", SyncPushHandler),
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
