/**
 * The output `%lifecycle open` displays: a button that opens a main-area
 * view, pressed by itself while the output is fresh (a notebook reopened
 * later does not reopen every view it once opened).
 */
import type { IRenderMime } from '@jupyterlab/rendermime';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { h } from './dom';

/** The mime type of `%lifecycle open` outputs. */
export const OPEN_MIME = 'application/vnd.jupyter-lifecycle.open+json';

/** Only these commands may be run from an output. */
const ALLOWED = new Set([
  'jupyter-lifecycle:open-runs',
  'jupyter-lifecycle:compare',
  'jupyter-lifecycle:open-model',
  'jupyter-lifecycle:open-artifact'
]);

/** An output younger than this opens its view by itself. */
const FRESH_MS = 30_000;

interface IOpenPayload {
  command: string;
  args: ReadonlyPartialJSONObject;
  label: string;
  created: number;
}

/** Renders one `%lifecycle open` output. */
export class OpenRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private readonly _execute: (command: string, args: ReadonlyPartialJSONObject) => Promise<unknown>) {
    super();
    this.addClass('jl-open-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const payload = model.data[OPEN_MIME] as unknown as IOpenPayload;
    if (!payload || !ALLOWED.has(payload.command)) {
      this.node.replaceChildren(h('span', { className: 'jl-inline-error' }, 'Not a jupyter-lifecycle view.'));
      return;
    }
    const open = () => void this._execute(payload.command, payload.args);
    this.node.replaceChildren(
      h('button', { className: 'jp-mod-styled jl-open-button', on: { click: open } }, `Open: ${payload.label}`)
    );
    const key = `${payload.command}:${payload.created}`;
    if (Date.now() - payload.created < FRESH_MS && !opened.has(key)) {
      opened.add(key);
      open();
    }
  }
}

// Outputs already opened in this page: a re-render (a notebook scrolled, a second view) opens nothing more.
const opened = new Set<string>();
