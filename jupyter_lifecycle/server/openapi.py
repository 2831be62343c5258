"""The OpenAPI 3.1 document of the server extension's REST API, served at ``<base_url>lifecycle/api/openapi.json``.

Written by hand next to the routes it describes; a test checks that every
route in ``handlers.ROUTES`` (and each of its methods) is in it, and a
property test walks it against a real server.
"""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
}

_STRING: dict[str, Any] = {"type": "string"}
_OBJECT: dict[str, Any] = {"type": "object"}


def _path(name: str, description: str, pattern: str | None = None) -> dict[str, Any]:
    schema = {"type": "string", **({"pattern": pattern} if pattern else {})}
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _query(name: str, description: str, schema: dict[str, Any] | None = None, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema or _STRING}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _answer(description: str, schema: dict[str, Any], *errors: int) -> dict[str, Any]:
    why = {400: "invalid argument (the message names it)", 404: "no such run, experiment, model, version, alias or endpoint",
           409: "the file exists: nothing was written", 502: "the MLflow tracking server refused or cannot be reached"}  # fmt: skip
    return {
        "200": {"description": description, **_json(schema)},
        "403": {"description": "no token or cookie (Jupyter's authentication)"},
        **{str(status): {"description": why[status], **_json({"$ref": "#/components/schemas/Error"})} for status in errors},
    }


def _listing(key: str, required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": [key, *(required or [])], "properties": {key: {"type": "array"}}}


RUN_ID = _path("run_id", "a run id (hex)", "^[0-9a-fA-F]+$")
NAME = _path("name", "a registered model name (URL-encoded)")
MODEL_DETAIL = {"type": "object", "required": ["model", "versions"],
                "properties": {"model": _OBJECT, "versions": {"type": "array"}}}  # fmt: skip

VERSION = _path("version", "a version number", "^[0-9]+$")
VERSION_DETAIL = {"type": "object", "required": ["version", "signature", "requirements", "metrics", "lineage",
                                                 "transition_requests", "activity", "deployment_job_runs"]}  # fmt: skip

PATHS: dict[str, dict[str, Any]] = {
    "/info": {"get": {
        "summary": "store location, schema version and row counts", "operationId": "info",
        "responses": _answer("the store", {"type": "object", "required": ["home", "db", "schema_version", "counts"]}),
    }},
    "/experiments": {"get": {
        "summary": "active experiments with their run counts", "operationId": "experiments",
        "responses": _answer("experiments, most recently updated first", _listing("experiments")),
    }},
    "/runs": {"get": {
        "summary": "a page of the runs of one or more experiments matching an MLflow filter string",
        "operationId": "runs",
        "parameters": [
            _query("experiment_id", "the experiment (see /experiments); repeat for several",
                   {"type": "array", "items": _STRING}, required=True),
            _query("filter", "an MLflow filter string, e.g. metrics.acc > 0.9"),
            _query("order_by", "e.g. metrics.acc DESC; repeat for several", {"type": "array", "items": _STRING}),
            _query("max_results", "the page size, 1 to 1000 (default 1000)",
                   {"type": "string", "pattern": "^[0-9]{1,18}$"}),
            _query("page_token", "next_page_token of the previous page"),
            _query("columns", "only these params/metrics/tags in each run: params.C,metrics.acc,tags.team; "
                              "metrics.* for every metric (empty: none of them; absent: all)"),
        ],
        "responses": _answer("the page's runs, the metric, param and tag keys they use, and the next page's token",
                             _listing("runs", ["metric_keys", "param_keys", "tag_keys", "next_page_token"]), 400, 404),
    }},
    "/runs/{run_id}": {"get": {
        "summary": "one run with artifacts, notebook revisions, logged models, registered versions",
        "operationId": "run", "parameters": [RUN_ID],
        "responses": _answer("the run", {"type": "object", "required": ["run", "artifacts", "revisions", "models",
                                                                        "registered_versions"]}, 400, 404),
    }},
    "/runs/{run_id}/chart": {"get": {
        "summary": "the run's metric-history chart as a vega-lite spec (null without metrics), and one spec per "
                   "metric as wide as its container (panels)",
        "operationId": "run_chart",
        "parameters": [RUN_ID, _query("keys", "comma-separated metric keys (default: the first 6)")],
        "responses": _answer("the chart", {"type": "object", "required": ["spec", "panels"]}, 400, 404),
    }},
    "/runs/{run_id}/artifacts": {"get": {
        "summary": "the files and folders under a path of the run's artifacts", "operationId": "artifacts",
        "parameters": [RUN_ID, _query("path", "a folder inside the run's artifacts (default: the top)")],
        "responses": _answer("the listing", _listing("files", ["path"]), 400, 404),
    }},
    "/runs/{run_id}/artifact": {"get": {
        "summary": "one artifact's content for a preview, its kind detected (never a file outside the run's artifacts)",
        "operationId": "artifact",
        "parameters": [RUN_ID, _query("path", "the file inside the run's artifacts", required=True)],
        "responses": _answer("kind: json, yaml, mlmodel (data parsed, text), text, table (columns, rows: the first "
                             "500), image (mime, base64; SVG as text), notebook (cells), binary (size only)",
                             {"type": "object", "required": ["path", "kind", "file_size", "truncated"]}, 400, 404),
    }},
    "/compare": {"get": {
        "summary": "runs side by side: their summaries and every metric's history (at most 500 points a run, "
                   "min and max over all of it)", "operationId": "compare",
        "parameters": [_query("run_id", "a run to compare; repeat for each (at most 100)",
                              {"type": "array", "items": _STRING}, required=True)],
        "responses": _answer("runs and histories ({key: {run_id: {points: [[step, time, value]], min, max, count}}})",
                             _listing("runs", ["histories"]), 400, 404),
    }},
    "/models": {"get": {
        "summary": "registered models with aliases, latest version and number of versions", "operationId": "models",
        "responses": _answer("the models", _listing("models")),
    }},
    "/models/{name}": {"get": {
        "summary": "a registered model and its versions, newest first", "operationId": "model",
        "parameters": [NAME], "responses": _answer("the model", MODEL_DETAIL, 400, 404),
    }},
    "/models/{name}/aliases/{alias}": {
        "put": {
            "summary": "point the alias at a version", "operationId": "set_alias",
            "parameters": [NAME, _path("alias", "letters, digits, _ and -")],
            "requestBody": {"required": True, **_json({
                "type": "object", "required": ["version"],
                "properties": {"version": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                                                     {"type": "string", "pattern": "^[0-9]+$"}]}},
            })},  # fmt: skip
            "responses": _answer("the model after the change", MODEL_DETAIL, 400, 404),
        },
        "delete": {
            "summary": "remove the alias", "operationId": "delete_alias",
            "parameters": [NAME, _path("alias", "an alias of the model")],
            "responses": _answer("the model after the change", MODEL_DETAIL, 400, 404),
        },
    },
    "/models/{name}/versions/{version}": {"get": {
        "summary": "a version with signature, requirements, lineage, source-run metrics, transition requests "
                   "(pending first), its activity log and its deployment job runs (newest first, each task with status and "
                   "executed notebook)", "operationId": "version",
        "parameters": [NAME, VERSION],
        "responses": _answer("the version", VERSION_DETAIL, 400, 404),
    }},
    "/models/{name}/versions/{version}/description": {"put": {
        "summary": "replace the version's description", "operationId": "set_version_description",
        "parameters": [NAME, VERSION],
        "requestBody": {"required": True, **_json({"type": "object", "required": ["description"],
                                                   "properties": {"description": _STRING}})},
        "responses": _answer("the version after the change", VERSION_DETAIL, 400, 404),
    }},
    "/models/{name}/versions/{version}/requests/{action}": {"post": {
        "summary": "request a stage transition, or approve, reject or cancel the pending request for a stage",
        "operationId": "transition_request",
        "parameters": [NAME, VERSION, _path("action", "request, approve, reject or cancel",
                                            "^(request|approve|reject|cancel)$")],
        "requestBody": {"required": True, **_json({
            "type": "object", "required": ["stage"],
            "properties": {"stage": {"type": "string", "enum": ["Staging", "Production", "Archived"]},
                           "comment": _STRING,
                           "archive_existing_versions": {"type": "boolean", "default": False,
                                                         "description": "approve only"}},
        })},  # fmt: skip
        "responses": _answer("the version after the change", VERSION_DETAIL, 400, 404),
    }},
    "/models/{name}/versions/{version}/stage": {"post": {
        "summary": "move a version to a stage, optionally archiving the others there", "operationId": "transition_stage",
        "parameters": [NAME, _path("version", "a version number", "^[0-9]+$")],
        "requestBody": {"required": True, **_json({
            "type": "object", "required": ["stage"],
            "properties": {"stage": {"type": "string", "enum": ["None", "Staging", "Production", "Archived"],
                                     "description": "any case"},
                           "archive_existing_versions": {"type": "boolean", "default": False}},
        })},  # fmt: skip
        "responses": _answer("the model after the change", MODEL_DETAIL, 400, 404),
    }},
    "/revisions": {"get": {
        "summary": "notebook revisions, newest first", "operationId": "revisions",
        "parameters": [_query("notebook_path", "one notebook's revisions (default: all)")],
        "responses": _answer("the revisions", _listing("revisions"), 400),
    }},
    "/scoring-notebooks": {"post": {
        "summary": "write a scoring notebook below the server root (never overwriting a file)",
        "operationId": "scoring_notebook",
        "requestBody": {"required": True, **_json({
            "type": "object", "required": ["model_uri"],
            "properties": {"model_uri": {"type": "string", "example": "models:/iris@champion"},
                           "path": {"type": "string", "pattern": "\\.ipynb$",
                                    "description": "below the server root; default scoring/score_<model>.ipynb "
                                                   "(-2, -3... when taken); 409 if the given path exists"}},
        })},  # fmt: skip
        "responses": _answer("where it was written, relative to the server root",
                             {"type": "object", "required": ["path", "model_uri"]}, 400, 404, 409),
    }},
    "/endpoints": {"get": {
        "summary": "model endpoints: running and dead ones (all=true: stopped ones too)", "operationId": "endpoints",
        "parameters": [_query("all", "include stopped endpoints", {"type": "string", "enum": ["true", "false"]})],
        "responses": _answer("endpoints, newest first", _listing("endpoints"), 400),
    }},
    "/endpoints/{endpoint_id}/stop": {"post": {
        "summary": "stop an endpoint's server (SIGTERM, then SIGKILL)", "operationId": "stopEndpoint",
        "parameters": [_path("endpoint_id", "an endpoint id", "^ep-[0-9a-f]+$")],
        "responses": _answer("the endpoint, stopped", {"type": "object", "required": ["endpoint"]}, 404),
    }},
    "/sync/status": {"get": {
        "summary": "what differs from an MLflow tracking server: local-only (a push would create), remote-only, "
                   "changed (a push would update); nothing is sent", "operationId": "syncStatus",
        "parameters": [_query("uri", "the tracking server, e.g. http://mlflow.internal:5000", required=True)],
        "responses": _answer("entries {kind, label} in each list, with the dry run's conflicts and errors",
                             {"type": "object", "required": ["remote", "local_only", "remote_only", "changed",
                                                             "conflicts", "errors"]}, 400, 502),
    }},
    "/sync/push": {"post": {
        "summary": "push the store to an MLflow tracking server (only what changed since the last push)",
        "operationId": "syncPush",
        "requestBody": {"required": True, **_json({"type": "object", "required": ["uri"],
                                                   "properties": {"uri": _STRING}})},
        "responses": _answer("the push's report (created/updated/unchanged/deleted/restored per kind, conflicts, errors, text)",
                             {"type": "object", "required": ["report"]}, 400, 502),
    }},
    "/openapi.json": {"get": {
        "summary": "this document", "operationId": "openapi",
        "responses": _answer("OpenAPI 3.1", _OBJECT),
    }},
}


def openapi_document(version: str, base_url: str = "/") -> dict[str, Any]:
    """The document served at ``<base_url>lifecycle/api/openapi.json``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jupyter-lifecycle server extension",
            "version": version,
            "description": "The store of the Jupyter server, over REST. Authenticated as every Jupyter endpoint "
                           "(token or cookie; XSRF for writes with a cookie). NaN and infinite metrics are null.",
        },  # fmt: skip
        "servers": [{"url": f"{base_url.rstrip('/')}/lifecycle/api"}],
        "security": [{"token": []}],
        "paths": PATHS,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization",
                                          "description": "token <the server's token>"}},
        },  # fmt: skip
    }
