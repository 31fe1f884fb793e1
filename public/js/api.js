/** Calls the wa-fleet API with the operator's key; every failure becomes an ApiError with a message fit to show. */

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the supervisor could not be reached
   * @param {string} code the API's stable error code (or NETWORK / HTTP_<status>)
   * @param {string} message safe to show to the operator
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A key must travel in a header: visible ASCII only (fetch throws on anything else, with a confusing message). */
export function keyProblem(key) {
  if (key.length === 0) return 'Enter the API key.';
  if (!/^[\x21-\x7e]+$/.test(key)) return 'An API key has no spaces or special characters; check what you pasted.';
  return null;
}

/** Long enough for the slowest answer (a pairing code waits on the phone page); a hung request still ends. */
const DEFAULT_TIMEOUT_MS = 90_000;

/** @param {() => string} getKey */
export function createApi(getKey) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {{ timeoutMs?: number, headers?: Record<string, string> }} [options] a request unanswered by
   *   `timeoutMs` fails with status 0, code TIMEOUT; `headers` are sent besides the key (an Idempotency-Key)
   */
  return async function call(method, path, body, { timeoutMs = DEFAULT_TIMEOUT_MS, headers: extra = {} } = {}) {
    const headers = { ...extra, 'x-api-key': getKey(), accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const signal = AbortSignal.timeout(timeoutMs);
    let res;
    let text;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', signal });
      text = await res.text();
    } catch {
      if (signal.aborted) throw new ApiError(0, 'TIMEOUT', `The supervisor did not answer within ${Math.round(timeoutMs / 1000)} s.`);
      throw new ApiError(0, 'NETWORK', 'Cannot reach the supervisor. Is it running?');
    }
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // A proxy's HTML error page: the status alone is all we can say.
    }
    if (!res.ok) {
      const error = json && typeof json === 'object' ? json.error : null;
      throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? `the supervisor answered HTTP ${res.status}`);
    }
    return json;
  };
}
