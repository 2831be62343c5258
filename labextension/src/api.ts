/**
 * The REST routes the sidebar uses and the shapes they answer with, as the
 * server extension's contract defines them; no logic beyond encoding URLs.
 */
import { requestAPI } from './handler';

/** An active experiment, as `GET experiments` lists it. */
export interface IExperiment {
  experiment_id: string;
  name: string;
  lifecycle_stage: string;
  creation_time: number | null;
  last_update_time: number | null;
  run_count: number;
}

/** A run with its latest metric values; `null` stands for NaN and ±inf. */
export interface IRun {
  run_id: string;
  run_name: string;
  experiment_id: string;
  status: string;
  start_time: number | null;
  end_time: number | null;
  params: Record<string, string>;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
}

/** `GET runs` answer: a page of runs plus the keys that occur in them, for columns. */
export interface IRunList {
  runs: IRun[];
  metric_keys: string[];
  param_keys: string[];
  tag_keys: string[];
  next_page_token: string | null;
}

/** What the main-area runs grid asks `GET runs` for. */
export interface IRunQuery {
  experimentIds: string[];
  filter?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string | null;
  /** `params.C`, `metrics.acc`, `tags.team`; `undefined` for every column. */
  columns?: string[];
}

/** One metric of one run in `GET compare`: points are `[step, time, value]`. */
export interface IHistory {
  points: [number, number, number | null][];
  min: number | null;
  max: number | null;
  count: number;
}

/** `GET compare` answer. */
export interface IComparison {
  runs: IRun[];
  histories: Record<string, Record<string, IHistory>>;
}

/** A transition request of a model version. */
export interface ITransitionRequest {
  request_id: string;
  to_stage: string;
  status: string;
  user_id: string | null;
  comment: string | null;
  creation_timestamp: number;
  resolved_by?: string | null;
  resolution_comment?: string | null;
}

/** One entry of the registry's activity log. */
export interface IActivity {
  activity_type: string;
  user_id: string | null;
  timestamp: number;
  from_stage: string | null;
  to_stage: string | null;
  comment: string | null;
}

/** `GET models/NAME/versions/V` answer. */
export interface IVersionDetail {
  version: IModelVersion & { name: string; user_id: string | null };
  signature: { inputs?: unknown; outputs?: unknown; params?: unknown } | null;
  requirements: string[];
  flavors: string[];
  metrics: Record<string, number | null>;
  lineage: {
    run: { run_id: string; run_name: string; experiment_id: string; status: string } | null;
    notebook_path: string | null;
    revisions: Record<string, { revision_id: string; cell_count: number }>;
    cell_count: number;
    datasets: Record<string, unknown>[];
    notes: string[];
  };
  transition_requests: ITransitionRequest[];
  activity: IActivity[];
  /** The version's deployment job runs, newest first. */
  deployment_job_runs: IDeploymentJobRun[];
}

/** One task of a deployment job run; `output_path` is the executed notebook below the server root, if it is there. */
export interface IDeploymentTaskRun {
  name: string;
  notebook: string;
  status: string;
  output_notebook: string | null;
  output_path: string | null;
  error: string | null;
  start_timestamp: number | null;
  end_timestamp: number | null;
}

/** A run of a version's deployment job (evaluate, approve, deploy...). */
export interface IDeploymentJobRun {
  run_id: string;
  job_id: string;
  status: string;
  current_task_name: string | null;
  error: string | null;
  creation_timestamp: number;
  end_timestamp: number | null;
  tasks: IDeploymentTaskRun[];
}

/** A model endpoint, as `GET endpoints` lists it; `status` is `DEAD` when its process is gone. */
export interface IEndpoint {
  endpoint_id: string;
  model_uri: string;
  model_name: string | null;
  version: string | null;
  url: string | null;
  port: number | null;
  pid: number | null;
  status: string;
  status_message: string | null;
  start_time: number;
  end_time: number | null;
  requests_served: number;
  log_requests: boolean;
}

/** `GET runs/ID/artifact` answer: the content of one artifact, by kind. */
export interface IArtifactPreview {
  path: string;
  kind: 'json' | 'yaml' | 'mlmodel' | 'text' | 'table' | 'image' | 'notebook' | 'binary';
  file_size: number;
  truncated: boolean;
  text?: string;
  data?: unknown;
  columns?: string[];
  rows?: unknown[][];
  mime?: string;
  base64?: string;
  cells?: { cell_type: string; source: string; outputs: string[] }[];
}

/** An entry of `GET runs/ID/artifacts`. */
export interface IArtifactFile {
  path: string;
  is_dir: boolean;
  file_size: number | null;
}

/** `GET runs/ID` answer: a run and what hangs off it. */
export interface IRunDetail {
  run: IRun & {
    artifact_uri: string;
    notebook_path: string | null;
    parent_run_id: string | null;
    user_id: string | null;
  };
  artifacts: { path: string; is_dir: boolean; file_size: number | null }[];
  revisions: { revision_id: string; moment: string }[];
  models: { artifact_path: string; model_uri: string; flavors: string[] }[];
  registered_versions: { name: string; version: number }[];
}

/** A registered model, as `GET models` lists it. */
export interface IModel {
  name: string;
  description: string | null;
  creation_timestamp: number | null;
  last_updated_timestamp: number | null;
  aliases: Record<string, number>;
  latest_version: number | null;
  version_count: number;
}

/** One version of a registered model. */
export interface IModelVersion {
  version: number;
  current_stage: string;
  run_id: string | null;
  source: string;
  status: string;
  creation_timestamp: number | null;
  description: string | null;
  aliases: string[];
  model_uri: string;
  /** The source run's metrics (`GET models/NAME` only). */
  metrics?: Record<string, number | null>;
}

/** `GET models/NAME` answer, also what every registry change returns. */
export interface IModelDetail {
  model: IModel;
  versions: IModelVersion[];
}

/** The stages a version can be moved to, in the order the select offers them. */
export const STAGES = ['None', 'Staging', 'Production', 'Archived'];

const enc = encodeURIComponent;

function json(method: string, body: unknown): RequestInit {
  return { method, body: JSON.stringify(body) };
}

/** `GET experiments`. */
export async function listExperiments(): Promise<IExperiment[]> {
  return (await requestAPI<{ experiments: IExperiment[] }>('experiments'))
    .experiments;
}

/** Runs the sidebar lists at most (the runs view pages through all of them). */
export const SIDEBAR_RUNS = 200;

/** `GET runs`: the latest runs of one experiment (metrics only), narrowed by an MLflow filter string. */
export function listRuns(experimentId: string, filter = ''): Promise<IRunList> {
  const query = new URLSearchParams({
    experiment_id: experimentId,
    max_results: String(SIDEBAR_RUNS),
    columns: 'metrics.*'
  });
  if (filter.trim()) {
    query.set('filter', filter.trim());
  }
  return requestAPI<IRunList>(`runs?${query}`);
}

/** `GET runs/ID`. */
export function getRun(runId: string): Promise<IRunDetail> {
  return requestAPI<IRunDetail>(`runs/${enc(runId)}`);
}

/**
 * `GET runs/ID/chart`: a vega-lite v5 spec of the run's metric history,
 * `null` when the run has no metrics.
 */
export async function getRunChart(runId: string): Promise<object[]> {
  return (await requestAPI<{ panels: object[] }>(`runs/${enc(runId)}/chart`)).panels;
}

/** `GET models`. */
export async function listModels(): Promise<IModel[]> {
  return (await requestAPI<{ models: IModel[] }>('models')).models;
}

/** `GET models/NAME`. */
export function getModel(name: string): Promise<IModelDetail> {
  return requestAPI<IModelDetail>(`models/${enc(name)}`);
}

/** `PUT models/NAME/aliases/ALIAS`: point an alias at a version. */
export function setAlias(
  name: string,
  alias: string,
  version: number
): Promise<IModelDetail> {
  return requestAPI<IModelDetail>(
    `models/${enc(name)}/aliases/${enc(alias)}`,
    json('PUT', { version })
  );
}

/** `DELETE models/NAME/aliases/ALIAS`. */
export function deleteAlias(name: string, alias: string): Promise<IModelDetail> {
  return requestAPI<IModelDetail>(`models/${enc(name)}/aliases/${enc(alias)}`, {
    method: 'DELETE'
  });
}

/** `POST models/NAME/versions/V/stage`. */
export function transitionStage(
  name: string,
  version: number,
  stage: string,
  archiveExistingVersions = false
): Promise<IModelDetail> {
  return requestAPI<IModelDetail>(
    `models/${enc(name)}/versions/${version}/stage`,
    json('POST', {
      stage,
      archive_existing_versions: archiveExistingVersions
    })
  );
}

/** `POST scoring-notebooks`: returns the new notebook's path below the server root. */
export async function createScoringNotebook(modelUri: string): Promise<string> {
  const answer = await requestAPI<{ path: string }>(
    'scoring-notebooks',
    json('POST', { model_uri: modelUri })
  );
  return answer.path;
}

/** `GET runs` with paging and columns, for the main-area grid. */
export function queryRuns(query: IRunQuery): Promise<IRunList> {
  const params = new URLSearchParams();
  for (const id of query.experimentIds) {
    params.append('experiment_id', id);
  }
  if (query.filter?.trim()) {
    params.set('filter', query.filter.trim());
  }
  for (const order of query.orderBy ?? []) {
    params.append('order_by', order);
  }
  if (query.maxResults) {
    params.set('max_results', String(query.maxResults));
  }
  if (query.pageToken) {
    params.set('page_token', query.pageToken);
  }
  if (query.columns) {
    params.set('columns', query.columns.join(','));
  }
  return requestAPI<IRunList>(`runs?${params}`);
}

/** `GET compare`: runs side by side with their metric histories. */
export function compareRuns(runIds: string[]): Promise<IComparison> {
  const params = new URLSearchParams();
  for (const id of runIds) {
    params.append('run_id', id);
  }
  return requestAPI<IComparison>(`compare?${params}`);
}

/** `GET runs/ID/artifacts?path=P`. */
export async function listArtifacts(runId: string, path = ''): Promise<IArtifactFile[]> {
  const query = new URLSearchParams({ path });
  return (await requestAPI<{ files: IArtifactFile[] }>(`runs/${enc(runId)}/artifacts?${query}`)).files;
}

/** `GET runs/ID/artifact?path=P`. */
export function getArtifact(runId: string, path: string): Promise<IArtifactPreview> {
  const query = new URLSearchParams({ path });
  return requestAPI<IArtifactPreview>(`runs/${enc(runId)}/artifact?${query}`);
}

/** `GET models/NAME/versions/V`. */
export function getVersion(name: string, version: number): Promise<IVersionDetail> {
  return requestAPI<IVersionDetail>(`models/${enc(name)}/versions/${version}`);
}

/** `PUT models/NAME/versions/V/description`. */
export function setVersionDescription(
  name: string,
  version: number,
  description: string
): Promise<IVersionDetail> {
  return requestAPI<IVersionDetail>(
    `models/${enc(name)}/versions/${version}/description`,
    json('PUT', { description })
  );
}

/** `POST models/NAME/versions/V/requests/ACTION`: request, approve, reject or cancel a transition. */
export function transitionRequest(
  name: string,
  version: number,
  action: 'request' | 'approve' | 'reject' | 'cancel',
  stage: string,
  comment = ''
): Promise<IVersionDetail> {
  return requestAPI<IVersionDetail>(
    `models/${enc(name)}/versions/${version}/requests/${action}`,
    json('POST', { stage, comment: comment || null })
  );
}

/** `GET endpoints`: running and dead endpoints (stopped ones too with `all`), newest first. */
export async function listEndpoints(all = false): Promise<IEndpoint[]> {
  return (await requestAPI<{ endpoints: IEndpoint[] }>(`endpoints?all=${all}`)).endpoints;
}

/** `POST endpoints/ID/stop`: the endpoint after. */
export async function stopEndpoint(endpointId: string): Promise<IEndpoint> {
  return (await requestAPI<{ endpoint: IEndpoint }>(`endpoints/${enc(endpointId)}/stop`, { method: 'POST' })).endpoint;
}
