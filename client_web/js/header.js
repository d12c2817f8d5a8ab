// The signed-in header shared by the staff pages: who is signed in, and the sign-out form.

import { getMe } from './api.js';
import { byId } from './ui.js';

/**
 * Show the signed-in user in the header (#user-name) and return {username, role}.
 * A signed-out visitor is sent to the sign-in page by the API helper.
 */
export async function loadUser() {
  const me = await getMe();
  byId('user-name').textContent = `${me.username} (${me.role})`;
  return me;
}

/**
 * True if this role may create and change cases and sessions (trainers only read).
 * @param {{role: string}} me
 */
export function canEdit(me) {
  return me.role === 'expert' || me.role === 'admin';
}
