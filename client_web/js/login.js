// The sign-in page: shows the error after a failed attempt and keeps where to go next.

import { byId, showMessage } from './ui.js';

/** ?error= as the server sets it after a failed sign-in -> what to show. */
const ERRORS = new Map([
  ['1', 'Wrong username or password'],
  ['disabled', 'This account is disabled. Ask an admin to enable it.'],
]);

const params = new URLSearchParams(location.search);
/** The message for ?error= (and ?retry= seconds after too many failed sign-ins). */
function errorText(error, retry) {
  if (error === 'throttled') {
    const seconds = Number.parseInt(retry || '', 10);
    const wait = Number.isFinite(seconds) && seconds > 0 ? `in ${seconds} s` : 'in a few minutes';
    return `Too many failed sign-ins for this account or from this address. Try again ${wait}.`;
  }
  return ERRORS.get(error) || '';
}
showMessage('login-error', errorText(params.get('error'), params.get('retry')));
const next = params.get('next');
// Sent only when there is one (a disabled field is not submitted), and only a path on this
// site, so a crafted link cannot send the user elsewhere after signing in.
if (next && next.startsWith('/') && !next.startsWith('//')) {
  const field = byId('login-next');
  field.value = next;
  field.disabled = false;
}
