// "Try with a sample" on the console home (docs/demo.md): start a demo session, whose customer is
// the server playing a sample clip of the chosen procedure's device, and open its console.

import { api, getMe, listProcedures } from './api.js';
import { byId, el, showMessage } from './ui.js';

async function onStart() {
  const button = byId('demo-start');
  button.disabled = true;
  showMessage('demo-error', '');
  try {
    const procedureId = byId('demo-procedure').value;
    const demo = await api('/api/demo', { method: 'POST', body: procedureId ? { procedure_id: procedureId } : {} });
    location.assign(demo.console_url);
  } catch (error) {
    showMessage('demo-error', error.message);
    button.disabled = false;
  }
}

async function main() {
  let me;
  try {
    me = await getMe();
  } catch {
    return; // the home page itself says what is wrong
  }
  // Experts, admins and trainers: a trainer runs a demo (and no customer's session).
  if (!me || !['expert', 'admin', 'trainer'].includes(me.role)) return;
  const procedures = await listProcedures().catch((error) => {
    showMessage('demo-error', error.message);
    return [];
  });
  byId('demo-procedure').replaceChildren(
    ...procedures.map((p) => el('option', { value: p.id }, p.device_model ? `${p.title} (${p.device_model})` : p.title)),
  );
  byId('demo-start').disabled = procedures.length === 0;
  byId('demo-start').addEventListener('click', onStart);
  byId('demo').hidden = false;
}

main();
