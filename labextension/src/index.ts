import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { lifecycleIcon } from './icon';
import { LifecyclePanel } from './panel';

/** The commands the extension adds. */
export namespace CommandIDs {
  /** Show the Lifecycle sidebar (and load it on first use). */
  export const openSidebar = 'jupyter-lifecycle:open-sidebar';
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
    const panel = new LifecyclePanel({
      rendermime,
      openPath: path => app.commands.execute('docmanager:open', { path })
    });
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
  }
};

export default plugin;
