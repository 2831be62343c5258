/**
 * Small DOM builders for the panel: plain elements keep the extension free
 * of React, and stable class names let browser tests find each part.
 */

/** What `h` accepts as a child: `null`, `undefined` and `false` are skipped. */
export type Child = Node | string | number | null | undefined | false;

/** Properties for `h`: element properties, `data-*` values and event listeners. */
export interface IProps {
  className?: string;
  title?: string;
  dataset?: Record<string, string>;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
  [property: string]: unknown;
}

/**
 * Create an element with properties and children, e.g.
 * `h('a', {className: 'jl-back', on: {click}}, '← Experiments')`.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: IProps = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  const { dataset, on, ...rest } = props;
  Object.assign(element, rest);
  Object.assign(element.dataset, dataset ?? {});
  for (const [type, listener] of Object.entries(on ?? {})) {
    element.addEventListener(type, listener as EventListener);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A table with a header row; each row is a `<tr>` built by the caller or a list of cells. */
export function table(
  className: string,
  headers: string[],
  rows: (HTMLTableRowElement | Child[])[]
): HTMLTableElement {
  return h(
    'table',
    { className: `jl-table ${className}` },
    h('thead', {}, h('tr', {}, ...headers.map(text => h('th', {}, text)))),
    h(
      'tbody',
      {},
      ...rows.map(row =>
        row instanceof HTMLTableRowElement
          ? row
          : h('tr', {}, ...row.map(cell => h('td', {}, cell)))
      )
    )
  );
}

/**
 * A key/value table (params, metrics, tags) sorted by key, or a note when
 * there is nothing. With `sort: false` the rows keep the order given and
 * empty values are left out (the run's own fields).
 */
export function keyValueTable(
  className: string,
  values: Record<string, Child>,
  { sort = true } = {}
): HTMLElement {
  let keys = Object.keys(values);
  if (sort) {
    keys.sort();
  } else {
    keys = keys.filter(key => values[key] !== '' && values[key] !== null);
  }
  if (keys.length === 0) {
    return h('p', { className: `jl-empty ${className}` }, 'None');
  }
  return table(
    `jl-kv ${className}`,
    ['Key', 'Value'],
    keys.map(key => [key, values[key]])
  );
}

/** A link that runs `go` instead of navigating (back links, links to runs). */
export function link(
  className: string,
  label: string,
  go: () => void,
  props: IProps = {}
): HTMLAnchorElement {
  return h(
    'a',
    {
      ...props,
      className,
      href: '#',
      on: {
        click: event => {
          event.preventDefault();
          go();
        }
      }
    },
    label
  );
}

/** `build(items)`, or a "None" note when there are no items. */
export function noneIfEmpty<T>(items: T[], build: (items: T[]) => HTMLElement): HTMLElement {
  return items.length === 0 ? h('p', { className: 'jl-empty' }, 'None') : build(items);
}

/** A titled section of the run or model detail. */
export function section(
  className: string,
  title: string,
  ...children: Child[]
): HTMLElement {
  return h(
    'section',
    { className: `jl-section ${className}` },
    h('h3', {}, title),
    ...children
  );
}

/** Epoch milliseconds as local date and time; empty when the store has none. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '';
  }
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** Epoch milliseconds as a short local `MM-DD HH:MM`, for narrow tables. */
export function formatShortTime(ms: number | null | undefined): string {
  return formatTime(ms).slice(5, 16);
}

/** A metric value; the API sends NaN and ±inf as `null`, which cannot tell them apart. */
export function formatMetric(value: number | null | undefined): string {
  if (value === null) {
    return 'NaN/inf';
  }
  if (value === undefined) {
    return '';
  }
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(5)));
}
