// The staff accounts page (admins only; the server refuses others): every account with its role,
// when it was made, whether it is disabled and whether its password is still one-time, and the
// admin's actions on it: disable or enable, and reset the password to a new one-time password.

import { disableUser, enableUser, listUsers, resetUserPassword } from './api.js';
import { loadUser } from './header.js';
import { byId, el, formatTime, sentence, showMessage } from './ui.js';

/** The signed-in admin: the page does not offer to disable their own account. */
let me = null;

function actionButton(label, testid, onClick, className = 'secondary') {
  const button = el('button', { type: 'button', className: `small ${className}`, 'data-testid': testid }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    showMessage('page-error', '');
    try {
      await onClick();
    } catch (error) {
      showMessage('page-error', sentence(error.message));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function showResetPassword(user, password) {
  byId('reset-result').replaceChildren(
    `New one-time password for ${user.username}: `,
    el('code', { className: 'one-time-password', 'data-testid': 'account-reset-password' }, password),
    ' — shown only this once. Hand it over; they choose their own at the next sign-in.',
  );
  byId('reset-result').hidden = false;
}

function actions(user) {
  const buttons = [];
  if (user.disabled) {
    buttons.push(actionButton('Enable', 'account-enable', async () => {
      await enableUser(user.id);
      await refresh();
    }));
  } else if (!me || user.username !== me.username) {
    buttons.push(actionButton('Disable', 'account-disable', async () => {
      if (!confirm(`Disable ${user.username}? They are signed out everywhere and their API tokens stop working.`)) return;
      await disableUser(user.id);
      await refresh();
    }, 'danger'));
  }
  buttons.push(actionButton('Reset password', 'account-reset', async () => {
    if (!confirm(`Give ${user.username} a new one-time password? Their current password stops working.`)) return;
    const result = await resetUserPassword(user.id);
    showResetPassword(result.user, result.password);
    await refresh();
  }));
  return el('div', { className: 'row' }, ...buttons);
}

function row(user) {
  return el('tr', { className: user.disabled ? 'disabled' : '', 'data-testid': 'account-row', 'data-username': user.username },
    el('th', { scope: 'row', 'data-testid': 'account-username' }, user.username),
    el('td', { 'data-testid': 'account-role' }, user.role),
    el('td', {}, formatTime(user.created_at)),
    el('td', { 'data-testid': 'account-status' },
      el('span', { className: `badge ${user.disabled ? 'badge-closed' : 'badge-open'}` }, user.disabled ? 'disabled' : 'active')),
    el('td', { 'data-testid': 'account-password' },
      user.must_change_password ? el('span', { className: 'badge badge-one-time' }, 'must change') : 'own'),
    el('td', {}, actions(user)));
}

async function refresh() {
  const users = await listUsers();
  byId('accounts').replaceChildren(...users.map(row));
  byId('accounts-status').textContent = `${users.length} account${users.length === 1 ? '' : 's'}`;
  byId('accounts-table').hidden = false;
}

async function main() {
  try {
    me = await loadUser();
    await refresh();
  } catch (error) {
    byId('accounts-status').textContent = '';
    showMessage('page-error', sentence(error.message));
  }
}

main();
