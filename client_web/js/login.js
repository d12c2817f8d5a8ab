// The sign-in page: shows the error after a failed attempt and keeps where to go next.

import { byId } from './ui.js';

const params = new URLSearchParams(location.search);
byId('login-error').hidden = params.get('error') !== '1';
const next = params.get('next');
// Sent only when there is one (a disabled field is not submitted), and only a path on this
// site, so a crafted link cannot send the user elsewhere after signing in.
if (next && next.startsWith('/') && !next.startsWith('//')) {
  const field = byId('login-next');
  field.value = next;
  field.disabled = false;
}
