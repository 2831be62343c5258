"""Ordered schema migrations, applied once per store file.

``PRAGMA user_version`` holds how many migrations ran (the schema version),
and the ``schema_migrations`` table says which, by name, and when. Migrations run inside one
``BEGIN IMMEDIATE`` transaction that re-reads the version after taking the
lock, so several processes opening a brand-new store at the same moment
apply them exactly once. sqlite-utils' ``Migrations`` checks what is pending
before it holds the lock, which is the race that breaks MLflow's SQLite store
when several processes start together.

Add a migration by appending a function to ``MIGRATIONS``; never edit one
that has shipped. Each statement runs through ``conn.execute`` (never
``executescript``, which would commit halfway).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from ..errors import StoreError

Migration = Callable[[sqlite3.Connection], None]


def _statements(conn: sqlite3.Connection, sql: str) -> None:
    """Run each statement of ``sql`` in the open transaction (a ';' inside a comment or string is fine)."""
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                conn.execute(pending)
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError(f"incomplete SQL statement in a migration: {pending!r}")


def m0001_tracking(conn: sqlite3.Connection) -> None:
    """Experiments, runs, params, metrics (full history and latest), tags, artifacts."""
    _statements(
        conn,
        """
        CREATE TABLE experiments (
            experiment_id TEXT PRIMARY KEY,          -- hex UUID
            name TEXT NOT NULL UNIQUE,
            artifact_location TEXT NOT NULL,         -- relative to the store home
            lifecycle_stage TEXT NOT NULL DEFAULT 'active'
                CHECK (lifecycle_stage IN ('active', 'deleted')),
            creation_time INTEGER NOT NULL,          -- epoch ms, UTC
            last_update_time INTEGER NOT NULL
        );
        CREATE TABLE experiment_tags (
            experiment_id TEXT NOT NULL REFERENCES experiments(experiment_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (experiment_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,                 -- hex UUID
            experiment_id TEXT NOT NULL REFERENCES experiments(experiment_id),
            run_name TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
            start_time INTEGER NOT NULL,             -- epoch ms, UTC
            end_time INTEGER,
            user_id TEXT,
            parent_run_id TEXT REFERENCES runs(run_id),
            notebook_path TEXT,
            artifact_location TEXT NOT NULL,         -- relative to the store home
            lifecycle_stage TEXT NOT NULL DEFAULT 'active'
                CHECK (lifecycle_stage IN ('active', 'deleted')),
            deleted_time INTEGER
        );
        CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
        CREATE INDEX runs_by_parent ON runs (parent_run_id);
        CREATE TABLE params (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE tags (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        -- Full history. value NULL means NaN: SQLite stores NaN as NULL.
        CREATE TABLE metrics (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value REAL,
            timestamp INTEGER NOT NULL,              -- epoch ms, UTC
            step INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX metrics_by_run_key ON metrics (run_id, key, step);
        -- The point with the highest (step, timestamp) per run and key, for search.
        -- Key/value tables are WITHOUT ROWID: clustered by (run_id, key), so
        -- reading one run's values is a single B-tree walk. They have no
        -- (key, value) index on purpose: such an index dirties one page per key
        -- on every commit, which halved run creation, while filters look runs
        -- up by primary key instead (about 1 ms per 1,000 runs).
        CREATE TABLE latest_metrics (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value REAL,
            timestamp INTEGER NOT NULL,
            step INTEGER NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE artifacts (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            path TEXT NOT NULL,                      -- relative to the run's artifact folder
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            created_time INTEGER NOT NULL,
            PRIMARY KEY (run_id, path)
        )
        """,
    )


def m0002_capture(conn: sqlite3.Connection) -> None:
    """Notebook capture: cell sources (once per distinct text), cell executions and their runs, notebook revisions."""
    _statements(
        conn,
        """
        -- Each distinct cell text once, keyed by its sha256.
        CREATE TABLE cell_sources (
            source_hash TEXT PRIMARY KEY,            -- sha256 hex of the UTF-8 source
            source TEXT NOT NULL
        );
        CREATE TABLE cell_executions (
            execution_id TEXT PRIMARY KEY,           -- hex UUID
            session_id TEXT NOT NULL,                -- hex UUID of the kernel session that ran it
            notebook_path TEXT,                      -- NULL when the kernel could not tell
            cell_id TEXT,                            -- the notebook cell's id (nbformat 4.5), when sent
            execution_count INTEGER,
            source_hash TEXT NOT NULL REFERENCES cell_sources(source_hash),
            start_time INTEGER NOT NULL,             -- epoch ms, UTC
            duration_ms REAL,
            success INTEGER NOT NULL CHECK (success IN (0, 1)),
            error_type TEXT,                         -- the exception's class name when it failed
            error_message TEXT
        );
        CREATE INDEX cell_executions_by_session ON cell_executions (session_id, start_time);
        CREATE INDEX cell_executions_by_notebook ON cell_executions (notebook_path, start_time);
        -- The runs that were active while a cell ran (a cell can serve several, nested ones).
        CREATE TABLE run_cells (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            execution_id TEXT NOT NULL REFERENCES cell_executions(execution_id),
            PRIMARY KEY (run_id, execution_id)
        );
        CREATE INDEX run_cells_by_execution ON run_cells (execution_id);
        -- Content-addressed notebooks: identical content is stored once.
        CREATE TABLE notebook_revisions (
            revision_id TEXT PRIMARY KEY,            -- sha256 hex of the canonical JSON
            notebook_path TEXT NOT NULL,             -- where it was first seen
            content BLOB NOT NULL,                   -- zlib-compressed canonical .ipynb JSON
            size INTEGER NOT NULL,                   -- uncompressed bytes
            cell_count INTEGER NOT NULL,
            created_time INTEGER NOT NULL            -- epoch ms, UTC, first seen
        );
        -- When and why a notebook was seen with a given revision (saves, run start/end).
        CREATE TABLE notebook_snapshots (
            revision_id TEXT NOT NULL REFERENCES notebook_revisions(revision_id),
            notebook_path TEXT NOT NULL,
            recorded_time INTEGER NOT NULL,          -- epoch ms, UTC
            trigger TEXT NOT NULL                    -- save, run_start, run_end, manual, restore
        );
        CREATE INDEX notebook_snapshots_by_path ON notebook_snapshots (notebook_path, recorded_time);
        -- The revision a run started from and the one it ended with.
        CREATE TABLE run_revisions (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            moment TEXT NOT NULL CHECK (moment IN ('start', 'end')),
            revision_id TEXT NOT NULL REFERENCES notebook_revisions(revision_id),
            PRIMARY KEY (run_id, moment)
        );
        CREATE INDEX run_revisions_by_revision ON run_revisions (revision_id)
        """,
    )


def m0003_models(conn: sqlite3.Connection) -> None:
    """Logged models: one row per ``log_model`` call, to list and compare models across runs."""
    _statements(
        conn,
        """
        CREATE TABLE logged_models (
            model_id TEXT PRIMARY KEY,               -- 'm-' + hex UUID, as MLflow 3 names logged models
            experiment_id TEXT REFERENCES experiments(experiment_id),
            run_id TEXT REFERENCES runs(run_id),     -- the run the model was logged to
            artifact_path TEXT NOT NULL,             -- folder inside the run's artifacts
            name TEXT NOT NULL,
            flavors TEXT NOT NULL,                   -- JSON list of flavor names
            loader_module TEXT,                      -- python_function's loader_module
            signature TEXT,                          -- JSON {inputs, outputs, params}, as in MLmodel
            model_uuid TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            mlmodel_sha256 TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'READY',
            creation_time INTEGER NOT NULL           -- epoch ms, UTC
        );
        CREATE INDEX logged_models_by_run ON logged_models (run_id);
        CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, creation_time)
        """,
    )


def m0004_registry(conn: sqlite3.Connection) -> None:
    """The model registry: models, versions (and their files), tags, aliases, transition requests, activity."""
    _statements(
        conn,
        """
        CREATE TABLE registered_models (
            name TEXT PRIMARY KEY,
            model_id TEXT NOT NULL UNIQUE,           -- hex UUID; names the storage folder, kept on rename
            description TEXT,
            creation_timestamp INTEGER NOT NULL,     -- epoch ms, UTC
            last_updated_timestamp INTEGER NOT NULL,
            last_version INTEGER NOT NULL DEFAULT 0  -- highest number ever given: deleted numbers are not reused
        );
        CREATE TABLE registered_model_tags (
            name TEXT NOT NULL REFERENCES registered_models(name),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (name, key)
        );
        CREATE TABLE model_versions (
            name TEXT NOT NULL REFERENCES registered_models(name),
            version INTEGER NOT NULL,
            creation_timestamp INTEGER NOT NULL,
            last_updated_timestamp INTEGER NOT NULL,
            description TEXT,
            user_id TEXT,
            current_stage TEXT NOT NULL DEFAULT 'None'
                CHECK (current_stage IN ('None', 'Staging', 'Production', 'Archived')),
            source TEXT NOT NULL,                    -- the model URI given at registration
            run_id TEXT,
            run_link TEXT,
            status TEXT NOT NULL DEFAULT 'READY'
                CHECK (status IN ('PENDING_REGISTRATION', 'FAILED_REGISTRATION', 'READY')),
            status_message TEXT,
            storage_location TEXT NOT NULL,          -- the registry's copy, relative to the store home
            PRIMARY KEY (name, version)
        );
        CREATE INDEX model_versions_by_run ON model_versions (run_id);
        CREATE TABLE model_version_tags (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (name, version, key),
            FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
        );
        -- Every file of the registry's copy, hashed when copied.
        CREATE TABLE model_version_files (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            path TEXT NOT NULL,                      -- relative to the version's storage folder
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (name, version, path),
            FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
        );
        CREATE TABLE registered_model_aliases (
            name TEXT NOT NULL REFERENCES registered_models(name),
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (name, alias),
            FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
        );
        CREATE TABLE transition_requests (
            request_id TEXT PRIMARY KEY,             -- hex UUID
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            to_stage TEXT NOT NULL CHECK (to_stage IN ('None', 'Staging', 'Production', 'Archived')),
            status TEXT NOT NULL DEFAULT 'PENDING'
                CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED')),
            user_id TEXT,                            -- who asked
            comment TEXT,
            creation_timestamp INTEGER NOT NULL,
            last_updated_timestamp INTEGER NOT NULL,
            resolved_by TEXT,                        -- who approved, rejected or cancelled
            resolution_comment TEXT,
            FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
        );
        CREATE INDEX transition_requests_by_version ON transition_requests (name, version, status);
        -- Append-only: kept when models and versions are deleted.
        CREATE TABLE registry_activity (
            activity_id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp INTEGER NOT NULL,              -- epoch ms, UTC
            user_id TEXT,
            activity_type TEXT NOT NULL,             -- CREATED_VERSION, APPLIED_TRANSITION, SET_ALIAS...
            name TEXT NOT NULL,
            version INTEGER,
            from_stage TEXT,
            to_stage TEXT,
            comment TEXT,
            details TEXT NOT NULL DEFAULT '{}'       -- JSON
        );
        CREATE INDEX registry_activity_by_model ON registry_activity (name, activity_id)
        """,
    )


def m0005_run_summaries(conn: sqlite3.Connection) -> None:
    """Each run's params, latest metrics and tags as JSON objects on its ``runs`` row.

    They are derived data: every write to ``params``, ``latest_metrics`` or
    ``tags`` rewrites the run's object in the same transaction. Reading 10,000
    runs into a DataFrame then reads 10,000 rows instead of 350,000 key/value
    rows (about 3x faster). Metrics are written with enough digits to read
    back exactly (SQLite's JSON keeps 15); infinities are the strings
    "Infinity" and "-Infinity" (SQLite writes the invalid token ``Inf``); NaN is null.
    """
    _statements(
        conn,
        """
        ALTER TABLE runs ADD COLUMN params_json TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE runs ADD COLUMN metrics_json TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE runs ADD COLUMN tags_json TEXT NOT NULL DEFAULT '{}';
        UPDATE runs SET
            params_json = (SELECT json_group_object(key, value) FROM params WHERE run_id = runs.run_id),
            metrics_json = (SELECT json_group_object(key, CASE WHEN value IS NULL THEN NULL
                WHEN abs(value) > 1.7976931348623157e308 THEN CASE WHEN value > 0 THEN 'Infinity' ELSE '-Infinity' END
                WHEN CAST(printf('%!.15g', value) AS REAL) = value THEN json(printf('%!.15g', value))
                ELSE json(printf('%!.17g', value)) END)
                FROM latest_metrics WHERE run_id = runs.run_id),
            tags_json = (SELECT json_group_object(key, value) FROM tags WHERE run_id = runs.run_id)
        """,
    )


def m0006_run_owners(conn: sqlite3.Connection) -> None:
    """Who runs a RUNNING run: the host and pid that started (or resumed) it, and its heartbeat.

    A run whose process is gone is then marked KILLED instead of staying
    RUNNING forever (issue #12, defect 7; see ``store/liveness.py``). The
    partial index holds only RUNNING runs, so finding them costs nothing
    however many finished runs the store has.
    """
    _statements(
        conn,
        """
        ALTER TABLE runs ADD COLUMN owner_host TEXT;
        ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
        ALTER TABLE runs ADD COLUMN heartbeat_time INTEGER;   -- epoch ms, UTC: the owner's last sign of life
        CREATE INDEX runs_running ON runs (run_id) WHERE status = 'RUNNING'
        """,
    )


def m0007_datasets(conn: sqlite3.Connection) -> None:
    """Datasets and the runs that used them (MLflow's ``datasets``, ``inputs`` and ``input_tags``).

    A dataset belongs to an experiment and is unique there by name and digest,
    as in MLflow: logging the same data twice links the one record again. A run
    input links a run to a dataset (with its tags, the context among them) or
    to a logged model it read; each pair is linked once.
    """
    _statements(
        conn,
        """
        CREATE TABLE datasets (
            dataset_uuid TEXT PRIMARY KEY,           -- hex UUID
            experiment_id TEXT NOT NULL REFERENCES experiments(experiment_id),
            name TEXT NOT NULL,
            digest TEXT NOT NULL,
            source_type TEXT NOT NULL,               -- local, http, s3, code...
            source TEXT NOT NULL,                    -- JSON, e.g. {"uri": "data.csv"}
            schema TEXT,                             -- JSON, e.g. {"mlflow_colspec": [...]}
            profile TEXT,                            -- JSON, e.g. {"num_rows": 3, "num_elements": 12}
            creation_time INTEGER NOT NULL,          -- epoch ms, UTC
            UNIQUE (experiment_id, name, digest)
        );
        CREATE TABLE run_inputs (
            input_id INTEGER PRIMARY KEY,            -- also the order inputs were logged in
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            dataset_uuid TEXT REFERENCES datasets(dataset_uuid),
            model_id TEXT,                           -- a logged model the run read
            CHECK ((dataset_uuid IS NULL) != (model_id IS NULL))
        );
        CREATE UNIQUE INDEX run_inputs_dataset ON run_inputs (run_id, dataset_uuid) WHERE dataset_uuid IS NOT NULL;
        CREATE UNIQUE INDEX run_inputs_model ON run_inputs (run_id, model_id) WHERE model_id IS NOT NULL;
        CREATE INDEX run_inputs_by_run ON run_inputs (run_id);
        CREATE INDEX run_inputs_by_dataset ON run_inputs (dataset_uuid) WHERE dataset_uuid IS NOT NULL;
        CREATE TABLE input_tags (
            input_id INTEGER NOT NULL REFERENCES run_inputs(input_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (input_id, key)
        ) WITHOUT ROWID
        """,
    )


def m0008_logged_model_entities(conn: sqlite3.Connection) -> None:
    """Logged models as MLflow 3's entities: their own tags, params and metrics (per dataset), a type and status.

    ``artifact_location`` is relative to the store home: a run's artifact
    folder for a model logged in a run, ``artifacts/models/<model_id>`` for one
    logged without a run. ``step`` is the run step the model was logged at:
    run metrics at that step are the model's too, as in MLflow 3.
    ``model_versions.model_id`` names the logged model a version was registered from.
    Metric indexes: by model (to load a model's points), by (key, value) for
    filters, by (key, model) so ordering by a metric groups without sorting.
    """
    _statements(
        conn,
        """
        ALTER TABLE logged_models ADD COLUMN model_type TEXT;
        ALTER TABLE logged_models ADD COLUMN status_message TEXT;
        ALTER TABLE logged_models ADD COLUMN last_updated_time INTEGER;
        ALTER TABLE logged_models ADD COLUMN artifact_location TEXT;
        ALTER TABLE logged_models ADD COLUMN step INTEGER NOT NULL DEFAULT 0;
        UPDATE logged_models SET last_updated_time = creation_time,
            artifact_location = (SELECT r.artifact_location FROM runs r WHERE r.run_id = logged_models.run_id)
                || '/' || artifact_path;
        CREATE TABLE logged_model_tags (
            model_id TEXT NOT NULL REFERENCES logged_models(model_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE logged_model_params (
            model_id TEXT NOT NULL REFERENCES logged_models(model_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE logged_model_metrics (
            model_id TEXT NOT NULL REFERENCES logged_models(model_id),
            key TEXT NOT NULL,
            value REAL,                              -- NULL is NaN
            timestamp INTEGER NOT NULL,              -- epoch ms, UTC
            step INTEGER NOT NULL,
            run_id TEXT,
            dataset_name TEXT,
            dataset_digest TEXT
        );
        CREATE INDEX logged_model_metrics_by_model ON logged_model_metrics (model_id, key, timestamp, step);
        CREATE INDEX logged_model_metrics_by_value ON logged_model_metrics (key, value);
        CREATE INDEX logged_model_metrics_by_key ON logged_model_metrics (key, model_id, timestamp);
        CREATE INDEX logged_models_by_run_step ON logged_models (run_id, step);
        ALTER TABLE model_versions ADD COLUMN model_id TEXT;
        INSERT INTO logged_model_metrics (model_id, key, value, timestamp, step, run_id)
            SELECT m.model_id, l.key, l.value, l.timestamp, l.step, l.run_id
            FROM logged_models m JOIN latest_metrics l ON l.run_id = m.run_id
        """,
    )


def m0009_traces(conn: sqlite3.Connection) -> None:
    """GenAI traces (issue #15): one row per trace, its tags and metadata, and its spans.

    ``traces`` keeps the trace's tags and metadata as JSON objects too (as
    m0005 does for runs), so listing traces reads one row each; the key/value
    tables serve the filters. A span's full MLflow JSON is in ``content``; its
    name, type and status are columns for ``span.name``/``span.type`` filters.
    Assessments (feedback, expectations) will get their own table keyed by
    ``trace_id``.
    """
    _statements(
        conn,
        """
        CREATE TABLE traces (
            trace_id TEXT PRIMARY KEY,               -- 'tr-' + 32 hex digits
            experiment_id TEXT NOT NULL,
            name TEXT,                               -- the root span's name (tag mlflow.traceName)
            client_request_id TEXT,
            request_time INTEGER NOT NULL,           -- epoch ms, UTC
            execution_duration INTEGER,              -- ms
            state TEXT NOT NULL CHECK (state IN ('OK', 'ERROR', 'IN_PROGRESS', 'STATE_UNSPECIFIED')),
            request_preview TEXT,
            response_preview TEXT,
            run_id TEXT,                             -- metadata mlflow.sourceRun
            model_id TEXT,                           -- metadata mlflow.modelId
            tags_json TEXT NOT NULL DEFAULT '{}',
            metadata_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX traces_by_experiment ON traces (experiment_id, request_time);
        CREATE INDEX traces_by_run ON traces (run_id) WHERE run_id IS NOT NULL;
        CREATE TABLE trace_tags (
            trace_id TEXT NOT NULL REFERENCES traces(trace_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (trace_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX trace_tags_by_key ON trace_tags (key, value);
        CREATE TABLE trace_metadata (
            trace_id TEXT NOT NULL REFERENCES traces(trace_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (trace_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX trace_metadata_by_key ON trace_metadata (key, value);
        CREATE TABLE spans (
            trace_id TEXT NOT NULL REFERENCES traces(trace_id) ON DELETE CASCADE,
            span_id TEXT NOT NULL,                   -- 16 hex digits
            parent_span_id TEXT,
            name TEXT NOT NULL,
            span_type TEXT,
            status TEXT NOT NULL,                    -- OK, ERROR, UNSET
            start_time_ns INTEGER NOT NULL,
            end_time_ns INTEGER,
            content TEXT NOT NULL,                   -- MLflow's span JSON (Span.to_dict)
            PRIMARY KEY (trace_id, span_id)
        ) WITHOUT ROWID;
        CREATE INDEX spans_by_name ON spans (name);
        CREATE INDEX spans_by_type ON spans (span_type)
        """,
    )


def m0010_search_index(conn: sqlite3.Connection) -> None:
    """A ``(key, value)`` index on latest metrics, params and tags, so a selective filter finds its runs.

    Without it ``metrics.acc > 0.9 and params.model = 'rf'`` over 100,000
    runs looks both up in every run (~450 ms); with it the search starts from
    the runs the index names (a few ms when they are few, issue #14).
    Measured against the alternatives: SQLite JSON functions over the
    per-run summaries parse every run (~2.7x faster than now, still ~170 ms),
    and a per-key summary table costs the same writes as these indexes. The
    price is ~20 more index entries per created run (about 25% of run
    creation's CPU time), which m0001 avoided.
    """
    _statements(
        conn,
        """
        CREATE INDEX latest_metrics_by_value ON latest_metrics (key, value);
        CREATE INDEX params_by_value ON params (key, value);
        CREATE INDEX tags_by_value ON tags (key, value)
        """,
    )


def m0011_deployment_jobs(conn: sqlite3.Connection) -> None:
    """Deployment jobs (issue #16): a registered model's notebook tasks, and their runs per version.

    A run's ``status`` is MLflow 3's run state (PENDING, RUNNING, APPROVAL,
    SUCCEEDED, FAILED); the partial unique index lets at most one run per
    version be active, so two workers never deploy the same version at once,
    whichever processes start them. Executed notebooks are files under the
    store home (``output_notebook`` is relative to it).
    """
    _statements(
        conn,
        """
        CREATE TABLE deployment_jobs (
            name TEXT PRIMARY KEY,                   -- the registered model
            job_id TEXT NOT NULL UNIQUE,             -- hex UUID
            tasks TEXT NOT NULL,                     -- JSON [{"name": ..., "notebook": absolute path}]
            parameters TEXT NOT NULL DEFAULT '{}',   -- JSON, passed to every task with papermill
            creation_timestamp INTEGER NOT NULL,
            last_updated_timestamp INTEGER NOT NULL
        );
        CREATE TABLE deployment_job_runs (
            run_id TEXT PRIMARY KEY,                 -- hex UUID
            job_id TEXT NOT NULL,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            status TEXT NOT NULL,
            current_task TEXT,
            parameters TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            worker_pid INTEGER,
            worker_host TEXT,
            user_id TEXT,
            creation_timestamp INTEGER NOT NULL,
            last_updated_timestamp INTEGER NOT NULL,
            end_timestamp INTEGER
        );
        CREATE INDEX deployment_job_runs_by_version ON deployment_job_runs (name, version, creation_timestamp);
        CREATE UNIQUE INDEX one_active_deployment_job_per_version ON deployment_job_runs (name, version)
            WHERE status IN ('PENDING', 'RUNNING', 'APPROVAL');
        CREATE TABLE deployment_task_runs (
            run_id TEXT NOT NULL REFERENCES deployment_job_runs(run_id) ON DELETE CASCADE,
            task_index INTEGER NOT NULL,
            name TEXT NOT NULL,                      -- the registered model (renames update it)
            task_name TEXT NOT NULL,
            notebook TEXT NOT NULL,
            status TEXT NOT NULL,                    -- PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED
            output_notebook TEXT,
            error TEXT,
            start_timestamp INTEGER,
            end_timestamp INTEGER,
            PRIMARY KEY (run_id, task_index)
        ) WITHOUT ROWID
        """,
    )


def m0012_endpoints(conn: sqlite3.Connection) -> None:
    """Model endpoints started from a notebook or the CLI, and their inference table (issue #16, parts 3-4).

    ``endpoints`` holds one row per scoring-server process: what it serves,
    where, its pid (and the host and time it was seen, for the liveness
    check of ``store/liveness.py``) and the count of requests it answered.
    ``inference_log`` holds each ``/invocations`` request of an endpoint
    started with ``log_requests``: the raw request and response bodies (as
    managed MLflow's inference tables keep them), status, latency and time.
    """
    _statements(
        conn,
        """
        CREATE TABLE endpoints (
            endpoint_id TEXT PRIMARY KEY,            -- 'ep-' + 12 hex digits
            model_uri TEXT NOT NULL,
            model_name TEXT,                         -- the registered model, for models:/ URIs
            model_version TEXT,                      -- resolved when the endpoint started
            host TEXT NOT NULL,                      -- address bound
            port INTEGER,                            -- NULL until the server has bound
            pid INTEGER,
            owner_host TEXT NOT NULL,                -- liveness.HOST of the process
            pid_time INTEGER,                        -- epoch ms at which pid was known to exist
            workers INTEGER NOT NULL,
            env_manager TEXT NOT NULL,
            log_requests INTEGER NOT NULL,
            log_path TEXT,
            status TEXT NOT NULL CHECK (status IN ('STARTING', 'RUNNING', 'STOPPED', 'FAILED')),
            status_message TEXT,
            start_time INTEGER NOT NULL,
            end_time INTEGER,
            requests_served INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX endpoints_by_model ON endpoints (model_name, status);
        CREATE TABLE inference_log (
            request_id INTEGER PRIMARY KEY,
            endpoint_id TEXT NOT NULL,
            model_uri TEXT NOT NULL,
            model_name TEXT,
            model_version TEXT,
            timestamp_ms INTEGER NOT NULL,
            latency_ms REAL NOT NULL,
            status_code INTEGER NOT NULL,
            content_type TEXT,
            request BLOB NOT NULL,
            response BLOB NOT NULL
        );
        CREATE INDEX inference_log_by_model ON inference_log (model_name, model_version, timestamp_ms);
        CREATE INDEX inference_log_by_endpoint ON inference_log (endpoint_id, timestamp_ms)
        """,
    )


def m0013_prompts(conn: sqlite3.Connection) -> None:
    """Prompts (issue #15 part 6): named, versioned templates with aliases and tags.

    Their own tables rather than MLflow's registered models tagged
    ``mlflow.prompt.is_prompt``: a prompt version is a short text, not a folder
    of files to copy, hash and make read-only, and keeping prompts apart
    leaves ``search_registered_models`` and the registry's activity log as they
    are. A trigger makes a version's template immutable, as registered
    versions are.
    """
    _statements(
        conn,
        """
        CREATE TABLE prompts (
            name TEXT PRIMARY KEY,
            creation_timestamp INTEGER NOT NULL,     -- epoch ms
            last_updated_timestamp INTEGER NOT NULL,
            last_version INTEGER NOT NULL DEFAULT 0, -- versions are never reused, even after a delete
            tags_json TEXT NOT NULL DEFAULT '{}'      -- the prompt's tags (search_prompts filters on them)
        );
        CREATE TABLE prompt_versions (
            name TEXT NOT NULL REFERENCES prompts(name) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            template TEXT NOT NULL,                  -- the text, or the chat messages as a JSON list
            chat INTEGER NOT NULL DEFAULT 0,         -- 1 when template holds chat messages
            commit_message TEXT,
            creation_timestamp INTEGER NOT NULL,
            tags_json TEXT NOT NULL DEFAULT '{}',     -- the version's tags
            PRIMARY KEY (name, version)
        ) WITHOUT ROWID;
        CREATE TRIGGER prompt_versions_are_immutable BEFORE UPDATE OF name, version, template, chat ON prompt_versions
        BEGIN
            SELECT RAISE(ABORT, 'prompt versions are immutable: register a new version instead');
        END;
        CREATE TABLE prompt_aliases (
            name TEXT NOT NULL REFERENCES prompts(name) ON DELETE CASCADE,
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (name, alias),
            FOREIGN KEY (name, version) REFERENCES prompt_versions(name, version) ON DELETE CASCADE
        ) WITHOUT ROWID
        """,
    )


def m0014_assessments(conn: sqlite3.Connection) -> None:
    """Feedback and expectations on traces, and GenAI evaluation datasets (issue #15 part 5).

    An assessment's full MLflow JSON is in ``content``; its trace, name and
    kind are columns to list a trace's assessments in order. Evaluation
    dataset records are keyed by a hash of their inputs, so merging the same
    inputs again updates the record instead of adding one (as MLflow does).
    """
    _statements(
        conn,
        """
        CREATE TABLE assessments (
            assessment_id TEXT PRIMARY KEY,          -- 'a-' + 32 hex digits
            trace_id TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('feedback', 'expectation')),
            create_time INTEGER NOT NULL,            -- epoch ms
            content TEXT NOT NULL                    -- MLflow's Assessment.to_dictionary() JSON
        );
        CREATE INDEX assessments_by_trace ON assessments (trace_id, create_time);
        CREATE TABLE evaluation_datasets (
            dataset_id TEXT PRIMARY KEY,             -- 'd-' + 32 hex digits
            name TEXT NOT NULL UNIQUE,
            experiment_ids_json TEXT NOT NULL DEFAULT '[]',
            tags_json TEXT NOT NULL DEFAULT '{}',
            digest TEXT NOT NULL,
            created_time INTEGER NOT NULL,
            last_update_time INTEGER NOT NULL,
            created_by TEXT
        );
        CREATE TABLE evaluation_dataset_records (
            dataset_id TEXT NOT NULL REFERENCES evaluation_datasets(dataset_id) ON DELETE CASCADE,
            record_id TEXT NOT NULL,                 -- 'dr-' + 32 hex digits
            input_hash TEXT NOT NULL,                -- sha256 of the inputs as sorted JSON
            inputs_json TEXT NOT NULL,
            outputs_json TEXT,
            expectations_json TEXT NOT NULL DEFAULT '{}',
            tags_json TEXT NOT NULL DEFAULT '{}',
            source_json TEXT,
            created_time INTEGER NOT NULL,
            last_update_time INTEGER NOT NULL,
            PRIMARY KEY (dataset_id, record_id),
            UNIQUE (dataset_id, input_hash)
        )                                            -- rowid: the order records were first added
        """,
    )


def m0015_sync(conn: sqlite3.Connection) -> None:
    """Sync with an MLflow tracking server (issue #19): which local object is which remote one.

    One row per (remote, kind, local id): ``remote`` is the server's URI without
    credentials, ``kind`` is experiment, run, logged_model, registered_model or
    model_version (local id ``name/version``). ``state`` is JSON holding what
    was last sent or received (the metric rowid reached, tag values,
    artifact sizes, aliases...), so the next push sends only the difference and
    a remote change made by someone else shows as a conflict.
    """
    _statements(
        conn,
        """
        CREATE TABLE sync_objects (
            remote TEXT NOT NULL,
            kind TEXT NOT NULL,
            local_id TEXT NOT NULL,
            remote_id TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT '{}',
            synced_time INTEGER NOT NULL,             -- epoch ms, UTC
            PRIMARY KEY (remote, kind, local_id)
        );
        CREATE INDEX sync_objects_by_remote_id ON sync_objects (remote, kind, remote_id)
        """,
    )


def m0016_trace_speed(conn: sqlite3.Connection) -> None:
    """Traces written and listed faster (issue #15's speed goals).

    A trace's spans' JSON moves to one column of its row, ``traces.spans_json``
    (the JSON array of MLflow's span dicts, in start order): listing traces
    reads it with the row instead of gathering each trace's spans, and
    ``spans`` keeps only what filters need (name, type, status, times) in a
    rowid table, whose rows are small and appended. ``trace_metadata`` goes:
    it copied ``traces.metadata_json`` (the trace's inputs and outputs, up to
    1,000 characters each, into a ``(key, value)`` index) for the rare
    ``metadata.<key>`` filter, which now reads ``metadata_json``.
    """
    _statements(
        conn,
        """
        ALTER TABLE traces ADD COLUMN spans_json TEXT NOT NULL DEFAULT '[]';
        UPDATE traces SET spans_json = coalesce((SELECT '[' || group_concat(content, ',') || ']' FROM
            (SELECT content FROM spans s WHERE s.trace_id = traces.trace_id ORDER BY start_time_ns, span_id)), '[]');
        CREATE TABLE spans_rowid (
            trace_id TEXT NOT NULL REFERENCES traces(trace_id) ON DELETE CASCADE,
            span_id TEXT NOT NULL,                   -- 16 hex digits
            parent_span_id TEXT,
            name TEXT NOT NULL,
            span_type TEXT,
            status TEXT NOT NULL,                    -- OK, ERROR, UNSET
            start_time_ns INTEGER NOT NULL,
            end_time_ns INTEGER,
            UNIQUE (trace_id, span_id)
        );
        INSERT INTO spans_rowid (trace_id, span_id, parent_span_id, name, span_type, status, start_time_ns,
            end_time_ns)
            SELECT trace_id, span_id, parent_span_id, name, span_type, status, start_time_ns, end_time_ns
            FROM spans ORDER BY trace_id, start_time_ns;
        DROP TABLE spans;
        ALTER TABLE spans_rowid RENAME TO spans;
        CREATE INDEX spans_by_name ON spans (name);
        CREATE INDEX spans_by_type ON spans (span_type);
        DROP TABLE trace_metadata
        """,
    )


def m0017_trace_info(conn: sqlite3.Connection) -> None:
    """Each trace's info as MLflow's JSON, kept whole in ``traces.info_json`` (issue #15's listing speed).

    ``search_traces`` returns every trace's JSON; built in SQL for each search
    (timestamps formatted, strings quoted) it cost a third of listing 10,000
    traces. The writer now builds it once per trace (fields that are None left
    out, as MLflow's protobuf does), and tag changes update its ``tags``; this
    fills it for traces written before.
    """
    _statements(
        conn,
        """
        ALTER TABLE traces ADD COLUMN info_json TEXT NOT NULL DEFAULT '{}';
        UPDATE traces SET info_json =
            '{"trace_id": ' || json_quote(trace_id) || ', "trace_location": {"type": "MLFLOW_EXPERIMENT", '
            || '"mlflow_experiment": {"experiment_id": ' || json_quote(experiment_id) || '}}, "request_time": "'
            || strftime('%Y-%m-%dT%H:%M:%S', request_time / 1000, 'unixepoch') || printf('.%03dZ"', request_time % 1000)
            || ', "state": ' || json_quote(state) || ', "trace_metadata": ' || metadata_json
            || ', "tags": ' || tags_json
            || iif(request_preview IS NULL, '', ', "request_preview": ' || json_quote(request_preview))
            || iif(response_preview IS NULL, '', ', "response_preview": ' || json_quote(response_preview))
            || iif(client_request_id IS NULL, '', ', "client_request_id": ' || json_quote(client_request_id))
            || coalesce(', "execution_duration_ms": ' || execution_duration, '') || '}'
        """,
    )


def m0018_run_lines(conn: sqlite3.Connection) -> None:
    """Each run's DataFrame row as one JSON line, kept by SQLite on its ``runs`` row (issue #14).

    All runs into a DataFrame read one JSON line per run, which SQLite built
    for every search from the row's fields and its three summaries: 40% of
    that read's SQLite time at 100,000 runs. ``line_json`` is a STORED
    generated column, so SQLite rewrites it with every change to the row
    (status, end time, summaries) and it can never disagree with them; the
    cost is ~0.8 KB more a run. A generated column cannot be added to a
    table, so ``runs`` is copied into a new one, with its rowids and indexes.
    """
    _statements(
        conn,
        """
        CREATE TABLE runs_with_lines (
            run_id TEXT PRIMARY KEY,                 -- 32 hex digits
            experiment_id TEXT NOT NULL REFERENCES experiments(experiment_id),
            run_name TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
            start_time INTEGER NOT NULL,             -- epoch ms, UTC
            end_time INTEGER,
            user_id TEXT,
            parent_run_id TEXT REFERENCES runs(run_id),
            notebook_path TEXT,
            artifact_location TEXT NOT NULL,         -- relative to the store home
            lifecycle_stage TEXT NOT NULL DEFAULT 'active'
                CHECK (lifecycle_stage IN ('active', 'deleted')),
            deleted_time INTEGER,
            params_json TEXT NOT NULL DEFAULT '{}',
            metrics_json TEXT NOT NULL DEFAULT '{}',
            tags_json TEXT NOT NULL DEFAULT '{}',
            owner_host TEXT,
            owner_pid INTEGER,
            heartbeat_time INTEGER,
            -- Infinity metrics are the strings "Infinity"/"-Infinity" in metrics_json
            -- and the bare tokens (which Arrow's JSON reader takes) here. The artifact
            -- folder is left out when it is the usual one and needs no quoting in a URI:
            -- 12% less text to parse.
            line_json TEXT GENERATED ALWAYS AS (
                '{"r":' || CASE WHEN artifact_location = 'artifacts/' || experiment_id || '/' || run_id
                        AND run_id NOT GLOB '*[^0-9A-Za-z_-]*' AND experiment_id NOT GLOB '*[^0-9A-Za-z_-]*'
                    THEN json_object('run_id', run_id, 'experiment_id', experiment_id, 'status', status,
                        'start_time', start_time, 'end_time', end_time)
                    ELSE json_object('run_id', run_id, 'experiment_id', experiment_id, 'status', status,
                        'start_time', start_time, 'end_time', end_time, 'artifact_location', artifact_location)
                    END
                || ',"m":' || CASE WHEN instr(metrics_json, 'Infinity') THEN
                    replace(replace(metrics_json, ':"Infinity"', ':Infinity'), ':"-Infinity"', ':-Infinity')
                    ELSE metrics_json END
                || ',"p":' || params_json || ',"t":' || tags_json || '}'
            ) STORED
        );
        INSERT INTO runs_with_lines (rowid, run_id, experiment_id, run_name, status, start_time, end_time, user_id,
            parent_run_id, notebook_path, artifact_location, lifecycle_stage, deleted_time, params_json,
            metrics_json, tags_json, owner_host, owner_pid, heartbeat_time)
            SELECT rowid, run_id, experiment_id, run_name, status, start_time, end_time, user_id, parent_run_id,
                notebook_path, artifact_location, lifecycle_stage, deleted_time, params_json, metrics_json,
                tags_json, owner_host, owner_pid, heartbeat_time
            FROM runs ORDER BY rowid;
        DROP TABLE runs;
        ALTER TABLE runs_with_lines RENAME TO runs;
        CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
        CREATE INDEX runs_by_parent ON runs (parent_run_id);
        CREATE INDEX runs_running ON runs (run_id) WHERE status = 'RUNNING'
        """,
    )


def m0019_run_csv(conn: sqlite3.Connection) -> None:
    """Each run's DataFrame row as CSV instead of a JSON line, kept on its ``runs`` row (issue #14).

    Arrow parses CSV 3-5x faster than JSON: reading all 100,000 runs into a
    DataFrame took ~0.9 s of CPU, more than half of it parsing ``line_json``.
    The row is now pieces that SQLite joins when it reads them:

    - ``head_csv``, a STORED generated column: run id and experiment id
      (quoted), status, start and end time (epoch ms; empty while running),
      and the artifact folder, quoted, only when it is not ``artifacts/<experiment
      id>/<run id>`` of letters, digits, ``_`` and ``-`` (else empty);
    - ``metrics_csv``, ``params_csv``, ``tags_csv``: ``,value`` for each,
      by key. A metric is 15 digits when those read back as the same double,
      else 17; NaN is empty, infinities ``inf``/``-inf``. Params and tags are
      quoted (``"`` doubled);
    - ``metrics_keys``, ``params_keys``, ``tags_keys``: their keys as JSON
      arrays, in the same order (here both read the kind's rows by key; the
      store's refresh makes both in one query).

    The CSV and keys are derived like the JSON summaries (m0005): each write
    to params, tags or latest metrics rewrites its kind's three columns in
    its transaction. ``line_json`` goes. A generated column cannot be added
    to a table, so ``runs`` is copied into a new one (its definition as
    m0018 left it, up to ``line_json``), with its rowids and indexes.
    """
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()
    cut = sql.find("-- Infinity metrics are the strings")
    if cut < 0:
        raise StoreError(f"the runs table is not the one migration m0018 made; cannot migrate it: {sql[:200]!r}")
    columns = sql[sql.index("(") + 1 : cut]
    text_csv = """coalesce(group_concat(',"' || replace(value, '"', '""') || '"', ''), '')"""
    _statements(
        conn,
        f"""
        CREATE TABLE runs_with_csv ({columns}
            metrics_csv TEXT NOT NULL DEFAULT '',
            params_csv TEXT NOT NULL DEFAULT '',
            tags_csv TEXT NOT NULL DEFAULT '',
            metrics_keys TEXT NOT NULL DEFAULT '[]',
            params_keys TEXT NOT NULL DEFAULT '[]',
            tags_keys TEXT NOT NULL DEFAULT '[]',
            head_csv TEXT GENERATED ALWAYS AS (
                '"' || replace(run_id, '"', '""') || '","' || replace(experiment_id, '"', '""') || '",'
                || status || ',' || start_time || ',' || coalesce(end_time, '') || ','
                || CASE WHEN artifact_location = 'artifacts/' || experiment_id || '/' || run_id
                        AND run_id NOT GLOB '*[^0-9A-Za-z_-]*' AND experiment_id NOT GLOB '*[^0-9A-Za-z_-]*'
                    THEN '' ELSE '"' || replace(artifact_location, '"', '""') || '"' END
            ) STORED
        );
        INSERT INTO runs_with_csv (rowid, run_id, experiment_id, run_name, status, start_time, end_time, user_id,
            parent_run_id, notebook_path, artifact_location, lifecycle_stage, deleted_time, params_json,
            metrics_json, tags_json, owner_host, owner_pid, heartbeat_time, metrics_csv, params_csv, tags_csv,
            metrics_keys, params_keys, tags_keys)
            SELECT rowid, run_id, experiment_id, run_name, status, start_time, end_time, user_id, parent_run_id,
                notebook_path, artifact_location, lifecycle_stage, deleted_time, params_json, metrics_json,
                tags_json, owner_host, owner_pid, heartbeat_time,
                (SELECT coalesce(group_concat(',' || CASE WHEN value IS NULL THEN ''
                    WHEN abs(value) > 1.7976931348623157e308 THEN CASE WHEN value > 0 THEN 'inf' ELSE '-inf' END
                    WHEN abs(value) BETWEEN 1e-200 AND 1e200 AND CAST(printf('%!.15g', value) AS REAL) = value
                    THEN printf('%!.15g', value) ELSE printf('%!.17g', value) END, ''), '')
                    FROM latest_metrics WHERE run_id = runs.run_id),
                (SELECT {text_csv} FROM params WHERE run_id = runs.run_id),
                (SELECT {text_csv} FROM tags WHERE run_id = runs.run_id),
                (SELECT json_group_array(key) FROM latest_metrics WHERE run_id = runs.run_id),
                (SELECT json_group_array(key) FROM params WHERE run_id = runs.run_id),
                (SELECT json_group_array(key) FROM tags WHERE run_id = runs.run_id)
            FROM runs ORDER BY rowid;
        DROP TABLE runs;
        ALTER TABLE runs_with_csv RENAME TO runs;
        CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
        CREATE INDEX runs_by_parent ON runs (parent_run_id);
        CREATE INDEX runs_running ON runs (run_id) WHERE status = 'RUNNING'
        """,
    )


MIGRATIONS: list[Migration] = [
    m0001_tracking, m0002_capture, m0003_models, m0004_registry, m0005_run_summaries, m0006_run_owners,
    m0007_datasets, m0008_logged_model_entities, m0009_traces, m0010_search_index, m0011_deployment_jobs,
    m0012_endpoints, m0013_prompts, m0014_assessments, m0015_sync, m0016_trace_speed,
    m0017_trace_info, m0018_run_lines, m0019_run_csv,
]
"""Applied in this order; each is recorded by its function name."""


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations this file lacks; a single cheap read when it has them all."""
    target = len(MIGRATIONS)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == target:
        return
    if version > target:
        raise StoreError(
            f"this store has schema version {version} but this jupyter-lifecycle "
            f"knows only {target} migrations: upgrade jupyter-lifecycle to use it"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock.
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_time INTEGER NOT NULL)"
        )
        applied = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for step in MIGRATIONS:
            if step.__name__ in applied:
                continue
            step(conn)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_time) VALUES (?, ?)",
                (step.__name__, int(time.time() * 1000)),
            )
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {count}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
