/**
 * The comparison view of selected runs: metric charts in a grid (vega-lite
 * drawn by JupyterLab's own renderer, offline), parallel coordinates whose
 * per-axis brushes keep only some runs (and narrow the runs grid), a params
 * table marking only the cells that differ from the first run, and a metrics
 * table with last values (min and max only where the history varies), a
 * scatter plot of any two params or metrics coloured by a param, and a
 * smoothing slider (the debiased moving average over the faint raw line).
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { compareRuns, IComparison, IRun } from './api';
import { h, table } from './dom';
import { placePopup } from './grid';

/** JupyterLab renders this mime type itself (vega-lite v5), offline. */
export const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';

/** Colours of the runs, in order (Tableau 10, as vega-lite's default). */
const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

type XAxis = 'step' | 'time' | 'relative';

/** A number rounded for people: 4 significant digits, integers as they are. */
export function rounded(value: number | null | undefined): string {
  if (value === null) {
    return 'NaN';
  }
  if (value === undefined) {
    return '';
  }
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

/**
 * A vega-lite spec of one metric across runs. A metric with one value per
 * run is drawn as points (a line of one point draws nothing).
 */
export function metricSpec(
  key: string,
  data: IComparison,
  names: Map<string, string>,
  x: XAxis,
  log: boolean,
  smoothing = 0
): Record<string, unknown> {
  const values: Record<string, unknown>[] = [];
  let longest = 0;
  for (const [runId, history] of Object.entries(data.histories[key] ?? {})) {
    longest = Math.max(longest, history.points.length);
    const start = data.runs.find(r => r.run_id === runId)?.start_time ?? history.points[0]?.[1] ?? 0;
    const kept = history.points.filter(([, , value]) => value !== null && !(log && value <= 0));
    // NaN/inf, and non-positive values on a log scale, have no place on the axis
    const smoothed = smooth(kept.map(([, , value]) => value as number), smoothing);
    kept.forEach(([step, time, value], i) => {
      values.push({ run: names.get(runId) ?? runId, step, time, relative: (time - start) / 1000, value, smoothed: smoothed[i] });
    });
  }
  const xField =
    x === 'step'
      ? { field: 'step', type: 'quantitative', title: 'step' }
      : x === 'time'
        ? { field: 'time', type: 'temporal', title: 'time' }
        : { field: 'relative', type: 'quantitative', title: 'seconds since the run started' };
  const single = longest <= 1;
  const y = { field: 'value', type: 'quantitative', title: key, scale: { type: log ? 'log' : 'linear', zero: false } };
  // The legend's symbols at full opacity, even when the first layer is the faint raw line.
  const color = {
    field: 'run',
    type: 'nominal',
    scale: { range: PALETTE },
    legend: { title: 'run', labelLimit: 220, symbolOpacity: 1 }
  };
  const tooltip = [{ field: 'run' }, { field: 'step' }, { field: 'value', format: '.4g' }];
  const base = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', title: key, width: 360, height: 180, data: { values } };
  if (single) {
    const runOrder = data.runs.map(r => names.get(r.run_id) ?? r.run_id);
    return {
      ...base,
      mark: { type: 'point', filled: true, size: 80 },
      encoding: { x: { field: 'run', type: 'nominal', title: 'run', sort: runOrder }, y, color, tooltip }
    };
  }
  if (smoothing <= 0) {
    return { ...base, mark: { type: 'line', point: false, tooltip: true }, encoding: { x: xField, y, color, tooltip } };
  }
  // Smoothed: the raw line stays, faint, under the moving average (as TensorBoard and MLflow draw it).
  return {
    ...base,
    title: `${key} (smoothing ${smoothing})`,
    encoding: { x: xField, color },
    layer: [
      { mark: { type: 'line', opacity: 0.25 }, encoding: { y, tooltip } },
      {
        mark: { type: 'line', tooltip: true },
        encoding: {
          y: { ...y, field: 'smoothed' },
          tooltip: [...tooltip, { field: 'smoothed', format: '.4g' }]
        }
      }
    ]
  };
}

/**
 * The debiased exponential moving average of `values` with weight `weight`
 * in [0, 1), as TensorBoard computes it (and MLflow after it): the bias of
 * starting from 0 is divided out, so the first value is kept as it is.
 */
export function smooth(values: number[], weight: number): number[] {
  if (weight <= 0) {
    return [...values];
  }
  let last = 0;
  return values.map((value, i) => {
    last = last * weight + (1 - weight) * value;
    return last / (1 - Math.pow(weight, i + 1));
  });
}

/** A field of a run the scatter plot can use: a param (numeric when every value is) or a metric's last value. */
interface IField {
  id: string;
  label: string;
  value: (run: IRun) => number | string | null;
  numeric: boolean;
  log: boolean;
}

/** The params and metrics of the runs as fields for the scatter plot's axes and colour. */
export function runFields(runs: IRun[], metrics: string[]): IField[] {
  const fields: IField[] = [];
  const paramKeys = [...new Set(runs.flatMap(r => Object.keys(r.params)))].sort();
  for (const key of paramKeys) {
    const numbers = runs.map(r => (r.params[key] === undefined ? NaN : Number(r.params[key])));
    const numeric = numbers.every(n => Number.isFinite(n));
    const log = numeric && numbers.every(n => n > 0) && Math.max(...numbers) / Math.min(...numbers) >= 100;
    fields.push({
      id: `params.${key}`,
      label: key,
      value: r => (r.params[key] === undefined ? null : numeric ? Number(r.params[key]) : r.params[key]),
      numeric,
      log
    });
  }
  for (const key of metrics) {
    fields.push({ id: `metrics.${key}`, label: key, value: r => r.metrics[key] ?? null, numeric: true, log: false });
  }
  return fields;
}

/**
 * A vega-lite scatter plot: a point per run at (x, y), coloured by a param's
 * value (one colour per distinct value, in sorted order) or by run.
 */
export function scatterSpec(
  runs: IRun[],
  names: Map<string, string>,
  x: IField,
  y: IField,
  colour: IField | null
): Record<string, unknown> {
  const values = runs
    .map(run => ({
      run: names.get(run.run_id) ?? run.run_id,
      run_id: run.run_id,
      x: x.value(run),
      y: y.value(run),
      colour: colour ? String(colour.value(run) ?? '') : names.get(run.run_id) ?? run.run_id
    }))
    .filter(p => p.x !== null && p.y !== null);
  const axis = (field: IField, name: 'x' | 'y') => ({
    field: name,
    type: field.numeric ? 'quantitative' : 'nominal',
    title: field.label + (field.log ? ' (log)' : ''),
    ...(field.numeric ? { scale: { type: field.log ? 'log' : 'linear', zero: false } } : { sort: 'ascending' })
  });
  const domain = colour
    ? [...new Set(values.map(v => v.colour))].sort((a, b) =>
        colour.numeric ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0
      )
    : values.map(v => v.run);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${y.label} against ${x.label}`,
    width: 420,
    height: 280,
    data: { values },
    mark: { type: 'point', filled: true, size: 90, opacity: 0.9 },
    encoding: {
      x: axis(x, 'x'),
      y: axis(y, 'y'),
      color: {
        field: 'colour',
        type: 'nominal',
        title: colour ? colour.label : 'run',
        scale: { domain, range: PALETTE },
        legend: { labelLimit: 220 }
      },
      tooltip: [
        { field: 'run' },
        { field: 'x', title: x.label },
        { field: 'y', title: y.label },
        ...(colour ? [{ field: 'colour', title: colour.label }] : [])
      ]
    },
    // SVG marks, so the points can be read back from the page.
    usermeta: { embedOptions: { renderer: 'svg' } }
  };
}

/** An axis of the parallel coordinates: a numeric param or a metric's last value. */
interface IAxis {
  id: string;
  label: string;
  value: (run: IRun) => number | null;
  log: boolean;
}

/** The comparison view. `data-*` of its node say which runs the brushes keep. */
export class ComparisonView extends Widget {
  constructor(
    private readonly _rendermime: IRenderMimeRegistry,
    private readonly _runIds: string[],
    private readonly _onBrush: (runIds: string[] | null) => void = () => undefined
  ) {
    super();
    this.addClass('jl-compare');
    this.title.label = `Compare ${_runIds.length} runs`;
    this.title.closable = true;
    this.node.tabIndex = -1;
    void this.load();
  }

  /** Fetch the runs and draw every part. */
  async load(): Promise<void> {
    this.node.dataset.loading = 'true';
    try {
      this._data = await compareRuns(this._runIds);
    } catch (error) {
      this.node.replaceChildren(
        h('p', { className: 'jl-error', role: 'alert' }, error instanceof Error ? error.message : String(error))
      );
      delete this.node.dataset.loading;
      return;
    }
    const data = this._data;
    this._names = new Map(data.runs.map(r => [r.run_id, r.run_name || r.run_id.slice(0, 8)]));
    this._metrics = Object.keys(data.histories).sort();
    this._chosen = new Set(this._metrics.slice(0, 12));
    this.node.replaceChildren(
      h('h2', { className: 'jl-heading' }, this.title.label),
      this._controls(),
      h('section', { className: 'jl-section jl-compare-charts-section' }, h('h3', {}, 'Metrics over time'), this._charts),
      h('section', { className: 'jl-section' }, h('h3', {}, 'Parallel coordinates (drag along an axis to brush)'), this._parallel),
      h('section', { className: 'jl-section' }, h('h3', {}, 'Scatter plot'), this._scatterControls(), this._scatter),
      h('section', { className: 'jl-section' }, h('h3', {}, 'Runs'), this._runsTable),
      h('section', { className: 'jl-section' }, h('h3', {}, 'Parameters'), this._onlyDiffToggle(), this._paramsHost),
      h('section', { className: 'jl-section' }, h('h3', {}, 'Metrics'), this._metricsHost)
    );
    await this._drawCharts();
    this._drawParallel();
    await this._drawScatter();
    this._drawTables();
    delete this.node.dataset.loading;
  }

  dispose(): void {
    if (this._picker) {
      this._picker.open = false;
      placePopup(this._picker);
    }
    for (const chart of this._renderers) {
      chart.dispose();
    }
    this._scatterRenderer?.dispose();
    super.dispose();
  }

  private _controls(): HTMLElement {
    const x = h(
      'select',
      {
        className: 'jp-mod-styled jl-compare-x',
        on: {
          change: () => {
            this._x = x.value as XAxis;
            void this._drawCharts();
          }
        }
      },
      h('option', { value: 'step' }, 'x: step'),
      h('option', { value: 'time' }, 'x: time'),
      h('option', { value: 'relative' }, 'x: relative time')
    );
    const log = h('input', {
      type: 'checkbox',
      className: 'jl-compare-log',
      on: {
        change: () => {
          this._log = log.checked;
          void this._drawCharts();
        }
      }
    });
    const picker = h(
      'details',
      { className: 'jl-picker jl-compare-metrics' },
      h('summary', { className: 'jp-mod-styled jl-picker-toggle' }, 'Metrics'),
      h(
        'div',
        { className: 'jl-picker-list' },
        ...this._metrics.map(key => {
          const box = h('input', {
            type: 'checkbox',
            checked: this._chosen.has(key),
            dataset: { metric: key },
            on: {
              change: () => {
                if (box.checked) {
                  this._chosen.add(key);
                } else {
                  this._chosen.delete(key);
                }
                void this._drawCharts();
              }
            }
          });
          return h('label', { className: 'jl-picker-item' }, box, ` ${key}`);
        })
      )
    );
    picker.addEventListener('toggle', () => placePopup(picker));
    this._picker = picker;
    const shown = h('span', { className: 'jl-compare-smoothing-value' }, '0');
    const smoothing = h('input', {
      type: 'range',
      min: '0',
      max: '0.99',
      step: '0.01',
      value: '0',
      className: 'jl-compare-smoothing',
      title: 'exponential moving average weight (0: raw values)',
      on: {
        input: () => {
          this._smoothing = Number(smoothing.value);
          shown.textContent = smoothing.value;
          void this._drawCharts();
        }
      }
    });
    return h(
      'div',
      { className: 'jl-grid-row jl-compare-controls' },
      picker,
      x,
      h('label', {}, log, ' log scale'),
      h('label', {}, 'smoothing ', smoothing, ' ', shown)
    );
  }

  private async _drawCharts(): Promise<void> {
    for (const chart of this._renderers) {
      chart.dispose();
    }
    this._renderers = [];
    this._charts.replaceChildren();
    const keys = this._metrics.filter(k => this._chosen.has(k));
    const specs: Record<string, unknown>[] = [];
    for (const key of keys) {
      const spec = metricSpec(key, this._data!, this._names, this._x, this._log, this._smoothing);
      specs.push(spec);
      const cell = h('div', { className: 'jl-compare-chart', dataset: { metric: key } });
      this._charts.append(cell);
      if (!this._rendermime.mimeTypes.includes(VEGALITE_MIME)) {
        cell.append(h('p', { className: 'jl-empty' }, `No renderer for ${VEGALITE_MIME}`));
        continue;
      }
      const renderer = this._rendermime.createRenderer(VEGALITE_MIME);
      this._renderers.push(renderer);
      Widget.attach(renderer, cell);
      await renderer.renderModel(
        this._rendermime.createModel({ data: { [VEGALITE_MIME]: spec as ReadonlyPartialJSONObject } })
      );
    }
    // The specs drawn, for scripts and tests to read.
    this._charts.dataset.specs = JSON.stringify(
      specs.map(s => ({
        title: s.title,
        mark: s.mark ?? null,
        y: (s.encoding as any).y ?? null,
        layer: (s.layer as any[] | undefined)?.map(l => ({ mark: l.mark, y: l.encoding.y })) ?? null,
        values: (s.data as any).values
      }))
    );
  }

  /** Three selects: the scatter plot's x and y (any param or metric) and its colour (a param, or the run). */
  private _scatterControls(): HTMLElement {
    const fields = runFields(this._data!.runs, this._metrics);
    this._fields = fields;
    // Default: the first param that differs against the first metric.
    const differs = fields.filter(f => f.id.startsWith('params.') && new Set(this._data!.runs.map(f.value)).size > 1);
    const firstMetric = fields.find(f => f.id.startsWith('metrics.'));
    this._scatterX = (differs[0] ?? fields[0])?.id ?? '';
    this._scatterY = (firstMetric ?? fields[1] ?? fields[0])?.id ?? '';
    const select = (name: string, chosen: string, options: [string, string][], set: (v: string) => void) => {
      const node = h(
        'select',
        { className: `jp-mod-styled jl-scatter-${name}`, on: { change: () => { set(node.value); void this._drawScatter(); } } },
        ...options.map(([value, label]) => h('option', { value, selected: value === chosen }, label))
      );
      return h('label', {}, `${name} `, node);
    };
    const all = fields.map(f => [f.id, f.id] as [string, string]);
    const params = fields.filter(f => f.id.startsWith('params.')).map(f => [f.id, f.id] as [string, string]);
    return h(
      'div',
      { className: 'jl-grid-row jl-scatter-controls' },
      select('x', this._scatterX, all, v => (this._scatterX = v)),
      select('y', this._scatterY, all, v => (this._scatterY = v)),
      select('colour', '', [['', 'by run'], ...params], v => (this._scatterColour = v))
    );
  }

  private async _drawScatter(): Promise<void> {
    this._scatterRenderer?.dispose();
    this._scatterRenderer = null;
    const field = (id: string) => this._fields.find(f => f.id === id) ?? null;
    const x = field(this._scatterX);
    const y = field(this._scatterY);
    if (!x || !y) {
      this._scatter.replaceChildren(h('p', { className: 'jl-empty' }, 'These runs have no params or metrics to plot.'));
      return;
    }
    const spec = scatterSpec(this._data!.runs, this._names, x, y, field(this._scatterColour));
    this._scatter.replaceChildren();
    this._scatter.dataset.spec = JSON.stringify(spec);
    if (!this._rendermime.mimeTypes.includes(VEGALITE_MIME)) {
      this._scatter.append(h('p', { className: 'jl-empty' }, `No renderer for ${VEGALITE_MIME}`));
      return;
    }
    const renderer = this._rendermime.createRenderer(VEGALITE_MIME);
    this._scatterRenderer = renderer;
    Widget.attach(renderer, this._scatter);
    await renderer.renderModel(
      this._rendermime.createModel({ data: { [VEGALITE_MIME]: spec as ReadonlyPartialJSONObject } })
    );
  }

  private _axes(): IAxis[] {
    const runs = this._data!.runs;
    const axes: IAxis[] = [];
    const paramKeys = [...new Set(runs.flatMap(r => Object.keys(r.params)))].sort();
    for (const key of paramKeys) {
      const values = runs.map(r => r.params[key]);
      const numbers = values.map(v => (v === undefined ? NaN : Number(v)));
      if (new Set(values).size < 2 || numbers.some(n => !Number.isFinite(n))) {
        continue; // one value for all runs tells nothing; text params are in the params table
      }
      const positive = numbers.every(n => n > 0);
      const spread = positive ? Math.max(...numbers) / Math.min(...numbers) : 0;
      axes.push({ id: `params.${key}`, label: key, value: r => Number(r.params[key]), log: spread >= 100 });
    }
    for (const key of this._metrics) {
      axes.push({ id: `metrics.${key}`, label: key, value: r => r.metrics[key] ?? null, log: false });
    }
    return axes;
  }

  /** Draw the parallel coordinates in SVG; a vertical drag on an axis sets its brush. */
  private _drawParallel(): void {
    const runs = this._data!.runs;
    const axes = this._axes();
    const width = Math.max(420, axes.length * 140);
    const height = 260;
    const top = 34;
    const bottom = 28;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.classList.add('jl-parallel-svg');
    const xOf = (i: number) => 60 + (i * (width - 120)) / Math.max(1, axes.length - 1);
    const scales = axes.map(axis => {
      const values = runs.map(axis.value).filter((v): v is number => v !== null && Number.isFinite(v));
      const t = (v: number) => (axis.log ? Math.log10(v) : v);
      const lo = Math.min(...values.map(t));
      const hi = Math.max(...values.map(t));
      return {
        y: (v: number) => (hi === lo ? (top + height - bottom) / 2 : height - bottom - ((t(v) - lo) / (hi - lo)) * (height - top - bottom)),
        lo: values.length ? Math.min(...values) : 0,
        hi: values.length ? Math.max(...values) : 0
      };
    });
    const el = (tag: string, attrs: Record<string, string | number>, text?: string) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) {
        node.setAttribute(k, String(v));
      }
      if (text !== undefined) {
        node.textContent = text;
      }
      svg.append(node);
      return node;
    };
    const lines = runs.map((run, index) => {
      const points = axes
        .map((axis, i) => {
          const v = axis.value(run);
          return v === null || !Number.isFinite(v) ? null : `${xOf(i)},${scales[i].y(v)}`;
        })
        .filter(Boolean);
      const line = el('polyline', {
        points: points.join(' '),
        fill: 'none',
        stroke: PALETTE[index % PALETTE.length],
        'stroke-width': 2,
        class: 'jl-parallel-line',
        'data-run-id': run.run_id
      });
      const title = document.createElementNS(ns, 'title');
      title.textContent = this._names.get(run.run_id) ?? run.run_id;
      line.append(title);
      return line;
    });
    axes.forEach((axis, i) => {
      const x = xOf(i);
      el('line', { x1: x, x2: x, y1: top, y2: height - bottom, stroke: '#888', 'stroke-width': 1 });
      el('text', { x, y: 14, 'text-anchor': 'middle', class: 'jl-parallel-title' }, axis.label + (axis.log ? ' (log)' : ''));
      el('text', { x: x + 4, y: top - 4, class: 'jl-parallel-tick' }, rounded(scales[i].hi));
      el('text', { x: x + 4, y: height - bottom + 14, class: 'jl-parallel-tick' }, rounded(scales[i].lo));
      const brush = el('rect', { x: x - 8, y: 0, width: 16, height: 0, class: 'jl-parallel-brush', visibility: 'hidden' });
      // The hit area of the axis: a drag here sets [y0, y1] as the brush; a click clears it.
      const hit = el('rect', {
        x: x - 12,
        y: top,
        width: 24,
        height: height - top - bottom,
        fill: 'transparent',
        class: 'jl-parallel-axis',
        'data-axis': axis.id,
        style: 'cursor: crosshair'
      });
      hit.addEventListener('mousedown', (down: Event) => {
        const start = (down as MouseEvent).clientY - svg.getBoundingClientRect().top;
        const move = (event: MouseEvent) => {
          const now = event.clientY - svg.getBoundingClientRect().top;
          const y0 = Math.max(top, Math.min(start, now));
          const y1 = Math.min(height - bottom, Math.max(start, now));
          brush.setAttribute('y', String(y0));
          brush.setAttribute('height', String(y1 - y0));
          brush.setAttribute('visibility', y1 - y0 > 2 ? 'visible' : 'hidden');
          if (y1 - y0 > 2) {
            this._brushes.set(axis.id, { y0, y1, y: scales[i].y, value: axis.value });
          } else {
            this._brushes.delete(axis.id);
          }
          this._applyBrushes(lines);
        };
        const up = (event: MouseEvent) => {
          move(event);
          window.removeEventListener('mousemove', move);
          window.removeEventListener('mouseup', up);
        };
        window.addEventListener('mousemove', move);
        window.addEventListener('mouseup', up);
        down.preventDefault();
      });
    });
    this._parallel.replaceChildren(
      axes.length < 2 ? h('p', { className: 'jl-empty' }, 'Fewer than two numeric params or metrics differ.') : svg
    );
    this._applyBrushes(lines);
  }

  private _applyBrushes(lines: Element[]): void {
    const kept = this._data!.runs.filter(run =>
      [...this._brushes.values()].every(b => {
        const v = b.value(run);
        if (v === null || !Number.isFinite(v)) {
          return false;
        }
        const y = b.y(v);
        return y >= b.y0 - 3 && y <= b.y1 + 3; // a brush started on the axis end keeps the end value
      })
    );
    const ids = new Set(kept.map(r => r.run_id));
    for (const line of lines) {
      line.classList.toggle('jl-mod-dimmed', !ids.has(line.getAttribute('data-run-id')!));
    }
    for (const row of this._runsTable.querySelectorAll<HTMLElement>('tr[data-run-id]')) {
      row.hidden = !ids.has(row.dataset.runId!);
    }
    this.node.dataset.keptRuns = kept.map(r => r.run_id).join(',');
    this._onBrush(this._brushes.size === 0 ? null : kept.map(r => r.run_id));
  }

  private _onlyDiffToggle(): HTMLElement {
    const box = h('input', {
      type: 'checkbox',
      className: 'jl-compare-only-diff',
      on: {
        change: () => {
          this._onlyDiff = box.checked;
          this._drawTables();
        }
      }
    });
    return h('label', { className: 'jl-compare-toggle' }, box, ' only params that differ');
  }

  private _drawTables(): void {
    const runs = this._data!.runs;
    const names = runs.map(r => this._names.get(r.run_id) ?? r.run_id);
    this._runsTable.replaceChildren(
      table(
        'jl-compare-runs',
        ['', 'Run', 'Status', 'Run ID'],
        runs.map((run, i) =>
          h(
            'tr',
            { dataset: { runId: run.run_id }, className: `jl-status-row-${run.status.toLowerCase()}` },
            h('td', {}, h('span', { className: 'jl-swatch', style: `background:${PALETTE[i % PALETTE.length]}` })),
            h('td', {}, names[i]),
            h('td', {}, h('span', { className: `jl-badge jl-status jl-status-${run.status.toLowerCase()}` }, run.status)),
            h('td', {}, h('code', {}, run.run_id))
          )
        )
      )
    );
    // Params: a cell is marked when it differs from the first run's value, not the whole row.
    const paramKeys = [...new Set(runs.flatMap(r => Object.keys(r.params)))].sort();
    const paramRows = paramKeys
      .filter(key => !this._onlyDiff || new Set(runs.map(r => r.params[key])).size > 1)
      .map(key =>
        h(
          'tr',
          { dataset: { param: key } },
          h('th', {}, key),
          ...runs.map(run => {
            const value = run.params[key];
            const differs = value !== runs[0].params[key];
            return h('td', { className: differs ? 'jl-diff' : '' }, value ?? '—');
          })
        )
      );
    this._paramsHost.replaceChildren(table('jl-compare-params', ['Param', ...names], paramRows));
    // Metrics: the last value; min and max rows only where some run's history varies.
    const histories = this._data!.histories;
    const metricRows: HTMLTableRowElement[] = [];
    for (const key of this._metrics) {
      const byRun = histories[key] ?? {};
      metricRows.push(
        h('tr', { dataset: { metric: key, stat: 'last' } }, h('th', {}, key), ...runs.map(run => h('td', { className: 'jl-number' }, formatLast(run.metrics[key]))))
      );
      const varies = Object.values(byRun).some(s => s.count > 1 && s.min !== s.max);
      if (varies) {
        for (const stat of ['min', 'max'] as const) {
          metricRows.push(
            h(
              'tr',
              { dataset: { metric: key, stat }, className: 'jl-compare-stat' },
              h('th', {}, `${key} · ${stat}`),
              ...runs.map(run => h('td', { className: 'jl-number' }, rounded(byRun[run.run_id]?.[stat])))
            )
          );
        }
      }
    }
    this._metricsHost.replaceChildren(table('jl-compare-metrics-table', ['Metric', ...names], metricRows));
  }

  private _picker: HTMLDetailsElement | null = null;
  private _data: IComparison | null = null;
  private _names = new Map<string, string>();
  private _metrics: string[] = [];
  private _chosen = new Set<string>();
  private _x: XAxis = 'step';
  private _log = false;
  private _smoothing = 0;
  private _fields: IField[] = [];
  private _scatterX = '';
  private _scatterY = '';
  private _scatterColour = '';
  private _scatterRenderer: Widget | null = null;
  private readonly _scatter = h('div', { className: 'jl-compare-scatter' });
  private _onlyDiff = false;
  private _renderers: Widget[] = [];
  private _brushes = new Map<string, { y0: number; y1: number; y: (v: number) => number; value: (run: IRun) => number | null }>();
  private readonly _charts = h('div', { className: 'jl-compare-charts' });
  private readonly _parallel = h('div', { className: 'jl-parallel' });
  private readonly _runsTable = h('div', { className: 'jl-compare-runs-host' });
  private readonly _paramsHost = h('div', { className: 'jl-table-scroll' });
  private readonly _metricsHost = h('div', { className: 'jl-table-scroll' });
}

function formatLast(value: number | null | undefined): string {
  return value === undefined ? '—' : rounded(value);
}
