import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { ArtifactView } from './artifact';
import { ComparisonView } from './compare';
import { RunsGrid } from './grid';
import { lifecycleIcon } from './icon';
import { ModelPage } from './modelpage';
import { OpenRenderer, OPEN_MIME } from './opener';
import { LifecyclePanel } from './panel';

/** The commands the extension adds. */
export namespace CommandIDs {
  /** Show the Lifecycle sidebar (and load it on first use). */
  export const openSidebar = 'jupyter-lifecycle:open-sidebar';
  /** The main-area runs grid: `{experimentIds?: string[]}`. */
  export const openRuns = 'jupyter-lifecycle:open-runs';
  /** The comparison view: `{runIds: string[]}`. */
  export const compare = 'jupyter-lifecycle:compare';
  /** A model's page: `{name, version?}`. */
  export const openModel = 'jupyter-lifecycle:open-model';
  /** An artifact preview: `{runId, path}`. */
  export const openArtifact = 'jupyter-lifecycle:open-artifact';
}

/** The sidebar's widget id: layout restoration and `activateById` use it. */
export const SIDEBAR_ID = 'jupyter-lifecycle-sidebar';

/**
 * Adds the Lifecycle sidebar on the left and the command that opens it.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-lifecycle:sidebar',
  description:
    'A left sidebar over the jupyter-lifecycle store: experiments, runs, charts and the model registry.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const openPath = (path: string) => app.commands.execute('docmanager:open', { path });
    const panel = new LifecyclePanel({
      rendermime,
      openPath,
      execute: (id, args) => app.commands.execute(id, args as ReadonlyPartialJSONObject)
    });
    const showRun = (runId: string) => {
      app.shell.activateById(SIDEBAR_ID);
      panel.showRun(runId);
    };
    const open = (content: Widget, id: string): MainAreaWidget => {
      const existing = [...app.shell.widgets('main')].find(w => w.id === id);
      if (existing) {
        existing.dispose(); // a fresh view of the same thing replaces the old one
      }
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      widget.title.icon = lifecycleIcon;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };
    let views = 0;
    panel.id = SIDEBAR_ID;
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, SIDEBAR_ID);

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open the Lifecycle Sidebar',
      caption: 'Experiments, runs and registered models of jupyter-lifecycle',
      icon: args => (args.isPalette ? undefined : lifecycleIcon),
      execute: async () => {
        // Restoring the saved layout selects its own left panel: run after it.
        await app.restored;
        app.shell.activateById(SIDEBAR_ID);
      }
    });
    palette?.addItem({ command: CommandIDs.openSidebar, category: 'Lifecycle' });

    app.commands.addCommand(CommandIDs.openRuns, {
      label: 'Open the Lifecycle Runs View',
      caption: 'Runs of experiments in a sortable, filterable grid',
      execute: args => {
        const experimentIds = (args.experimentIds as string[] | undefined) ?? undefined;
        const grid: RunsGrid = new RunsGrid({
          experimentIds,
          showRun,
          compare: runIds =>
            void app.commands.execute(CommandIDs.compare, { runIds, narrowGrid: grid.id })
        });
        grid.id = `jl-runs-grid-${++views}`;
        grids.set(grid.id, grid);
        grid.disposed.connect(() => grids.delete(grid.id));
        return open(grid, `jl-runs-${grid.id}`);
      }
    });
    const grids = new Map<string, RunsGrid>();
    app.commands.addCommand(CommandIDs.compare, {
      label: 'Compare Lifecycle Runs',
      execute: args => {
        const runIds = (args.runIds as string[] | undefined) ?? [];
        const grid = grids.get(String(args.narrowGrid ?? ''));
        const view = new ComparisonView(rendermime, runIds, kept => grid?.narrow(kept));
        view.disposed.connect(() => grid?.narrow(null));
        return open(view, `jl-compare-${runIds.join('-').slice(0, 200)}`);
      }
    });
    app.commands.addCommand(CommandIDs.openModel, {
      label: args => (args.name ? `Open model ${args.name}` : 'Open a Lifecycle model page'),
      execute: args => {
        const name = String(args.name ?? '');
        const version = args.version === undefined ? undefined : Number(args.version);
        return open(new ModelPage({ name, version, openPath, showRun }), `jl-model-${name}-${version ?? 'all'}`);
      }
    });
    app.commands.addCommand(CommandIDs.openArtifact, {
      label: args => `Preview ${args.path ?? 'an artifact'}`,
      execute: args => {
        const runId = String(args.runId ?? '');
        const path = String(args.path ?? '');
        return open(new ArtifactView(runId, path), `jl-artifact-${runId}-${path}`);
      }
    });
    palette?.addItem({ command: CommandIDs.openRuns, category: 'Lifecycle' });
    // `%lifecycle open` outputs; not "safe": an untrusted notebook's outputs open nothing.
    rendermime.addFactory(
      {
        safe: false,
        mimeTypes: [OPEN_MIME],
        defaultRank: 50,
        createRenderer: () => new OpenRenderer((id, args) => app.commands.execute(id, args))
      },
      50
    );
  }
};

export default plugin;
