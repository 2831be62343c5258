import { IViewHost } from './host';
import { h } from './dom';

/**
 * A tab of the sidebar that shows one page at a time (a list, then a detail)
 * and redraws it from the API. The latest navigation wins: when the user
 * clicks on before an answer arrives, the older answer is dropped.
 */
export abstract class PagedView<S> {
  /** The tab's content. */
  readonly node: HTMLElement;

  /**
   * @param className - the tab's CSS class.
   * @param _host - the panel, for errors and cross-tab links.
   * @param _state - the page shown first.
   */
  protected constructor(
    className: string,
    protected readonly _host: IViewHost,
    protected _state: S
  ) {
    this.node = h('div', { className: `jl-view ${className}` });
  }

  /** Fetch and draw the current page again. */
  refresh(): Promise<void> {
    const state = this._state;
    return this.draw(isCurrent => this.render(state, isCurrent));
  }

  /** Release what the pages hold (charts...). */
  dispose(): void {
    this.clear();
  }

  /** Build a page; `isCurrent()` turns false once a newer navigation started. */
  protected abstract render(state: S, isCurrent: () => boolean): Promise<HTMLElement>;

  /** Called after a page is in place, to draw what needs it attached (charts). */
  protected async afterDraw(_page: S, _isCurrent: () => boolean): Promise<void> {
    // Nothing by default.
  }

  /** Called before a page replaces the previous one. */
  protected clear(): void {
    // Nothing by default.
  }

  /** Show the page for `state`. */
  protected go(state: S): Promise<void> {
    this._state = state;
    return this.refresh();
  }

  /** Draw what `build` resolves to, unless a newer navigation started meanwhile; errors go to the panel. */
  protected async draw(build: (isCurrent: () => boolean) => Promise<HTMLElement>): Promise<void> {
    const generation = ++this._generation;
    const isCurrent = () => generation === this._generation;
    const state = this._state;
    this._host.clearError();
    this.node.dataset.loading = 'true';
    try {
      const content = await build(isCurrent);
      if (!isCurrent()) {
        return;
      }
      this.clear();
      this.node.replaceChildren(content);
      await this.afterDraw(state, isCurrent);
    } catch (error) {
      if (isCurrent()) {
        this._host.showError(error);
      }
    } finally {
      if (isCurrent()) {
        delete this.node.dataset.loading;
      }
    }
  }

  private _generation = 0;
}
