/**
 * Staff-side REST helper for the agent listener.
 *
 * `api(path, {method, body})` sends JSON with the session cookie, adds the
 * X-CSRF-Token header to state-changing requests (the token comes from login or
 * `GET /api/v1/me` and is cached here), and turns an error response
 * `{"error":{"code","message"}}` into a thrown ApiError carrying the server's message.
 */

/** An HTTP error from the API: `status`, `code` and the server's `message`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let csrfToken = null;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

async function request(path, { method = 'GET', body, headers = {} } = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', ...headers },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (!SAFE_METHODS.has(method) && csrfToken) init.headers['X-CSRF-Token'] = csrfToken;

  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection.');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const err = data && typeof data === 'object' ? data.error : null;
    throw new ApiError(
      res.status,
      err?.code || `http_${res.status}`,
      err?.message || (typeof data === 'string' && data) || `Request failed (HTTP ${res.status}).`,
    );
  }
  if (data && typeof data === 'object' && typeof data.csrf_token === 'string') {
    csrfToken = data.csrf_token;
  }
  return data;
}

/**
 * Calls the API. State-changing requests fetch the CSRF token first if needed, and
 * retry once with a fresh token if the server refuses the one we had.
 */
export async function api(path, options = {}) {
  const method = (options.method || 'GET').toUpperCase();
  const opts = { ...options, method };
  const needsToken = !SAFE_METHODS.has(method) && path !== '/api/v1/login';
  if (needsToken && !csrfToken) await me().catch(() => {});
  try {
    return await request(path, opts);
  } catch (err) {
    if (needsToken && err.status === 403) {
      const before = csrfToken;
      await me().catch(() => {});
      if (csrfToken && csrfToken !== before) return request(path, opts);
    }
    throw err;
  }
}

/** `GET /api/v1/me` -> `{user:{name,display_name,role,tenant}, csrf_token}`. */
export function me() {
  return request('/api/v1/me');
}

/** Signs in; resolves to `{user, csrf_token}`. */
export function login(tenant, name, password) {
  return api('/api/v1/login', { method: 'POST', body: { tenant, name, password } });
}

/** Ends the session (ignores a session that is already gone). */
export async function logout() {
  try {
    await api('/api/v1/logout', { method: 'POST' });
  } catch (err) {
    if (err.status !== 401) throw err;
  } finally {
    csrfToken = null;
  }
}

/**
 * For pages that need a signed-in user (supervisor, admin): resolves to the user,
 * or sends the browser to the console's login page when there is no session.
 */
export async function requireSession() {
  try {
    const { user } = await me();
    return user;
  } catch (err) {
    if (err.status === 401) {
      location.replace('/');
      return new Promise(() => {}); // navigation under way
    }
    throw err;
  }
}
