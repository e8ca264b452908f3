// Every call the dashboard makes to errand goes through here, so that
// credentials are added in one place (authHeaders) and every failure comes
// back as an ApiError with the server's own words (RFC 9457 problem+json).
//
// The page is served by errand itself, so paths are relative to its origin.
//
// The token lives in sessionStorage: this tab only, gone when it closes, and
// never a cookie, so the browser sends it on no request by itself
// (docs/security.md, "The dashboard").

const TOKEN_KEY = 'errand.token';
let token = storedToken();
const signInListeners = new Set();

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the token lasts until the page is left
  }
}

/** Sets the bearer token sent with every request and keeps it for this tab (null: none). */
export function setToken(value) {
  token = value || null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: kept in memory only
  }
}

/** Whether a token is being sent. */
export function hasToken() {
  return token !== null;
}

/** Calls fn(detail) each time the server answers 401: a token is missing or not valid. */
export function onSignInNeeded(fn) {
  signInListeners.add(fn);
}

/** The headers that authenticate a request. */
export function authHeaders() {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export class ApiError extends Error {
  /** status 0 means the server could not be reached. */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * The ApiError for an answer `res` that is not 2xx, whose body parsed to
 * `data` (a problem, or null). A 401 also tells the onSignInNeeded listeners;
 * a 403 says in words that the token lacks the right.
 */
export function errorOf(res, data) {
  const detail = data?.detail || data?.title || `${res.status} ${res.statusText}`;
  if (res.status === 401) for (const fn of signInListeners) fn(detail);
  if (res.status === 403) return new ApiError(403, `This token may not see this: ${detail}`);
  return new ApiError(res.status, detail);
}

/**
 * Sends a request and returns the parsed JSON answer (null for 204).
 * Throws ApiError for a non-2xx answer or a network failure.
 */
export async function request(method, path, { body, signal } = {}) {
  const headers = { accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, signal, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'The errand server cannot be reached.');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // a proxy's HTML error page, say: reported below by status
  }
  if (!res.ok) throw errorOf(res, data);
  return data;
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options) => request('POST', path, { ...options, body: body ?? {} });
export const del = (path, options) => request('DELETE', path, options);

/** "/v1/jobs?queue=a&state=failed" from a path and the defined values of `params`. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export const jobPath = (id) => `/v1/jobs/${encodeURIComponent(id)}`;
export const flowPath = (id) => `/v1/flows/${encodeURIComponent(id)}`;
export const queuePath = (name) => `/v1/queues/${encodeURIComponent(name)}`;
