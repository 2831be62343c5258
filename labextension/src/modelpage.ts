/**
 * Model pages in the main area: a registered model's versions as a compact
 * table, and a version page (description, signature, requirements, lineage,
 * metrics, transition requests with approve/reject, the deployment job's
 * tasks, activity, one action bar). A refused action shows the server's message next to its control.
 */
import { Widget } from '@lumino/widgets';

import {
  createScoringNotebook,
  getModel,
  getVersion,
  IDeploymentTaskRun,
  IModelDetail,
  IVersionDetail,
  setAlias,
  setVersionDescription,
  STAGES,
  transitionRequest,
  transitionStage
} from './api';
import { rounded } from './compare';
import { formatTime, h, keyValueTable, link, noneIfEmpty, section, table } from './dom';

/** What a model page needs from the application. */
export interface IModelPageOptions {
  name: string;
  /** A version page; the versions table when left out. */
  version?: number;
  /** Open a file below the server root (the scoring notebook). */
  openPath: (path: string) => Promise<unknown>;
  /** Show a run (the sidebar's run detail). */
  showRun: (runId: string) => void;
}

/**
 * An action button with its error beside it: a refused action says why
 * right there, not at the top of a scrolled page.
 */
function action(
  className: string,
  label: string,
  run: (error: HTMLElement) => Promise<void>
): HTMLElement {
  const error = h('span', { className: 'jl-inline-error', role: 'alert', hidden: true });
  const button = h(
    'button',
    {
      className: `jp-mod-styled ${className}`,
      on: {
        click: async () => {
          error.hidden = true;
          error.textContent = '';
          button.disabled = true;
          try {
            await run(error);
          } catch (reason) {
            error.textContent = reason instanceof Error ? reason.message : String(reason);
            error.hidden = false;
          } finally {
            button.disabled = false;
          }
        }
      }
    },
    label
  );
  return h('span', { className: `jl-action ${className}-group` }, button, error);
}

/** A registered model's page: the versions table, or one version's page. */
export class ModelPage extends Widget {
  constructor(private readonly _options: IModelPageOptions) {
    super();
    this.addClass('jl-model-page');
    this.title.closable = true;
    this._version = _options.version;
    void this.refresh();
  }

  /** Fetch and draw the page again. */
  async refresh(): Promise<void> {
    const name = this._options.name;
    this.node.dataset.loading = 'true';
    try {
      if (this._version === undefined) {
        this.title.label = `Model ${name}`;
        this._draw(this._versionsPage(await getModel(name)));
      } else {
        this.title.label = `${name} v${this._version}`;
        this._draw(this._versionPage(await getVersion(name, this._version)));
      }
    } catch (error) {
      this._draw(h('p', { className: 'jl-error', role: 'alert' }, error instanceof Error ? error.message : String(error)));
    }
  }

  private _version: number | undefined;

  private _draw(content: HTMLElement): void {
    this.node.replaceChildren(content);
    delete this.node.dataset.loading;
  }

  private _versionsPage(detail: IModelDetail): HTMLElement {
    const name = detail.model.name;
    // Key metrics: those most versions' runs have, at most four.
    const counts = new Map<string, number>();
    for (const v of detail.versions) {
      for (const key of Object.keys(v.metrics ?? {})) {
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    const keys = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || a.localeCompare(b)).slice(0, 4);
    return h(
      'div',
      { className: 'jl-model-versions-page', dataset: { modelName: name } },
      h('h2', { className: 'jl-heading' }, name),
      detail.model.description ? h('p', { className: 'jl-description' }, detail.model.description) : null,
      table(
        'jl-versions-table',
        ['Version', 'Stage', 'Aliases', 'Created', 'Source run', ...keys, 'Description'],
        detail.versions.map(v =>
          h(
            'tr',
            { dataset: { version: String(v.version) } },
            h('td', {}, link('jl-version-link', `v${v.version}`, () => this._go(v.version))),
            h('td', {}, v.current_stage),
            h('td', {}, v.aliases.map(a => `@${a}`).join(' ')),
            h('td', {}, formatTime(v.creation_timestamp)),
            h('td', {}, v.run_id ? link('jl-run-link', v.run_id.slice(0, 8), () => this._options.showRun(v.run_id!)) : ''),
            ...keys.map(key => h('td', { className: 'jl-number', dataset: { metric: key } }, rounded(v.metrics?.[key]))),
            h('td', { className: 'jl-description' }, v.description ?? '')
          )
        )
      )
    );
  }

  private _go(version: number | undefined): void {
    this._version = version;
    void this.refresh();
  }

  private _versionPage(detail: IVersionDetail): HTMLElement {
    const v = detail.version;
    const name = v.name;
    const after = (d: IVersionDetail) => this._draw(this._versionPage(d));
    // The action bar: alias, stage, transition request, scoring notebook.
    const aliasInput = h('input', { className: 'jp-mod-styled jl-alias-input', placeholder: 'alias', size: 12 });
    const stageSelect = h('select', { className: 'jp-mod-styled jl-stage-select' }, ...STAGES.map(s => h('option', { value: s, selected: s === v.current_stage }, s)));
    const requestStage = h('select', { className: 'jp-mod-styled jl-request-stage' }, ...STAGES.filter(s => s !== 'None').map(s => h('option', { value: s }, s)));
    const requestComment = h('input', { className: 'jp-mod-styled jl-request-comment', placeholder: 'comment', size: 16 });
    const bar = h(
      'div',
      { className: 'jl-action-bar' },
      aliasInput,
      action('jl-set-alias', 'Set alias', async () => {
        await setAlias(name, aliasInput.value.trim(), v.version);
        after(await getVersion(name, v.version));
      }),
      stageSelect,
      action('jl-transition', 'Move to stage', async () => {
        await transitionStage(name, v.version, stageSelect.value);
        after(await getVersion(name, v.version));
      }),
      requestStage,
      requestComment,
      action('jl-request', 'Request transition', async () => {
        after(await transitionRequest(name, v.version, 'request', requestStage.value, requestComment.value));
      }),
      action('jl-scoring', 'Scoring notebook', async () => {
        await this._options.openPath(await createScoringNotebook(v.model_uri));
      })
    );
    const description = h('textarea', { className: 'jp-mod-styled jl-description-input', rows: 3, value: v.description ?? '' });
    const pending = detail.transition_requests.filter(r => r.status === 'PENDING');
    return h(
      'div',
      { className: 'jl-version-page', dataset: { modelName: name, version: String(v.version) } },
      link('jl-back', `← ${name}: all versions`, () => this._go(undefined)),
      h('h2', { className: 'jl-heading' }, `${name} version ${v.version}`),
      bar,
      keyValueTable(
        'jl-version-info',
        {
          Stage: v.current_stage,
          Aliases: v.aliases.map(a => `@${a}`).join(' '),
          Created: formatTime(v.creation_timestamp),
          'Created by': v.user_id ?? '',
          'Model URI': h('code', {}, v.model_uri),
          Source: h('code', {}, v.source),
          Flavors: detail.flavors.join(', ')
        },
        { sort: false }
      ),
      section(
        'jl-version-description',
        'Description',
        description,
        action('jl-save-description', 'Save description', async () => {
          after(await setVersionDescription(name, v.version, description.value));
        })
      ),
      section(
        'jl-transition-requests',
        `Transition requests (${pending.length} pending)`,
        noneIfEmpty(detail.transition_requests, requests =>
          table(
            'jl-requests-table',
            ['To stage', 'Status', 'By', 'Comment', 'Requested', ''],
            requests.map(r =>
              h(
                'tr',
                { dataset: { requestId: r.request_id, stage: r.to_stage, status: r.status } },
                h('td', {}, r.to_stage),
                h('td', {}, r.status),
                h('td', {}, r.user_id ?? ''),
                h('td', {}, r.comment ?? ''),
                h('td', {}, formatTime(r.creation_timestamp)),
                h(
                  'td',
                  {},
                  r.status === 'PENDING'
                    ? h(
                        'span',
                        {},
                        action('jl-approve', 'Approve', async () => after(await transitionRequest(name, v.version, 'approve', r.to_stage))),
                        action('jl-reject', 'Reject', async () => after(await transitionRequest(name, v.version, 'reject', r.to_stage)))
                      )
                    : ''
                )
              )
            )
          )
        )
      ),
      section('jl-deployment-job', 'Deployment job', this._deploymentJob(detail)),
      section(
        'jl-version-metrics',
        'Metrics of the source run',
        keyValueTable('jl-version-metrics-table', Object.fromEntries(Object.entries(detail.metrics).map(([k, m]) => [k, rounded(m)])))
      ),
      section('jl-signature', 'Signature', signatureTable(detail.signature)),
      section(
        'jl-requirements',
        'Requirements',
        noneIfEmpty(detail.requirements, reqs => h('ul', { className: 'jl-list' }, ...reqs.map(r => h('li', {}, h('code', {}, r)))))
      ),
      section('jl-lineage', 'Lineage', this._lineage(detail)),
      section(
        'jl-activity',
        'Activity',
        noneIfEmpty(detail.activity, entries =>
          table(
            'jl-activity-table',
            ['When', 'What', 'By', 'From', 'To', 'Comment'],
            entries.map(a => [formatTime(a.timestamp), a.activity_type.toLowerCase().replace(/_/g, ' '), a.user_id ?? '', a.from_stage ?? '', a.to_stage ?? '', a.comment ?? ''])
          )
        )
      )
    );
  }

  /** The latest deployment job run's tasks with their status and executed notebooks; older runs by their state. */
  private _deploymentJob(detail: IVersionDetail): HTMLElement {
    const [latest, ...older] = detail.deployment_job_runs;
    if (!latest) {
      return h('p', { className: 'jl-empty' }, 'No deployment job run (set one with client.set_deployment_job or %lifecycle deploy-job).');
    }
    const notebookCell = (t: IDeploymentTaskRun) => {
      if (t.output_path) {
        return link('jl-task-notebook', t.output_path.split('/').pop() ?? t.output_path, () => void this._options.openPath(t.output_path!), { title: t.output_notebook ?? '' });
      }
      return t.output_notebook ? h('code', { className: 'jl-task-notebook' }, t.output_notebook) : '';
    };
    return h(
      'div',
      { className: 'jl-job-run', dataset: { runId: latest.run_id, status: latest.status } },
      h(
        'p',
        { className: 'jl-job-status' },
        `Run ${latest.run_id.slice(0, 12)}: ${latest.status}`,
        latest.current_task_name ? ` (task ${latest.current_task_name})` : '',
        `, started ${formatTime(latest.creation_timestamp)}`
      ),
      latest.error ? h('p', { className: 'jl-error' }, latest.error) : null,
      table(
        'jl-job-tasks-table',
        ['Task', 'Status', 'Started', 'Ended', 'Executed notebook', 'Error'],
        latest.tasks.map(t =>
          h(
            'tr',
            { dataset: { task: t.name, status: t.status } },
            h('td', {}, t.name),
            h('td', { className: 'jl-task-status' }, t.status),
            h('td', {}, formatTime(t.start_timestamp)),
            h('td', {}, formatTime(t.end_timestamp)),
            h('td', {}, notebookCell(t)),
            h('td', { className: 'jl-task-error' }, t.error ?? '')
          )
        )
      ),
      older.length ? h('p', { className: 'jl-note' }, `Earlier runs: ${older.map(r => `${r.run_id.slice(0, 12)} ${r.status}`).join(', ')}`) : null
    );
  }

  private _lineage(detail: IVersionDetail): HTMLElement {
    const lineage = detail.lineage;
    const run = lineage.run;
    const rows: Record<string, HTMLElement | string> = {
      Run: run ? link('jl-run-link', `${run.run_name || run.run_id} (${run.status})`, () => this._options.showRun(run.run_id)) : 'none',
      Notebook: lineage.notebook_path ?? '',
      'Revision at start': lineage.revisions.start?.revision_id?.slice(0, 12) ?? '',
      'Revision at end': lineage.revisions.end?.revision_id?.slice(0, 12) ?? '',
      'Cells run': String(lineage.cell_count),
      Datasets: lineage.datasets.map(d => String(d.name ?? d.digest ?? '')).join(', ')
    };
    return h('div', {}, keyValueTable('jl-lineage-table', rows, { sort: false }), ...lineage.notes.map(n => h('p', { className: 'jl-note' }, n)));
  }
}

function signatureTable(signature: IVersionDetail['signature']): HTMLElement {
  if (!signature) {
    return h('p', { className: 'jl-empty' }, 'None (log the model with an input example or a signature)');
  }
  const rows: (string | HTMLElement)[][] = [];
  for (const part of ['inputs', 'outputs', 'params'] as const) {
    const columns = signature[part];
    if (Array.isArray(columns)) {
      for (const c of columns as Record<string, unknown>[]) {
        rows.push([part, String(c.name ?? ''), String(c.type ?? (c['tensor-spec'] ? 'tensor' : '')), c.required === false ? 'optional' : '']);
      }
    }
  }
  return table('jl-signature-table', ['Part', 'Name', 'Type', ''], rows);
}
