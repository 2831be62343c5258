/**
 * An artifact preview in the main area, read through the REST API (which
 * never serves a file outside the run's artifacts): JSON, YAML and MLmodel
 * as formatted text, text, CSV/TSV/Parquet as a table, images (SVG through
 * an `<img>`, so its scripts never run), notebooks cell by cell.
 */
import { Widget } from '@lumino/widgets';

import { getArtifact, IArtifactPreview } from './api';
import { h, table } from './dom';

/** The preview of one artifact of a run. */
export class ArtifactView extends Widget {
  constructor(
    readonly runId: string,
    readonly path: string
  ) {
    super();
    this.addClass('jl-artifact-view');
    this.title.label = path.split('/').pop() || path;
    this.title.caption = `${path} (run ${runId})`;
    this.title.closable = true;
    void this.load();
  }

  /** Fetch and draw the preview. */
  async load(): Promise<void> {
    this.node.dataset.loading = 'true';
    let content: HTMLElement;
    try {
      const preview = await getArtifact(this.runId, this.path);
      this.node.dataset.kind = preview.kind;
      content = render(preview);
    } catch (error) {
      content = h('p', { className: 'jl-error', role: 'alert' }, error instanceof Error ? error.message : String(error));
    }
    this.node.replaceChildren(
      h('h2', { className: 'jl-heading' }, this.path),
      content
    );
    delete this.node.dataset.loading;
  }
}

function render(preview: IArtifactPreview): HTMLElement {
  const note = preview.truncated
    ? h('p', { className: 'jl-note' }, preview.kind === 'table' ? 'The first 500 rows.' : 'Cut at 2 MB.')
    : null;
  switch (preview.kind) {
    case 'json':
      return h('div', {}, h('pre', { className: 'jl-preview-text jl-preview-json' }, JSON.stringify(preview.data, null, 2)));
    case 'yaml':
    case 'mlmodel':
    case 'text':
      return h('div', {}, note, h('pre', { className: `jl-preview-text jl-preview-${preview.kind}` }, preview.text ?? ''));
    case 'table':
      return h(
        'div',
        { className: 'jl-table-scroll' },
        note,
        table(
          'jl-preview-table',
          preview.columns ?? [],
          (preview.rows ?? []).map(row => row.map(cell => (cell === null ? '' : String(cell))))
        )
      );
    case 'image': {
      const src =
        preview.text !== undefined
          ? `data:${preview.mime};charset=utf-8,${encodeURIComponent(preview.text)}`
          : `data:${preview.mime};base64,${preview.base64}`;
      return h('div', {}, h('img', { className: 'jl-preview-image', src, alt: preview.path }));
    }
    case 'notebook':
      return h(
        'div',
        { className: 'jl-preview-notebook' },
        ...(preview.cells ?? []).map(cell =>
          h(
            'div',
            { className: `jl-preview-cell jl-preview-cell-${cell.cell_type}` },
            h('pre', { className: 'jl-preview-source' }, cell.source),
            ...cell.outputs.map(out => h('pre', { className: 'jl-preview-output' }, out))
          )
        )
      );
    default:
      return h('p', { className: 'jl-empty' }, `A binary file of ${preview.file_size} bytes: no preview.`);
  }
}
