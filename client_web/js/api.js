// Fetch helpers for the REST API (docs/api-contract.md). Errors come back as
// {"error": {"code", "message"}}; they are thrown as ApiError with that message.

/** An API call that failed; `message` is the server's, ready to show. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} code the server's error code
   * @param {string} message what was wrong, for people
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Send a signed-out visitor to the sign-in page, coming back here afterwards. */
export function redirectToLogin() {
  location.assign(`/?next=${encodeURIComponent(location.pathname + location.search)}`);
}

/**
 * Call the API and return the decoded JSON body. Throws ApiError on failure; on 401 it also
 * sends the page to the sign-in form (unless `redirectOn401` is false).
 * @param {string} path e.g. "/api/cases"
 * @param {{method?: string, body?: any, redirectOn401?: boolean}} [options]
 */
export async function api(path, { method = 'GET', body, redirectOn401 = true } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  // The pages speak the current version of the API (the unversioned paths are an alias for scripts).
  const versioned = path.startsWith('/api/') && !path.startsWith('/api/v1/') ? `/api/v1/${path.slice(5)}` : path;
  let response;
  try {
    response = await fetch(versioned, init);
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check the connection and try again.');
  }
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  if (response.status === 401 && redirectOn401) redirectToLogin();
  const error = data && data.error;
  throw new ApiError(
    response.status,
    (error && error.code) || 'http_error',
    (error && error.message) || `The server answered ${response.status} ${response.statusText}.`.trim(),
  );
}

/**
 * Every item of a paged list endpoint (docs/api-contract.md, "Pages"), following next_cursor.
 * @param {string} path @param {string} key the list's name in each page
 */
export async function allPages(path, key) {
  const items = [];
  let cursor = null;
  do {
    const joiner = path.includes('?') ? '&' : '?';
    const page = await api(`${path}${joiner}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...((page && page[key]) || []));
    cursor = page ? page.next_cursor : null;
  } while (cursor);
  return items;
}

/** The signed-in user: {username, role}. */
export const getMe = () => api('/api/me');
/**
 * Change the signed-in user's own password (POST /api/password): {username, role}.
 * @param {string} currentPassword @param {string} newPassword
 */
export const changePassword = (currentPassword, newPassword) => api('/api/password', {
  method: 'POST', body: { current_password: currentPassword, new_password: newPassword },
});

/** Staff accounts, oldest first (admins only): [{id, username, role, created_at, disabled, must_change_password}]. */
export const listUsers = () => allPages('/api/users', 'users');
/** @param {string} id an account's id: it can no longer sign in, its cookies and tokens stop working */
export const disableUser = (id) => api(`/api/users/${encodeURIComponent(id)}/disable`, { method: 'POST' });
/** @param {string} id */
export const enableUser = (id) => api(`/api/users/${encodeURIComponent(id)}/enable`, { method: 'POST' });
/** @param {string} id a new one-time password for the account: {user, password} (shown once) */
export const resetUserPassword = (id) => api(`/api/users/${encodeURIComponent(id)}/password`, { method: 'POST' });

/** All cases, newest first (without sessions). */
export const listCases = () => allPages('/api/cases', 'cases');
/** @param {string} id */
export const getCase = (id) => api(`/api/cases/${encodeURIComponent(id)}`);
/** @param {object} fields title (required), customer_name, customer_contact, device_model, notes */
export const createCase = (fields) => api('/api/cases', { method: 'POST', body: fields });
/** @param {string} id @param {object} fields any of notes, status, outcome, title, ... */
export const updateCase = (id, fields) => api(`/api/cases/${encodeURIComponent(id)}`, { method: 'PATCH', body: fields });
/** @param {string} caseId */
export const startSession = (caseId) => api(`/api/cases/${encodeURIComponent(caseId)}/sessions`, { method: 'POST' });
/** @param {string} id */
export const getSession = (id) => api(`/api/sessions/${encodeURIComponent(id)}`);
/** @param {string} id */
export const endSessionRest = (id) => api(`/api/sessions/${encodeURIComponent(id)}/end`, { method: 'POST' });

/** @param {string} id the session's player data: chapters, chat, marks, AR track (docs/playback.md) */
export const getPlayback = (id) => api(`/api/sessions/${encodeURIComponent(id)}/playback`);

/**
 * The customer's page cannot join the call (no WebRTC): tell the server, which tells the expert.
 * @param {string} token the link token
 * @param {string} problem what is missing, in words
 */
export const reportCustomerProblem = (token, problem) => api(`/join/${encodeURIComponent(token)}/problem`, {
  method: 'POST',
  body: { problem, user_agent: String(navigator.userAgent || '').slice(0, 400) },
  redirectOn401: false,
});

/** The repair procedures: [{id, title, ...}] (GET /api/procedures). */
export const listProcedures = () => allPages('/api/procedures', 'procedures');
/** @param {string} id one procedure with its steps */
export const getProcedure = (id) => api(`/api/procedures/${encodeURIComponent(id)}`);

/** @param {URLSearchParams} params from, to (YYYY-MM-DD), procedure: the outcome figures (docs/analytics.md) */
export const getAnalytics = (params) => api(`/api/analytics?${params}`);
/** @param {URLSearchParams} params q, procedure, step, outcome, from, to: recordings that match */
export const searchLibrary = (params) => api(`/api/library${String(params) ? `?${params}` : ''}`);

/**
 * The last path segment after `prefix`, e.g. idFromPath('/cases/') on /cases/abc -> "abc".
 * @param {string} prefix
 */
export function idFromPath(prefix) {
  const path = location.pathname;
  if (!path.startsWith(prefix)) return '';
  return decodeURIComponent(path.slice(prefix.length).split('/')[0] || '');
}
