import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import {
  getRun,
  getRunChart,
  IArtifactFile,
  listArtifacts,
  IRunDetail,
  IRunList,
  listExperiments,
  listRuns
} from './api';
import {
  formatMetric,
  formatShortTime,
  formatTime,
  h,
  keyValueTable,
  link,
  noneIfEmpty,
  section,
  table
} from './dom';
import { IViewHost } from './host';
import { PagedView } from './view';

/** JupyterLab renders this mime type itself (vega-lite v5), offline. */
const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';

/** The runs table shows at most this many metric columns: a sidebar is narrow. */
const METRIC_COLUMNS = 3;

type RunsState =
  | { kind: 'experiments' }
  | { kind: 'runs'; experimentId: string }
  | { kind: 'run'; runId: string };

/**
 * The Runs tab: experiments, then one experiment's runs (with an MLflow
 * filter string), then one run's detail with its metric-history chart.
 */
export class RunsView extends PagedView<RunsState> {
  /** @param host - the panel, for errors, charts and cross-tab links. */
  constructor(host: IViewHost) {
    super('jl-runs-view', host, { kind: 'experiments' });
  }

  /** Show the list of experiments. */
  showExperiments(): Promise<void> {
    return this.go({ kind: 'experiments' });
  }

  /** Show one experiment's runs, with the filter typed last for it. */
  showRuns(experimentId: string): Promise<void> {
    return this.go({ kind: 'runs', experimentId });
  }

  /** Show one run's detail. */
  showRun(runId: string): Promise<void> {
    return this.go({ kind: 'run', runId });
  }

  protected render(state: RunsState, isCurrent: () => boolean): Promise<HTMLElement> {
    switch (state.kind) {
      case 'experiments':
        return this._renderExperiments();
      case 'runs':
        return this._renderRuns(state.experimentId, isCurrent);
      case 'run':
        return this._renderRun(state.runId);
    }
  }

  private async _renderExperiments(): Promise<HTMLElement> {
    const experiments = await listExperiments();
    if (experiments.length === 0) {
      return h(
        'p',
        { className: 'jl-empty' },
        'No experiments yet: log a run with jupyter_lifecycle.'
      );
    }
    return h(
      'ul',
      { className: 'jl-list jl-experiments' },
      ...experiments.map(experiment =>
        h(
          'li',
          {
            className: 'jl-experiment jl-clickable',
            title: `Experiment ${experiment.experiment_id}`,
            dataset: {
              experimentId: experiment.experiment_id,
              experimentName: experiment.name
            },
            on: { click: () => void this.showRuns(experiment.experiment_id) }
          },
          h('span', { className: 'jl-name' }, experiment.name),
          h(
            'span',
            { className: 'jl-count', title: 'runs' },
            experiment.run_count
          )
        )
      )
    );
  }

  protected async afterDraw(state: RunsState, isCurrent: () => boolean): Promise<void> {
    if (state.kind === 'run') {
      await this._drawChart(state.runId, isCurrent);
    }
  }

  /** Release the chart renderers of the page being replaced. */
  protected clear(): void {
    for (const chart of this._charts) {
      chart.dispose();
    }
    this._charts = [];
  }

  private async _renderRuns(
    experimentId: string,
    isCurrent: () => boolean
  ): Promise<HTMLElement> {
    const [experiments, runs] = await Promise.all([
      listExperiments(),
      // A bad filter must not hide the filter box: its error is shown above.
      listRuns(experimentId, this._filters.get(experimentId)).catch(error => {
        if (isCurrent()) {
          this._host.showError(error);
        }
        return null;
      })
    ]);
    const experiment = experiments.find(e => e.experiment_id === experimentId);
    const input = h('input', {
      className: 'jp-mod-styled jl-filter-input',
      type: 'search',
      value: this._filters.get(experimentId) ?? '',
      placeholder: 'metrics.acc > 0.9 and params.model = "rf"',
      title: 'An MLflow filter string'
    });
    const filter = h(
      'form',
      {
        className: 'jl-filter',
        on: {
          submit: event => {
            event.preventDefault();
            this._filters.set(experimentId, input.value);
            void this.refresh();
          }
        }
      },
      input,
      h(
        'button',
        { className: 'jp-mod-styled jp-mod-accept jl-filter-apply', type: 'submit' },
        'Filter'
      )
    );
    return h(
      'div',
      { className: 'jl-runs', dataset: { experimentId } },
      this._backLink('Experiments', () => void this.showExperiments()),
      h(
        'h2',
        { className: 'jl-heading' },
        experiment ? experiment.name : `Experiment ${experimentId}`
      ),
      h(
        'button',
        {
          className: 'jp-mod-styled jl-open-grid',
          title: 'Sort, pick columns, select and compare runs in the main area',
          on: {
            click: () =>
              void this._host.execute('jupyter-lifecycle:open-runs', { experimentIds: [experimentId] })
          }
        },
        'Open runs view'
      ),
      filter,
      runs && this._runsTable(runs)
    );
  }

  private _runsTable(list: IRunList): HTMLElement {
    const metricKeys = list.metric_keys.slice(0, METRIC_COLUMNS);
    const rows = list.runs.map(run =>
      h(
        'tr',
        {
          className: 'jl-run jl-clickable',
          dataset: { runId: run.run_id },
          title: run.run_id,
          on: { click: () => void this.showRun(run.run_id) }
        },
        h('td', { className: 'jl-name' }, run.run_name || run.run_id),
        h('td', {}, statusBadge(run.status)),
        h(
          'td',
          { className: 'jl-time', title: formatTime(run.start_time) },
          formatShortTime(run.start_time)
        ),
        ...metricKeys.map(key =>
          h(
            'td',
            { className: 'jl-number', dataset: { metric: key } },
            formatMetric(run.metrics[key])
          )
        )
      )
    );
    return h(
      'div',
      {},
      h(
        'p',
        { className: 'jl-summary' },
        list.next_page_token
          ? `The latest ${list.runs.length} runs: the runs view pages through all of them`
          : `${list.runs.length} run${list.runs.length === 1 ? '' : 's'}`
      ),
      // A sidebar is narrow: the table scrolls sideways rather than wrapping every cell.
      h(
        'div',
        { className: 'jl-table-scroll' },
        table('jl-runs-table', ['Run', 'Status', 'Started', ...metricKeys], rows)
      )
    );
  }

  private async _renderRun(runId: string): Promise<HTMLElement> {
    const detail: IRunDetail = await getRun(runId);
    const run = detail.run;
    const experimentId = run.experiment_id;
    return h(
      'div',
      { className: 'jl-run-detail', dataset: { runId } },
      this._backLink('Runs', () => void this.showRuns(experimentId)),
      h('h2', { className: 'jl-heading' }, run.run_name || run.run_id),
      keyValueTable('jl-run-info', {
        'Run ID': h('code', {}, run.run_id),
        Status: statusBadge(run.status),
        Started: formatTime(run.start_time),
        Ended: formatTime(run.end_time),
        User: run.user_id ?? '',
        Notebook: run.notebook_path ?? '',
        'Parent run': run.parent_run_id
          ? this._runLink(run.parent_run_id)
          : ''
      }, { sort: false }),
      section('jl-params', 'Parameters', keyValueTable('jl-params-table', run.params)),
      section(
        'jl-metrics',
        'Metrics',
        keyValueTable(
          'jl-metrics-table',
          Object.fromEntries(
            Object.entries(run.metrics).map(([k, v]) => [k, formatMetric(v)])
          )
        )
      ),
      section(
        'jl-chart',
        'Metric history',
        h('div', { className: 'jl-chart-host' })
      ),
      section('jl-tags', 'Tags', keyValueTable('jl-tags-table', run.tags)),
      section(
        'jl-artifacts',
        'Artifacts',
        noneIfEmpty(detail.artifacts, artifacts => this._artifactList(run.run_id, artifacts))
      ),
      section(
        'jl-logged-models',
        'Logged models',
        noneIfEmpty(detail.models, models =>
          table(
            'jl-logged-models-table',
            ['Model URI', 'Flavors'],
            models.map(m => [h('code', {}, m.model_uri), m.flavors.join(', ')])
          )
        )
      ),
      section(
        'jl-registered-versions',
        'Registered versions',
        noneIfEmpty(detail.registered_versions, versions =>
          h(
              'ul',
              { className: 'jl-list' },
              ...versions.map(v =>
                h(
                  'li',
                  {
                    className: 'jl-registered-version jl-clickable',
                    dataset: { modelName: v.name, version: String(v.version) },
                    on: { click: () => this._host.showModel(v.name) }
                  },
                  `${v.name} version ${v.version}`
                )
              )
            )
        )
      ),
      section(
        'jl-revisions',
        'Notebook revisions',
        noneIfEmpty(detail.revisions, revisions =>
          table(
            'jl-revisions-table',
            ['Revision', 'Moment'],
            revisions.map(r => [h('code', {}, r.revision_id), r.moment])
          )
        )
      )
    );
  }

  /** Fetch the run's chart spec and let JupyterLab's vega-lite renderer draw it. */
  private async _drawChart(runId: string, isCurrent: () => boolean): Promise<void> {
    const host = this.node.querySelector<HTMLElement>('.jl-chart-host');
    if (!host) {
      return;
    }
    const rendermime = this._host.rendermime;
    if (!rendermime.mimeTypes.includes(VEGALITE_MIME)) {
      host.append(
        h('p', { className: 'jl-empty' }, `No renderer for ${VEGALITE_MIME} in this JupyterLab.`)
      );
      return;
    }
    // One chart per metric, each as wide as the sidebar (width "container").
    const panels = await getRunChart(runId);
    if (!isCurrent() || !host.isConnected) {
      return;
    }
    if (panels.length === 0) {
      host.append(h('p', { className: 'jl-empty' }, 'No metrics logged.'));
      return;
    }
    for (const spec of panels) {
      const renderer = rendermime.createRenderer(VEGALITE_MIME);
      renderer.addClass('jl-chart-panel');
      this._charts.push(renderer);
      Widget.attach(renderer, host);
      await renderer.renderModel(
        rendermime.createModel({
          data: { [VEGALITE_MIME]: spec as ReadonlyPartialJSONObject }
        })
      );
    }
  }

  /** Artifacts: a file opens its preview in the main area; a folder unfolds. */
  private _artifactList(runId: string, artifacts: IArtifactFile[]): HTMLElement {
    return h(
      'ul',
      { className: 'jl-list' },
      ...artifacts.map(artifact => {
        const item: HTMLElement = h(
          'li',
          { className: 'jl-artifact jl-clickable', dataset: { path: artifact.path } },
          artifact.is_dir ? `${artifact.path}/` : artifact.path,
          artifact.file_size !== null && !artifact.is_dir
            ? h('span', { className: 'jl-count' }, formatBytes(artifact.file_size))
            : null
        );
        item.addEventListener('click', event => {
          event.stopPropagation();
          if (!artifact.is_dir) {
            void this._host.execute('jupyter-lifecycle:open-artifact', { runId, path: artifact.path });
          } else if (!item.querySelector('ul')) {
            listArtifacts(runId, artifact.path).then(
              children => item.append(this._artifactList(runId, children)),
              error => this._host.showError(error)
            );
          }
        });
        return item;
      })
    );
  }

  private _backLink(label: string, go: () => void): HTMLElement {
    return link('jl-back', `← ${label}`, go);
  }

  private _runLink(runId: string): HTMLElement {
    return link('jl-run-link', runId, () => void this.showRun(runId), { dataset: { runId } });
  }

  // Each experiment keeps the filter typed last for it: keys differ between experiments.
  private _filters = new Map<string, string>();
  private _charts: Widget[] = [];
}

/** A run status (RUNNING, FINISHED, FAILED, KILLED) as a colored badge. */
export function statusBadge(status: string): HTMLElement {
  return h(
    'span',
    { className: `jl-badge jl-status jl-status-${status.toLowerCase()}` },
    status
  );
}

function formatBytes(size: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
