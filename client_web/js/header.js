// The signed-in header shared by the staff pages: who is signed in (a link to change the
// password), the staff accounts page for admins, and the sign-out form.

import { getMe } from './api.js';
import { byId, el } from './ui.js';

/**
 * The change-password page; `required` when the server refused for a one-time password, and
 * coming back to this page afterwards.
 * @param {boolean} required
 */
export function passwordPageUrl(required) {
  const next = encodeURIComponent(location.pathname + location.search);
  return `/password?${required ? 'required=1&' : ''}next=${next}`;
}

/**
 * Show the signed-in user in the header (#user-name) and return {username, role}.
 * A signed-out visitor is sent to the sign-in page by the API helper; one whose password was
 * reset to a one-time password while the page was open, to the change-password page.
 */
export async function loadUser() {
  let me;
  try {
    me = await getMe();
  } catch (error) {
    if (error.code === 'password_change_required') location.assign(passwordPageUrl(true));
    throw error;
  }
  const name = byId('user-name');
  name.replaceChildren(el('a', {
    href: passwordPageUrl(false), title: 'Change your password', 'data-testid': 'password-link',
  }, `${me.username} (${me.role})`));
  if ((me.role === 'expert' || me.role === 'admin') && !document.querySelector('[data-testid="queue-link"]')) {
    name.before(el('a', { href: '/queue', 'data-testid': 'queue-link' }, 'Queue'));
  }
  if (me.role === 'admin' && !document.querySelector('[data-testid="admin-link"]')) {
    name.before(el('a', { href: '/admin', 'data-testid': 'admin-link' }, 'Accounts'));
  }
  return me;
}

/**
 * True if this role may create and change cases and sessions (trainers only read).
 * @param {{role: string}} me
 */
export function canEdit(me) {
  return me.role === 'expert' || me.role === 'admin';
}
