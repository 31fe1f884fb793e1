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

/** @param {() => string} getKey */
export function createApi(getKey) {
  return async function call(method, path, body) {
    const headers = { 'x-api-key': getKey(), accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'NETWORK', 'Cannot reach the supervisor. Is it running?');
    }
    const text = await res.text();
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
