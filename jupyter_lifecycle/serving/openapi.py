"""The scoring server's OpenAPI 3.1 document, specialised to the served model's signature."""

from __future__ import annotations

from typing import Any

from ..scoring.model import ScoringModel

_JSON_TYPES = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "long": {"type": "integer"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "string": {"type": "string"},
    "binary": {"type": "string", "contentEncoding": "base64"},
    "datetime": {"type": "string", "format": "date-time"},
}

ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string", "minLength": 1}},
}


def openapi_document(model: ScoringModel, version: str) -> dict[str, Any]:
    """The OpenAPI document served at ``/openapi.json``."""
    columns = model.columns
    row = {
        "type": "object",
        "properties": {c.name: _JSON_TYPES.get(c.type, {}) if isinstance(c.type, str) else {} for c in columns},
        "required": [c.name for c in columns if c.required],
    } if columns else {"type": "object"}  # fmt: skip
    cell: dict[str, Any] = {}
    split = {
        "type": "object",
        "required": ["data"],
        "additionalProperties": False,
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"},
                        **({"example": [c.name for c in columns]} if columns else {})},
            "data": {"type": "array", "items": {"type": "array", "items": cell}},
            "index": {"type": "array"},
        },
    }  # fmt: skip
    params = {"type": "object", "description": "passed to predict(data, params=...)"}
    payloads = {
        "dataframe_split": split,
        "dataframe_records": {"type": "array", "items": row},
        "instances": {"type": "array"},
        "inputs": {"oneOf": [{"type": "array"}, {"type": "object"}]},
    }
    request = {
        "oneOf": [
            {"type": "object", "required": [key], "properties": {key: schema, "params": params}}
            for key, schema in payloads.items()
        ] + [{"type": "object", "required": ["input_data"], "properties": {"input_data": {}, "params": params}}],
    }  # fmt: skip
    errors = {
        str(status): {"description": why, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for status, why in [(400, "unreadable payload, or input that does not fit the signature (the message names the column)"),
                            (413, "request body larger than the server's limit"),
                            (415, "unsupported content type")]
    }  # fmt: skip
    text = {"content": {"text/plain": {"schema": {"type": "string"}}}}
    info = model.describe()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jupyter-lifecycle scoring server",
            "version": version,
            "description": f"Scores model {model.uri} with MLflow's /invocations protocol.",
        },
        "paths": {
            "/invocations": {
                "post": {
                    "summary": "Predict",
                    "operationId": "invocations",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Request"}},
                            "text/csv": {"schema": {"type": "string"}},
                            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "responses": {
                        "200": {"description": "predictions",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Predictions"}}}},
                        **errors,
                    },
                }
            },
            "/ping": {"get": {"summary": "200 when the model is loaded", "operationId": "ping",
                              "responses": {"200": {"description": "ready", **text}}}},
            "/health": {"get": {"summary": "same as /ping", "operationId": "health",
                                "responses": {"200": {"description": "ready", **text}}}},
            "/version": {"get": {"summary": "jupyter-lifecycle version", "operationId": "version",
                                 "responses": {"200": {"description": "version", **text}}}},
            "/metadata": {"get": {"summary": "the served model: URI, uuid, run, flavors, signature",
                                  "operationId": "metadata",
                                  "responses": {"200": {"description": "metadata", "content": {"application/json": {
                                      "schema": {"type": "object"}, "example": info}}}}}},
            "/openapi.json": {"get": {"summary": "this document", "operationId": "openapi",
                                      "responses": {"200": {"description": "OpenAPI 3.1",
                                                            "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
        "components": {
            "schemas": {
                "Request": request,
                "Predictions": {"type": "object", "required": ["predictions"], "properties": {"predictions": {}}},
                "Error": ERROR,
            }
        },
    }  # fmt: skip
