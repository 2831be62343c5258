import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

/**
 * What a view of the sidebar needs from the panel around it: the views stay
 * independent of each other and of JupyterLab's commands.
 */
export interface IViewHost {
  /** Renders the run charts (vega-lite), as notebooks outputs are rendered. */
  readonly rendermime: IRenderMimeRegistry;
  /** Show an error in the panel: an `ApiError`'s message is the server's own. */
  showError(error: unknown): void;
  /** Remove the error shown, when the user moves on. */
  clearError(): void;
  /** Open a file (path below the server root) in the main area. */
  openPath(path: string): Promise<unknown>;
  /** Run a JupyterLab command (the main-area views open through them). */
  execute(command: string, args: Record<string, unknown>): Promise<unknown>;
  /** Switch to the Models tab, on one model's versions. */
  showModel(name: string): void;
  /** Switch to the Runs tab, on one run's detail. */
  showRun(runId: string): void;
}
