import { LabIcon } from '@jupyterlab/ui-components';

/**
 * The sidebar icon: a flask inside a cycle. Inline SVG, so it needs no asset
 * loader; `jp-icon3` makes it follow the light and dark themes.
 */
export const lifecycleIcon = new LabIcon({
  name: 'jupyter-lifecycle:lifecycle',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2a10 10 0 0 1 9.8 8h-2.05A8 8 0 0 0 5.3 6.6L7.7 9H2V3.3l1.9 1.9A9.97 9.97 0 0 1 12 2zm-9.8 12h2.05a8 8 0 0 0 14.45 3.4L16.3 15H22v5.7l-1.9-1.9A9.97 9.97 0 0 1 2.2 14z"/>
    <path d="M10 6.5h4v1h-.6v3.2l3.1 5.4a1 1 0 0 1-.87 1.5H8.37a1 1 0 0 1-.87-1.5l3.1-5.4V7.5H10zm1.6 1v3.5L10.5 13h3l-1.1-2V7.5z"/>
  </g>
</svg>`
});
