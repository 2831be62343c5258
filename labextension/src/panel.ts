import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { refreshIcon } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { EndpointsView } from './endpoints';
import { ApiError } from './handler';
import { h } from './dom';
import { IViewHost } from './host';
import { lifecycleIcon } from './icon';
import { ModelsView } from './models';
import { RunsView } from './runs';
import { SyncView } from './sync';

/** The sidebar's tabs. */
export type Tab = 'runs' | 'models' | 'endpoints' | 'sync';

/** What the panel needs from the application. */
export interface ILifecyclePanelOptions {
  /** Renders the run charts. */
  rendermime: IRenderMimeRegistry;
  /** Opens a file below the server root (`docmanager:open`). */
  openPath: (path: string) => Promise<unknown>;
  /** Runs a JupyterLab command (the main-area views). */
  execute: (command: string, args: Record<string, unknown>) => Promise<unknown>;
}

/**
 * The Lifecycle sidebar: a header with a refresh button, the Runs, Models,
 * Endpoints and Sync tabs, and one place where API errors are shown. It renders only what the
 * server extension's REST API returns.
 */
export class LifecyclePanel extends Widget implements IViewHost {
  /** Renders the run charts. */
  readonly rendermime: IRenderMimeRegistry;

  /** @param options - the application services the panel uses. */
  constructor(options: ILifecyclePanelOptions) {
    super();
    this.rendermime = options.rendermime;
    this._openPath = options.openPath;
    this._execute = options.execute;
    this.addClass('jl-sidebar');
    this.title.icon = lifecycleIcon;
    this.title.caption = 'Lifecycle';
    this._runs = new RunsView(this);
    this._models = new ModelsView(this);
    this._endpoints = new EndpointsView(this);
    this._sync = new SyncView(this);
    this._tabs = {
      runs: this._tabButton('runs', 'Runs'),
      models: this._tabButton('models', 'Models'),
      endpoints: this._tabButton('endpoints', 'Endpoints'),
      sync: this._tabButton('sync', 'Sync')
    };
    this.node.append(
      h(
        'div',
        { className: 'jl-header' },
        h('h2', { className: 'jl-title' }, 'Lifecycle'),
        h(
          'button',
          {
            className: 'jp-ToolbarButtonComponent jl-refresh',
            title: 'Refresh',
            on: { click: () => void this.refresh() }
          },
          refreshIcon.element({ tag: 'span' })
        )
      ),
      h(
        'div',
        { className: 'jl-tabs', role: 'tablist' },
        this._tabs.runs,
        this._tabs.models,
        this._tabs.endpoints,
        this._tabs.sync
      ),
      this._error,
      this._runs.node,
      this._models.node,
      this._endpoints.node,
      this._sync.node
    );
    this._setTab('runs');
  }

  /** The tab shown. */
  get tab(): Tab {
    return this._tab;
  }

  /** Show a tab and fetch its current page. */
  selectTab(tab: Tab): Promise<void> {
    this._setTab(tab);
    return this.refresh();
  }

  /** Fetch the current page of the tab shown again. */
  refresh(): Promise<void> {
    return this._views[this._tab].refresh();
  }

  /** Show an error above the tab's content; an `ApiError` shows the server's message. */
  showError(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this._error.textContent = message;
    this._error.dataset.errorCode =
      error instanceof ApiError ? error.errorCode : 'CLIENT_ERROR';
    this._error.hidden = false;
    // Logged too, with the stack, for whoever debugs the extension.
    console.error('jupyter-lifecycle:', error);
  }

  /** Hide the error shown. */
  clearError(): void {
    this._error.hidden = true;
    this._error.textContent = '';
    delete this._error.dataset.errorCode;
  }

  /** Open a file below the server root in the main area. */
  openPath(path: string): Promise<unknown> {
    return this._openPath(path);
  }

  /** Run a JupyterLab command. */
  execute(command: string, args: Record<string, unknown>): Promise<unknown> {
    return this._execute(command, args);
  }

  /** Switch to the Models tab, on one model's versions. */
  showModel(name: string): void {
    this._setTab('models');
    void this._models.showModel(name);
  }

  /** Switch to the Runs tab, on one run's detail. */
  showRun(runId: string): void {
    this._setTab('runs');
    void this._runs.showRun(runId);
  }

  /** Release the chart renderers. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._runs.dispose();
    super.dispose();
  }

  /** The store is read when the panel is first shown, not at JupyterLab start-up. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this._loaded) {
      this._loaded = true;
      void this.refresh();
    }
  }

  private _tabButton(tab: Tab, label: string): HTMLButtonElement {
    return h(
      'button',
      {
        className: 'jl-tab',
        role: 'tab',
        dataset: { tab },
        on: { click: () => void this.selectTab(tab) }
      },
      label
    );
  }

  private _setTab(tab: Tab): void {
    this._tab = tab;
    this.clearError();
    this.node.dataset.tab = tab;
    for (const [name, button] of Object.entries(this._tabs)) {
      button.classList.toggle('jl-mod-active', name === tab);
      button.setAttribute('aria-selected', String(name === tab));
    }
    this._runs.node.hidden = tab !== 'runs';
    this._models.node.hidden = tab !== 'models';
    this._endpoints.node.hidden = tab !== 'endpoints';
    this._sync.node.hidden = tab !== 'sync';
  }

  private readonly _openPath: (path: string) => Promise<unknown>;
  private readonly _execute: (command: string, args: Record<string, unknown>) => Promise<unknown>;
  private readonly _runs: RunsView;
  private readonly _models: ModelsView;
  private readonly _endpoints: EndpointsView;
  private readonly _sync: SyncView;
  private get _views(): Record<Tab, { refresh(): Promise<void> }> {
    return { runs: this._runs, models: this._models, endpoints: this._endpoints, sync: this._sync };
  }
  private readonly _tabs: Record<Tab, HTMLButtonElement>;
  private readonly _error = h('div', {
    className: 'jl-error',
    role: 'alert',
    hidden: true
  });
  private _tab: Tab = 'runs';
  private _loaded = false;
}
