// The sign-in page: shows the error after a failed attempt and keeps where to go next.

import { byId, showMessage } from './ui.js';

/** ?error= as the server sets it after a failed sign-in -> what to show. */
const ERRORS = new Map([
  ['1', 'Wrong username or password'],
  ['disabled', 'This account is disabled. Ask an admin to enable it.'],
]);

const params = new URLSearchParams(location.search);
showMessage('login-error', ERRORS.get(params.get('error')) || '');
const next = params.get('next');
// Sent only when there is one (a disabled field is not submitted), and only a path on this
// site, so a crafted link cannot send the user elsewhere after signing in.
if (next && next.startsWith('/') && !next.startsWith('//')) {
  const field = byId('login-next');
  field.value = next;
  field.disabled = false;
}
