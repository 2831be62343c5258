import { IEndpoint, listEndpoints, stopEndpoint } from './api';
import { formatTime, h, table } from './dom';
import { IViewHost } from './host';
import { PagedView } from './view';

/** Whole seconds as `1d 2h`, `3h 4m`, `5m 6s` or `7s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const [d, hr, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  if (d) {
    return `${d}d ${hr}h`;
  }
  if (hr) {
    return `${hr}h ${m}m`;
  }
  return m ? `${m}m ${s % 60}s` : `${s}s`;
}

/**
 * The Endpoints tab: the model servers registered in the store, whichever
 * kernel started them: model URI, version, URL, status, uptime and requests
 * served, with a Stop button. A server whose process is gone is marked dead
 * (the store reports it `DEAD`), never shown as running.
 */
export class EndpointsView extends PagedView<{ all: boolean }> {
  /** @param host - the panel, for errors. */
  constructor(host: IViewHost) {
    super('jl-endpoints-view', host, { all: false });
  }

  protected async render(state: { all: boolean }): Promise<HTMLElement> {
    const endpoints = await listEndpoints(state.all);
    const toggle = h(
      'label',
      { className: 'jl-endpoints-all' },
      h('input', {
        type: 'checkbox',
        checked: state.all,
        on: { change: () => void this.go({ all: !state.all }) }
      }),
      ' stopped ones too'
    );
    if (endpoints.length === 0) {
      return h(
        'div',
        {},
        toggle,
        h('p', { className: 'jl-empty' }, 'No endpoints: start one with jupyter_lifecycle.serve("models:/NAME@champion") or %lifecycle serve.')
      );
    }
    const now = Date.now();
    return h(
      'div',
      {},
      toggle,
      table(
        'jl-endpoints-table',
        ['Model', 'Version', 'URL', 'Status', 'Uptime', 'Requests', ''],
        endpoints.map(e => this._row(e, now))
      )
    );
  }

  private _row(e: IEndpoint, now: number): HTMLTableRowElement {
    const live = e.status === 'RUNNING' || e.status === 'STARTING';
    const uptime = live ? now - e.start_time : (e.end_time ?? e.start_time) - e.start_time;
    const error = h('span', { className: 'jl-inline-error', role: 'alert', hidden: true });
    const stop = h(
      'button',
      {
        className: 'jp-mod-styled jl-endpoint-stop',
        title: `Stop ${e.endpoint_id} (pid ${e.pid ?? '?'})`,
        on: {
          click: async () => {
            stop.disabled = true;
            try {
              await stopEndpoint(e.endpoint_id);
              await this.refresh();
            } catch (reason) {
              error.textContent = reason instanceof Error ? reason.message : String(reason);
              error.hidden = false;
              stop.disabled = false;
            }
          }
        }
      },
      'Stop'
    );
    return h(
      'tr',
      {
        className: `jl-endpoint${e.status === 'DEAD' ? ' jl-mod-dead' : ''}`,
        dataset: { endpointId: e.endpoint_id, status: e.status },
        title: `${e.endpoint_id}, started ${formatTime(e.start_time)}${e.status_message ? `: ${e.status_message}` : ''}`
      },
      h('td', {}, h('code', {}, e.model_uri)),
      h('td', {}, e.version ?? ''),
      h('td', {}, e.url && live ? h('a', { href: e.url, target: '_blank', rel: 'noopener' }, e.url) : e.url ?? ''),
      h('td', { className: 'jl-endpoint-status' }, e.status === 'DEAD' ? 'dead' : e.status.toLowerCase()),
      h('td', {}, formatDuration(uptime)),
      h('td', { className: 'jl-number jl-endpoint-requests' }, String(e.requests_served)),
      h('td', {}, live || e.status === 'DEAD' ? stop : '', error)
    );
  }
}
