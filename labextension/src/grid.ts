/**
 * The main-area Runs view: one or more experiments' runs in a virtualized
 * `@lumino/datagrid` (the grid of JupyterLab's CSV viewer), paged by the
 * server, sorted by the server (click a column header), with a column
 * picker over params, metrics and tags, MLflow's filter grammar (the
 * parser's message beside the box), status colours and multi-select rows
 * (ctrl/shift-click) that open the comparison view.
 */
import {
  BasicMouseHandler,
  BasicSelectionModel,
  DataGrid,
  DataModel,
  TextRenderer
} from '@lumino/datagrid';
import { BoxPanel, Widget } from '@lumino/widgets';

import { IExperiment, IRun, IRunList, listExperiments, queryRuns } from './api';
import { formatMetric, formatTime, h } from './dom';

/** Runs fetched per page: the grid virtualizes its rows, the server pages. */
export const PAGE_SIZE = 100;

/** Metric and param columns shown before the user picks. */
const DEFAULT_COLUMNS = 4;

/** A grid column: `attributes.*` are the run's own fields. */
interface IColumn {
  id: string;
  label: string;
  value: (run: IRun) => string;
}

const FIXED: IColumn[] = [
  { id: 'attributes.run_name', label: 'Run', value: run => run.run_name || run.run_id },
  { id: 'attributes.status', label: 'Status', value: run => run.status },
  { id: 'attributes.start_time', label: 'Started', value: run => formatTime(run.start_time) }
];

/** Row tints by run status (text stays readable in light and dark themes). */
const STATUS_COLOURS: Record<string, string> = {
  FAILED: 'rgba(220, 50, 47, 0.22)',
  KILLED: 'rgba(181, 137, 0, 0.22)',
  RUNNING: 'rgba(38, 139, 210, 0.18)',
  SCHEDULED: 'rgba(108, 113, 196, 0.18)'
};

function column(id: string): IColumn {
  const [kind, ...rest] = id.split('.');
  const key = rest.join('.');
  if (kind === 'metrics') {
    return { id, label: key, value: run => formatMetric(run.metrics[key]) };
  }
  if (kind === 'params') {
    return { id, label: key, value: run => run.params[key] ?? '' };
  }
  return { id, label: `${kind}.${key}`, value: run => run.tags[key] ?? '' };
}

/** The page of runs as the grid reads it. */
class RunsModel extends DataModel {
  runs: IRun[] = [];
  columns: IColumn[] = [...FIXED];
  offset = 0;
  order: { id: string; ascending: boolean } | null = null;

  /** Replace the rows and columns shown. */
  reset(runs: IRun[], columns: IColumn[], offset: number): void {
    this.runs = runs;
    this.columns = columns;
    this.offset = offset;
    this.emitChanged({ type: 'model-reset' });
  }

  rowCount(region: DataModel.RowRegion): number {
    return region === 'body' ? this.runs.length : 1;
  }

  columnCount(region: DataModel.ColumnRegion): number {
    return region === 'body' ? this.columns.length : 1;
  }

  data(region: DataModel.CellRegion, row: number, col: number): string {
    switch (region) {
      case 'column-header': {
        const spec = this.columns[col];
        const arrow = this.order?.id === spec.id ? (this.order.ascending ? ' ▲' : ' ▼') : '';
        return spec.label + arrow;
      }
      case 'row-header':
        return String(this.offset + row + 1);
      case 'corner-header':
        return '#';
      default:
        return this.columns[col].value(this.runs[row]);
    }
  }

  metadata(region: DataModel.CellRegion, row: number, _col: number): DataModel.Metadata {
    return region === 'body' || region === 'row-header' ? { status: this.runs[row]?.status ?? '' } : {};
  }
}

/** A click on a column header sorts (on the server); elsewhere the grid selects as usual. */
class SortingMouseHandler extends BasicMouseHandler {
  constructor(private readonly _onHeader: (column: number) => void) {
    super();
  }

  onMouseDown(grid: DataGrid, event: MouseEvent): void {
    const hit = grid.hitTest(event.clientX, event.clientY);
    // The header's edges resize columns: leave them to the grid.
    if (hit.region === 'column-header' && hit.x > 6 && hit.x < hit.width - 6) {
      this._onHeader(hit.column);
      return;
    }
    super.onMouseDown(grid, event);
  }
}

/** What the runs view needs from the application. */
export interface IRunsGridOptions {
  /** The experiments shown first (default: the most recently updated one). */
  experimentIds?: string[];
  /** Open the comparison view for these runs; it may narrow the grid to the runs it keeps. */
  compare: (runIds: string[], narrow: (runIds: string[] | null) => void) => void;
  /** Show one run's detail (the sidebar). */
  showRun: (runId: string) => void;
}

/**
 * The runs grid with its toolbar. `data-*` attributes of its node mirror
 * what it shows (run ids in order, columns, selection) for scripts and tests.
 */
export class RunsGrid extends BoxPanel {
  constructor(private readonly _options: IRunsGridOptions) {
    super({ direction: 'top-to-bottom', spacing: 0 });
    this.addClass('jl-runs-grid');
    this.title.label = 'Runs';
    this.title.closable = true;
    this._experimentIds = _options.experimentIds ?? [];

    this._grid = new DataGrid({
      defaultSizes: { rowHeight: 24, columnWidth: 120, rowHeaderWidth: 56, columnHeaderHeight: 28 },
      headerVisibility: 'all',
      stretchLastColumn: true
    });
    this._grid.dataModel = this._model;
    this._selection = new BasicSelectionModel({ dataModel: this._model, selectionMode: 'row' });
    this._grid.selectionModel = this._selection;
    this._grid.mouseHandler = new SortingMouseHandler(col => void this._sortBy(col));
    const tint = ({ metadata }: { metadata: DataModel.Metadata }) =>
      STATUS_COLOURS[String(metadata.status)] ?? '';
    this._grid.cellRenderers.update({
      body: new TextRenderer({ backgroundColor: tint, textColor: '#111' }),
      'row-header': new TextRenderer({ backgroundColor: tint, textColor: '#555' })
    });
    this._selection.changed.connect(() => this._selectionChanged());
    this._grid.node.addEventListener('dblclick', event => {
      const hit = this._grid.hitTest(event.clientX, event.clientY);
      const run = hit.region === 'body' ? this._model.runs[hit.row] : undefined;
      if (run) {
        this._options.showRun(run.run_id);
      }
    });

    // The picker drops over the grid with fixed coordinates: an absolute popup
    // would be clipped by (or scroll) the panel around it.
    this._picker.addEventListener('toggle', () => placePopup(this._picker));
    const toolbar = new Widget({ node: this._toolbar() });
    toolbar.addClass('jl-grid-toolbar');
    BoxPanel.setSizeBasis(toolbar, 0);
    BoxPanel.setStretch(toolbar, 0);
    BoxPanel.setStretch(this._grid, 1);
    this.addWidget(toolbar);
    this.addWidget(this._grid);
    void this.load();
  }

  /** Take the column picker's popup back from the page's body. */
  dispose(): void {
    this._picker.open = false;
    placePopup(this._picker);
    super.dispose();
  }

  /** The runs shown, in order. */
  get runs(): IRun[] {
    return this._model.runs;
  }

  /** Load the experiments, then the first page. */
  async load(): Promise<void> {
    this._experiments = await listExperiments().catch(() => []);
    if (this._experimentIds.length === 0 && this._experiments.length > 0) {
      this._experimentIds = [this._experiments[0].experiment_id];
    }
    this._fillExperiments();
    await this._fetch(0);
  }

  /** Show only these runs of the page (the comparison's brushing); `null` shows them all. */
  narrow(runIds: string[] | null): void {
    this._narrowed = runIds === null ? null : new Set(runIds);
    this._show();
  }

  private _toolbar(): HTMLElement {
    const apply = (event: Event) => {
      event.preventDefault();
      this._filter = this._filterInput.value;
      void this._fetch(0);
    };
    return h(
      'div',
      {},
      h(
        'div',
        { className: 'jl-grid-row' },
        h('label', { className: 'jl-grid-label' }, 'Experiments '),
        this._experimentSelect,
        h(
          'form',
          { className: 'jl-grid-filter', on: { submit: apply } },
          this._filterInput,
          h('button', { className: 'jp-mod-styled jp-mod-accept jl-grid-filter-apply', type: 'submit' }, 'Filter'),
          this._filterError
        )
      ),
      h(
        'div',
        { className: 'jl-grid-row' },
        this._picker,
        h(
          'button',
          {
            className: 'jp-mod-styled jl-grid-prev',
            title: 'Previous page',
            on: { click: () => void this._fetch(this._page - 1) }
          },
          '‹ Prev'
        ),
        this._pageLabel,
        h(
          'button',
          {
            className: 'jp-mod-styled jl-grid-next',
            title: 'Next page',
            on: { click: () => void this._fetch(this._page + 1) }
          },
          'Next ›'
        ),
        this._compareButton,
        this._narrowNote
      )
    );
  }

  private _fillExperiments(): void {
    this._experimentSelect.replaceChildren(
      ...this._experiments.map(e =>
        h(
          'option',
          {
            value: e.experiment_id,
            selected: this._experimentIds.includes(e.experiment_id)
          },
          `${e.name} (${e.run_count})`
        )
      )
    );
    const names = this._experiments
      .filter(e => this._experimentIds.includes(e.experiment_id))
      .map(e => e.name);
    this.title.label = `Runs: ${names.join(', ') || 'none'}`;
  }

  /** Fetch page `page` (0-based) with the current filter, order and columns. */
  private async _fetch(page: number): Promise<void> {
    if (page < 0 || (page > 0 && !this._tokens[page])) {
      return;
    }
    if (this._experimentIds.length === 0) {
      this._pageLabel.textContent = 'No experiments';
      return;
    }
    if (page === 0) {
      this._tokens = [null];
    }
    const generation = ++this._generation;
    this.node.dataset.loading = 'true';
    let list: IRunList;
    try {
      list = await queryRuns({
        experimentIds: this._experimentIds,
        filter: this._filter,
        orderBy: this._model.order
          ? [`${this._model.order.id} ${this._model.order.ascending ? 'ASC' : 'DESC'}`]
          : undefined,
        maxResults: PAGE_SIZE,
        pageToken: this._tokens[page],
        columns: this._chosen
      });
    } catch (error) {
      if (generation === this._generation) {
        // The parser's message, beside the box that caused it.
        this._filterError.textContent = error instanceof Error ? error.message : String(error);
        this._filterError.hidden = false;
        delete this.node.dataset.loading;
      }
      return;
    }
    if (generation !== this._generation) {
      return;
    }
    this._filterError.hidden = true;
    this._filterError.textContent = '';
    this._page = page;
    this._tokens[page + 1] = list.next_page_token;
    this._keys = {
      params: union(this._keys.params, list.param_keys),
      metrics: union(this._keys.metrics, list.metric_keys),
      tags: union(this._keys.tags, list.tag_keys)
    };
    if (this._chosen === undefined) {
      // First page: a few metrics and params, then the user picks.
      this._chosen = [
        ...list.metric_keys.slice(0, DEFAULT_COLUMNS).map(k => `metrics.${k}`),
        ...list.param_keys.slice(0, DEFAULT_COLUMNS).map(k => `params.${k}`)
      ];
    }
    this._fillPicker();
    this._pageRuns = list.runs;
    const first = page * PAGE_SIZE;
    this._pageLabel.textContent =
      list.runs.length === 0
        ? 'No runs'
        : `Runs ${first + 1}–${first + list.runs.length}${list.next_page_token ? '' : ' (last page)'}`;
    this._show();
    delete this.node.dataset.loading;
  }

  private _show(): void {
    const runs = this._narrowed
      ? this._pageRuns.filter(run => this._narrowed!.has(run.run_id))
      : this._pageRuns;
    this._selection.clear();
    this._model.reset(runs, [...FIXED, ...(this._chosen ?? []).map(column)], this._page * PAGE_SIZE);
    this._narrowNote.textContent = this._narrowed
      ? `Showing the ${runs.length} runs kept by the comparison's brushes`
      : '';
    this.node.dataset.runIds = runs.map(r => r.run_id).join(',');
    this.node.dataset.columns = this._model.columns.map(c => c.id).join(',');
    this._selectionChanged();
  }

  private _fillPicker(): void {
    const list: HTMLElement = (this._picker as any)._jlList ?? this._picker.querySelector('.jl-picker-list')!;
    const group = (kind: 'params' | 'metrics' | 'tags', title: string) =>
      h(
        'fieldset',
        { className: `jl-picker-${kind}` },
        h('legend', {}, title),
        ...this._keys[kind].map(key => {
          const id = `${kind}.${key}`;
          const box = h('input', {
            type: 'checkbox',
            checked: (this._chosen ?? []).includes(id),
            dataset: { column: id },
            on: {
              change: () => {
                const chosen = (this._chosen ?? []).filter(c => c !== id);
                this._chosen = box.checked ? [...chosen, id] : chosen;
                void this._fetch(this._page);
              }
            }
          });
          return h('label', { className: 'jl-picker-item' }, box, ` ${key}`);
        })
      );
    list.replaceChildren(group('metrics', 'Metrics'), group('params', 'Params'), group('tags', 'Tags'));
  }

  private async _sortBy(col: number): Promise<void> {
    const id = this._model.columns[col]?.id;
    if (!id) {
      return;
    }
    const current = this._model.order;
    // A first click sorts metrics best-first (descending), names A-Z; a second click flips.
    const ascending =
      current?.id === id ? !current.ascending : !id.startsWith('metrics.') && id !== 'attributes.start_time';
    this._model.order = { id, ascending };
    this.node.dataset.order = `${id} ${ascending ? 'ASC' : 'DESC'}`;
    await this._fetch(0);
  }

  private _selectedIds(): string[] {
    const rows = new Set<number>();
    for (const s of this._selection.selections()) {
      for (let r = Math.min(s.r1, s.r2); r <= Math.max(s.r1, s.r2); r++) {
        rows.add(r);
      }
    }
    return [...rows].sort((a, b) => a - b).map(r => this._model.runs[r]?.run_id).filter(Boolean) as string[];
  }

  private _selectionChanged(): void {
    const ids = this._selectedIds();
    this.node.dataset.selected = ids.join(',');
    this._compareButton.disabled = ids.length < 2;
    this._compareButton.textContent = `Compare ${ids.length} runs`;
  }

  private readonly _model = new RunsModel();
  private readonly _grid: DataGrid;
  private readonly _selection: BasicSelectionModel;
  private _experiments: IExperiment[] = [];
  private _experimentIds: string[];
  private _filter = '';
  private _chosen: string[] | undefined = undefined;
  private _keys = { params: [] as string[], metrics: [] as string[], tags: [] as string[] };
  private _tokens: (string | null)[] = [null];
  private _page = 0;
  private _pageRuns: IRun[] = [];
  private _narrowed: Set<string> | null = null;
  private _generation = 0;
  private readonly _filterInput = h('input', {
    className: 'jp-mod-styled jl-grid-filter-input',
    type: 'search',
    placeholder: "metrics.acc > 0.9 and params.model = 'rf'",
    title: 'An MLflow filter string'
  });
  private readonly _filterError = h('span', { className: 'jl-grid-filter-error jl-inline-error', role: 'alert', hidden: true });
  private readonly _experimentSelect = h('select', {
    className: 'jp-mod-styled jl-grid-experiments',
    multiple: true,
    size: 1,
    title: 'Experiments (ctrl-click for several)',
    on: {
      change: () => {
        this._experimentIds = [...this._experimentSelect.selectedOptions].map(o => o.value);
        this._fillExperiments();
        void this._fetch(0);
      }
    }
  });
  private readonly _picker = h(
    'details',
    { className: 'jl-picker' },
    h('summary', { className: 'jp-mod-styled jl-picker-toggle' }, 'Columns'),
    h('div', { className: 'jl-picker-list' })
  );
  private readonly _pageLabel = h('span', { className: 'jl-grid-page' });
  private readonly _narrowNote = h('span', { className: 'jl-grid-narrowed' });
  private readonly _compareButton = h('button', {
    className: 'jp-mod-styled jp-mod-accept jl-grid-compare',
    disabled: true,
    on: {
      click: () => {
        const ids = this._selectedIds();
        if (ids.length >= 2) {
          this._options.compare(ids, runIds => this.narrow(runIds));
        }
      }
    }
  }, 'Compare');
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

/**
 * Show a `<details>` popup's list just under its summary, moved to the page's
 * body while open: inside the panel it would lie under the grid's canvas.
 */
export function placePopup(details: HTMLDetailsElement): void {
  const list = (details as any)._jlList ?? details.querySelector<HTMLElement>('.jl-picker-list');
  (details as any)._jlList = list;
  if (!list) {
    return;
  }
  if (details.open) {
    const below = details.querySelector('summary')!.getBoundingClientRect();
    list.style.top = `${below.bottom + 2}px`;
    list.style.left = `${below.left}px`;
    document.body.append(list);
  } else {
    details.append(list);
  }
}
