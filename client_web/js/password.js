// The change-password page: the current password, the new one twice (POST /api/password), then
// on to where the visitor was going. A sign-in with a one-time password lands here first
// (?required=1), and every other staff page and route refuses until the change is made.

import { changePassword } from './api.js';
import { byId, sentence, showMessage } from './ui.js';

const params = new URLSearchParams(location.search);

/** Only a path on this site, so a crafted link cannot send the user elsewhere afterwards. */
function nextPath() {
  const next = params.get('next');
  return next && next.startsWith('/') && !next.startsWith('//') && next !== location.pathname ? next : '/';
}

/** The server names the field ("new_password: ..."); the form's labels already say which. */
function withoutField(message) {
  return sentence(String(message).replace(/^[a-z_]+: /, ''));
}

async function submit(event) {
  event.preventDefault();
  const current = /** @type {HTMLInputElement} */ (byId('password-current')).value;
  const fresh = /** @type {HTMLInputElement} */ (byId('password-new')).value;
  const again = /** @type {HTMLInputElement} */ (byId('password-confirm')).value;
  if (fresh !== again) {
    showMessage('password-error', 'The two new passwords differ; type the same one twice.');
    return;
  }
  const button = /** @type {HTMLButtonElement} */ (byId('password-submit'));
  button.disabled = true;
  showMessage('password-error', '');
  try {
    await changePassword(current, fresh);
    location.assign(nextPath());
  } catch (error) {
    showMessage('password-error', withoutField(error.message));
    button.disabled = false;
  }
}

byId('password-required').hidden = params.get('required') !== '1';
byId('password-form').addEventListener('submit', submit);
