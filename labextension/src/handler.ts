import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * An error answered by the REST API, carrying the body's `error_code` and
 * `message` so the panel can show the server's own words.
 */
export class ApiError extends Error {
  /**
   * @param status - the HTTP status.
   * @param errorCode - the body's `error_code` (`HTTP_<status>` when the body had none).
   * @param message - the body's `message`, shown in the panel as-is.
   */
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Call `<base_url>lifecycle/api/<endpoint>` and return its JSON body.
 *
 * The only function of the extension that touches the network:
 * `ServerConnection` adds the token and the XSRF header every Jupyter
 * endpoint needs.
 *
 * @param endpoint - the route below `lifecycle/api/`, query string included.
 * @param init - method and body of the request.
 * @throws {ApiError} on any 4xx/5xx answer.
 */
export async function requestAPI<T>(
  endpoint: string,
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'lifecycle/api', endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: an HTML error page when the server extension is not loaded.
  }
  if (!response.ok) {
    const error = (body ?? {}) as { error_code?: string; message?: string };
    const message =
      typeof error.message === 'string'
        ? error.message
        : `${response.status} ${response.statusText} from ${url}` +
          (response.status === 404
            ? ' (is the jupyter_lifecycle server extension enabled?)'
            : '');
    throw new ApiError(
      response.status,
      error.error_code ?? `HTTP_${response.status}`,
      message
    );
  }
  return body as T;
}
