import { requestAPI } from './handler';
import { h } from './dom';
import { IViewHost } from './host';
import { PagedView } from './view';

/** One object in a comparison: its kind (`run`, `experiment`...) and a readable name. */
export interface ISyncEntry {
  kind: string;
  label: string;
}

/** `GET sync/status`: what differs between the store and an MLflow tracking server. */
export interface ISyncStatus {
  remote: string;
  local_only: ISyncEntry[];
  remote_only: ISyncEntry[];
  changed: ISyncEntry[];
  conflicts: string[];
  errors: string[];
}

/** `POST sync/push`'s report. */
export interface ISyncReport {
  ok: boolean;
  text: string;
  conflicts: string[];
  errors: string[];
}

type SyncState = { uri: string; report?: ISyncReport };

/** Where the last server typed is kept, so the tab opens on it. */
const URI_KEY = 'jupyter-lifecycle:sync-uri';

/** `GET sync/status?uri=...` */
export function syncStatus(uri: string): Promise<ISyncStatus> {
  return requestAPI<ISyncStatus>(`sync/status?${new URLSearchParams({ uri })}`);
}

/** `POST sync/push` */
export async function syncPush(uri: string): Promise<ISyncReport> {
  const answer = await requestAPI<{ report: ISyncReport }>('sync/push', {
    method: 'POST',
    body: JSON.stringify({ uri })
  });
  return answer.report;
}

/**
 * The Sync tab: a tracking server's URI, then what is only here, only there
 * and changed since the last push (a dry run on the server extension), with
 * a Push button and the push's report.
 */
export class SyncView extends PagedView<SyncState> {
  /** @param host - the panel, for errors. */
  constructor(host: IViewHost) {
    super('jl-sync-view', host, { uri: localStorage.getItem(URI_KEY) ?? '' });
  }

  protected async render(state: SyncState): Promise<HTMLElement> {
    const form = this._form(state.uri);
    if (!state.uri) {
      return h(
        'div',
        {},
        form,
        h('p', { className: 'jl-empty' }, 'Give an MLflow tracking server, e.g. http://mlflow.internal:5000.')
      );
    }
    const status = await syncStatus(state.uri);
    const push = h(
      'button',
      {
        className: 'jp-mod-styled jp-mod-accept jl-sync-push',
        on: {
          click: () => {
            push.disabled = true;
            push.textContent = 'Pushing…';
            void this._push(state.uri);
          }
        }
      },
      'Push'
    );
    return h(
      'div',
      {},
      form,
      this._section('local-only', 'Only here (a push creates them)', status.local_only),
      this._section('changed', 'Changed here since the last push', status.changed),
      this._section('remote-only', 'Only on the server', status.remote_only),
      ...[...status.conflicts, ...status.errors].map(text => h('p', { className: 'jl-sync-problem' }, text)),
      push,
      state.report
        ? h('pre', { className: 'jl-sync-report', dataset: { ok: String(state.report.ok) } }, state.report.text)
        : null
    );
  }

  private async _push(uri: string): Promise<void> {
    try {
      const report = await syncPush(uri);
      await this.go({ uri, report });
    } catch (error) {
      this._host.showError(error);
      await this.go({ uri });
    }
  }

  private _form(uri: string): HTMLElement {
    const input = h('input', {
      className: 'jp-mod-styled jl-sync-uri',
      type: 'url',
      placeholder: 'http://mlflow.internal:5000',
      value: uri
    });
    const compare = () => {
      const value = input.value.trim();
      localStorage.setItem(URI_KEY, value);
      void this.go({ uri: value });
    };
    input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        compare();
      }
    });
    return h(
      'div',
      { className: 'jl-sync-form' },
      input,
      h('button', { className: 'jp-mod-styled jl-sync-compare', on: { click: compare } }, 'Compare')
    );
  }

  private _section(name: string, title: string, entries: ISyncEntry[]): HTMLElement {
    return h(
      'section',
      { className: 'jl-sync-section', dataset: { section: name, count: String(entries.length) } },
      h('h3', {}, `${title}: ${entries.length}`),
      h(
        'ul',
        { className: 'jl-list' },
        ...entries.map(entry =>
          h('li', { dataset: { kind: entry.kind } }, h('span', { className: 'jl-sync-kind' }, entry.kind), ' ', entry.label)
        )
      )
    );
  }
}
