"""MLflow's REST API (``/api/2.0/mlflow/...``, ``/api/2.0/mlflow-artifacts/...``) over one ``requests`` session.

MLflow's REST API is a documented, versioned contract that every MLflow
tracking server speaks (open source, Databricks, managed services); calling
it directly keeps MLflow out of our dependencies and lets a push batch
exactly as MLflow's limits allow. Credentials come only from MLflow's own
environment variables and are never written anywhere.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import requests

from ..errors import InvalidInput, NotFound, RemoteError

# MLflow's limits on one runs/log-batch request (mlflow/utils/validation.py).
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000


def normalize_uri(uri: str) -> str:
    """The server's base URL as the sync map keys it: ``http(s)://host:port[/path]``, no credentials, no trailing slash."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInput(f"an MLflow tracking server URI is needed (http://host:port), got {uri!r}")
    parts = urllib.parse.urlsplit(uri.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{uri!r} is not an MLflow tracking server URI: give http://host:port or https://host/path")
    if parts.username or parts.password:
        raise InvalidInput(
            f"the URI {parts.hostname!r} carries credentials: remove them and set MLFLOW_TRACKING_USERNAME/"
            "MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN instead (they are never stored)"
        )
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class RestClient:
    """Calls to one MLflow tracking server; safe to share between threads (one session per thread)."""

    def __init__(self, uri: str, timeout: float = 120.0) -> None:
        self.uri = normalize_uri(uri)
        self.timeout = timeout
        self._local = threading.local()
        self._headers = {"User-Agent": "jupyter-lifecycle-sync"}
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
        self._auth: tuple[str, str] | None = None
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        elif user and password:
            self._auth = (user, password)
        self._verify = os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() not in ("true", "1")

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self._headers)
            session.auth = self._auth
            session.verify = self._verify
        return session

    def call(self, method: str, endpoint: str, body: dict[str, Any] | None = None, api: str = "2.0") -> dict[str, Any]:
        """One ``/api/<api>/mlflow/<endpoint>`` request; ``NotFound`` for RESOURCE_DOES_NOT_EXIST, else ``RemoteError``.

        ``api`` is ``"3.0"`` for MLflow 3's trace endpoints (``StartTraceV3``, ``GetTraceInfoV3``, assessments).
        """
        url = f"{self.uri}/api/{api}/mlflow/{endpoint}"
        try:
            if method == "GET":
                response = self._session().get(url, params=body, timeout=self.timeout)
            else:
                response = self._session().request(method, url, json=body or {}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RemoteError(f"cannot reach the MLflow server {self.uri}: {type(exc).__name__}: {exc}") from None
        if response.status_code == 200:
            return response.json() if response.content else {}
        try:
            error = response.json()
        except ValueError:
            error = {"message": response.text[:300]}
        code, message = error.get("error_code"), error.get("message", "")
        if code == "RESOURCE_DOES_NOT_EXIST" or response.status_code == 404:
            raise NotFound(f"{self.uri}: {endpoint}: {message or 'not found'}")
        if response.status_code in (401, 403):
            raise RemoteError(
                f"{self.uri} refused the request ({response.status_code}): set MLFLOW_TRACKING_TOKEN or "
                "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
            )
        raise RemoteError(f"{self.uri}: {endpoint} failed ({response.status_code} {code}): {message}")

    # ---- artifacts, proxied by the server (mlflow-artifacts:/...) -------------

    def artifact_path(self, artifact_uri: str) -> str:
        """The path under the server's artifact root of an ``mlflow-artifacts:/...`` (or ``http(s)://.../mlflow-artifacts/artifacts/...``) URI."""
        parsed = urllib.parse.urlsplit(artifact_uri)
        if parsed.scheme == "mlflow-artifacts":
            return parsed.path.lstrip("/")
        anchor = "/api/2.0/mlflow-artifacts/artifacts/"
        if parsed.scheme in ("http", "https") and anchor in parsed.path:
            return parsed.path.split(anchor, 1)[1]
        raise InvalidInput(
            f"the server stores artifacts at {artifact_uri!r}, which it does not proxy: start it with "
            "--artifacts-destination (or --serve-artifacts) so artifacts go through it"
        )

    def _artifact_url(self, path: str) -> str:
        return f"{self.uri}/api/2.0/mlflow-artifacts/artifacts/{urllib.parse.quote(path)}"

    def pages(self, method: str, endpoint: str, body: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
        """Every item under ``key`` of a paged endpoint (``runs/search`` is a POST, the other searches GETs),
        page after page by ``next_page_token``."""
        token = None
        while True:
            page = self.call(method, endpoint, {**body, **({"page_token": token} if token else {})})
            yield from page.get(key, [])
            token = page.get("next_page_token")
            if not token:
                return

    def model_versions(self, name: str) -> Iterator[dict[str, Any]]:
        """Every version of the registered model ``name`` on the server (``model-versions/search``, paged)."""
        quoted = name.replace("'", "''")
        yield from self.pages("GET", "model-versions/search", {"filter": f"name = '{quoted}'", "max_results": 1000},
                              "model_versions")  # fmt: skip

    def upload(self, artifact_uri: str, relative: str, source: Path) -> None:
        """Upload one file to ``artifact_uri/relative``."""
        with open(source, "rb") as handle:
            self.upload_bytes(artifact_uri, relative, handle)

    def upload_bytes(self, artifact_uri: str, relative: str, content: bytes | BinaryIO) -> None:
        """Upload bytes (or a file opened for reading, streamed) as the file ``artifact_uri/relative``."""
        url = self._artifact_url(f"{self.artifact_path(artifact_uri).rstrip('/')}/{relative}")
        try:
            response = self._session().put(url, data=content, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RemoteError(f"cannot upload {relative} to {self.uri}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise RemoteError(f"{self.uri} refused the upload of {relative} ({response.status_code}): "
                              f"{response.text[:300]}")  # fmt: skip

    def list_artifacts(self, artifact_uri: str, relative: str = "") -> list[dict[str, Any]]:
        """Every file under ``artifact_uri/relative``, recursively: ``{"path", "file_size"}`` relative to ``artifact_uri``."""
        base = self.artifact_path(artifact_uri).rstrip("/")
        out: list[dict[str, Any]] = []
        pending = [relative]
        while pending:
            current = pending.pop()
            path = f"{base}/{current}" if current else base
            try:
                response = self._session().get(f"{self.uri}/api/2.0/mlflow-artifacts/artifacts",
                                               params={"path": path}, timeout=self.timeout)  # fmt: skip
            except requests.RequestException as exc:
                raise RemoteError(f"cannot list artifacts on {self.uri}: {exc}") from None
            if response.status_code != 200:
                raise RemoteError(f"{self.uri}: listing {path} failed ({response.status_code})")
            for item in response.json().get("files", []):
                child = f"{current}/{item['path']}" if current else item["path"]
                if item.get("is_dir"):
                    pending.append(child)
                else:
                    out.append({"path": child, "file_size": int(item.get("file_size", 0))})
        return out

    def download(self, artifact_uri: str, relative: str, target: Path) -> None:
        """Download ``artifact_uri/relative`` into the file ``target``."""
        url = self._artifact_url(f"{self.artifact_path(artifact_uri).rstrip('/')}/{relative}")
        try:
            response = self._session().get(url, stream=True, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RemoteError(f"cannot download {relative} from {self.uri}: {exc}") from None
        if response.status_code != 200:
            raise RemoteError(f"{self.uri}: download of {relative} failed ({response.status_code})")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as handle:
            for chunk in response.iter_content(1 << 20):
                handle.write(chunk)
