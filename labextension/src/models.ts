import {
  createScoringNotebook,
  deleteAlias,
  getModel,
  IModel,
  IModelDetail,
  IModelVersion,
  listModels,
  setAlias,
  STAGES,
  transitionStage
} from './api';
import { formatTime, h, link } from './dom';
import { IViewHost } from './host';
import { PagedView } from './view';

type ModelsState = { kind: 'models' } | { kind: 'model'; name: string };

/**
 * The Models tab: registered models, then one model's versions with the
 * registry actions (aliases, stages, scoring notebook). Every action sends
 * one request and draws the model detail the server answers with.
 */
export class ModelsView extends PagedView<ModelsState> {
  /** @param host - the panel, for errors, opening notebooks and cross-tab links. */
  constructor(host: IViewHost) {
    super('jl-models-view', host, { kind: 'models' });
  }

  /** Show the list of registered models. */
  showModels(): Promise<void> {
    return this.go({ kind: 'models' });
  }

  /** Show one registered model's versions. */
  showModel(name: string): Promise<void> {
    return this.go({ kind: 'model', name });
  }

  protected async render(state: ModelsState): Promise<HTMLElement> {
    return state.kind === 'models'
      ? this._renderModels(await listModels())
      : this._renderModel(await getModel(state.name));
  }

  private _renderModels(models: IModel[]): HTMLElement {
    if (models.length === 0) {
      return h(
        'p',
        { className: 'jl-empty' },
        'No registered models yet: register one with jupyter_lifecycle.register_model().'
      );
    }
    return h(
      'ul',
      { className: 'jl-list jl-models' },
      ...models.map(model =>
        h(
          'li',
          {
            className: 'jl-model jl-clickable',
            dataset: { modelName: model.name },
            title: model.description ?? model.name,
            on: { click: () => void this.showModel(model.name) }
          },
          h('span', { className: 'jl-name' }, model.name),
          ...Object.entries(model.aliases).map(([alias, version]) =>
            aliasBadge(alias, `version ${version}`)
          ),
          h(
            'span',
            { className: 'jl-count jl-latest-version', title: `${model.version_count} versions` },
            model.latest_version === null ? 'no versions' : `v${model.latest_version}`
          )
        )
      )
    );
  }

  private _renderModel(detail: IModelDetail): HTMLElement {
    const model = detail.model;
    return h(
      'div',
      { className: 'jl-model-detail', dataset: { modelName: model.name } },
      link('jl-back', '← Models', () => void this.showModels()),
      h('h2', { className: 'jl-heading' }, model.name),
      link('jl-open-model-page', 'Open the model page', () =>
        void this._host.execute('jupyter-lifecycle:open-model', { name: model.name })
      ),
      model.description ? h('p', { className: 'jl-description' }, model.description) : null,
      detail.versions.length === 0
        ? h('p', { className: 'jl-empty' }, 'No versions.')
        : h(
            'div',
            { className: 'jl-versions' },
            ...detail.versions.map(version => this._renderVersion(model.name, version))
          )
    );
  }

  private _renderVersion(name: string, version: IModelVersion): HTMLElement {
    const aliasInput = h('input', {
      className: 'jp-mod-styled jl-alias-input',
      placeholder: 'alias',
      title: 'Alias to point at this version'
    });
    const stageSelect = h(
      'select',
      { className: 'jp-mod-styled jl-stage-select', title: 'Stage' },
      ...STAGES.map(stage =>
        h('option', { value: stage, selected: stage === version.current_stage }, stage)
      )
    );
    const archiveBox = h('input', {
      className: 'jl-archive-existing',
      type: 'checkbox',
      title: 'Archive the versions now in the target stage'
    });
    return h(
      'div',
      {
        className: 'jl-version',
        dataset: { version: String(version.version), modelUri: version.model_uri }
      },
      h(
        'div',
        { className: 'jl-version-header' },
        link('jl-name jl-open-version-page', `Version ${version.version}`, () =>
          void this._host.execute('jupyter-lifecycle:open-model', { name, version: version.version })
        , { title: 'Open the version page (description, requests, activity, lineage)' }),
        h(
          'span',
          { className: `jl-badge jl-stage jl-stage-${version.current_stage.toLowerCase()}` },
          version.current_stage
        ),
        ...version.aliases.map(alias =>
          aliasBadge(
            alias,
            `models:/${name}@${alias}`,
            () => void this._act(() => deleteAlias(name, alias), aliasInput.form ?? undefined)
          )
        )
      ),
      h(
        'div',
        { className: 'jl-version-meta' },
        version.run_id
          ? link('jl-run-link', `run ${version.run_id.slice(0, 8)}`, () => this._host.showRun(version.run_id!), {
              title: 'Open the run',
              dataset: { runId: version.run_id }
            })
          : 'no run',
        ` · ${formatTime(version.creation_timestamp)}`,
        version.status !== 'READY' ? ` · ${version.status}` : ''
      ),
      h(
        'form',
        {
          className: 'jl-action jl-alias-form',
          on: {
            submit: event => {
              event.preventDefault();
              const alias = aliasInput.value.trim();
              if (alias) {
                void this._act(() => setAlias(name, alias, version.version), event.currentTarget as HTMLElement);
              }
            }
          }
        },
        aliasInput,
        h('button', { className: 'jp-mod-styled jl-alias-set', type: 'submit' }, 'Set alias')
      ),
      h(
        'form',
        {
          className: 'jl-action jl-stage-form',
          on: {
            submit: event => {
              event.preventDefault();
              void this._act(
                () => transitionStage(name, version.version, stageSelect.value, archiveBox.checked),
                event.currentTarget as HTMLElement
              );
            }
          }
        },
        stageSelect,
        h('label', { className: 'jl-archive-label' }, archiveBox, 'archive others'),
        h('button', { className: 'jp-mod-styled jl-stage-set', type: 'submit' }, 'Transition')
      ),
      h(
        'div',
        { className: 'jl-action' },
        h(
          'button',
          {
            className: 'jp-mod-styled jp-mod-accept jl-scoring-notebook',
            title: `Generate a notebook that scores data with ${version.model_uri} and open it`,
            on: {
              click: event =>
                void this._scoringNotebook(version.model_uri, (event.currentTarget as HTMLElement).parentElement!)
            }
          },
          'Scoring notebook'
        )
      )
    );
  }

  /**
   * Run a registry change and draw the model detail it answers with; a
   * refused change shows the server's message inside `control` (the form
   * that sent it), not at the top of a scrolled panel.
   */
  private async _act(change: () => Promise<IModelDetail>, control?: HTMLElement): Promise<void> {
    if (!control) {
      return this.draw(async () => this._renderModel(await change()));
    }
    const error = inlineError(control);
    let detail: IModelDetail;
    try {
      detail = await change();
    } catch (reason) {
      error.textContent = reason instanceof Error ? reason.message : String(reason);
      error.hidden = false;
      return;
    }
    await this.draw(async () => this._renderModel(detail));
  }

  private async _scoringNotebook(modelUri: string, control: HTMLElement): Promise<void> {
    const error = inlineError(control);
    try {
      await this._host.openPath(await createScoringNotebook(modelUri));
    } catch (reason) {
      error.textContent = reason instanceof Error ? reason.message : String(reason);
      error.hidden = false;
    }
  }

}

/** The (hidden, emptied) error line inside `control`, made on first use. */
function inlineError(control: HTMLElement): HTMLElement {
  let error = control.querySelector<HTMLElement>(':scope > .jl-inline-error');
  if (!error) {
    error = h('span', { className: 'jl-inline-error', role: 'alert' });
    control.append(error);
  }
  error.hidden = true;
  error.textContent = '';
  return error;
}

/** `@alias` as a badge; with `remove`, a × button deletes the alias. */
function aliasBadge(alias: string, title: string, remove?: () => void): HTMLElement {
  return h(
    'span',
    { className: 'jl-badge jl-alias', title, dataset: { alias } },
    `@${alias}`,
    remove
      ? h(
          'button',
          {
            className: 'jl-alias-delete',
            type: 'button',
            title: `Remove @${alias}`,
            on: {
              click: event => {
                event.stopPropagation();
                remove();
              }
            }
          },
          '×'
        )
      : null
  );
}
