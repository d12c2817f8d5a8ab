// The "send this link to the customer" panel: link, QR code, copy button, console link.
// Used on the console home, the case page and the console (before the customer joins).

import { copyText, el, formatTime } from './ui.js';

/**
 * Fill `container` with a session's customer link (data-testid="customer-link": the full URL is
 * its text and its href), the QR code, a copy button and, unless `withConsoleLink` is false,
 * a link to the expert console.
 * @param {HTMLElement} container
 * @param {{id?: string, customer_url: string|null, console_url: string, qr_url: string|null, expires_at?: string, link_warning?: string|null}} session
 * @param {{withConsoleLink?: boolean}} [options]
 */
export function renderSessionLink(container, session, { withConsoleLink = true } = {}) {
  const shown = linkOf(session);
  if (!shown) {
    container.replaceChildren(el('p', { className: 'muted', 'data-testid': 'link-not-kept' },
      'The customer link was shown when this session was started; the server keeps only a fingerprint '
      + 'of it, so it cannot be shown again here. If the customer does not have it, end this session '
      + 'and start a new one.'));
    return;
  }
  session = { ...session, ...shown };
  const copyStatus = el('span', { className: 'copy-status', role: 'status' });
  const copyButton = el('button', { type: 'button', className: 'secondary', 'data-testid': 'copy-link' }, 'Copy link');
  copyButton.addEventListener('click', async () => {
    copyStatus.textContent = (await copyText(session.customer_url)) ? 'Copied' : 'Select the link and copy it';
  });
  const link = el('a', {
    href: session.customer_url,
    className: 'customer-link',
    'data-testid': 'customer-link',
    target: '_blank',
    rel: 'noopener',
  }, session.customer_url);
  container.replaceChildren(
    el('div', { className: 'session-link' },
      el('div', { className: 'session-link-text' },
        el('p', { className: 'label' }, 'Send this link to the customer, or let them scan the code:'),
        link,
        session.link_warning
          ? el('p', { className: 'message message-error', role: 'alert', 'data-testid': 'link-warning' }, session.link_warning)
          : null,
        el('p', { className: 'row' }, copyButton, copyStatus),
        session.expires_at ? el('p', { className: 'muted' }, `The link works until ${formatTime(session.expires_at)}.`) : null,
        withConsoleLink
          ? el('p', {}, el('a', { href: session.console_url, className: 'button', 'data-testid': 'open-console' }, 'Open the console'))
          : null),
      el('img', { src: session.qr_url, alt: 'QR code of the customer link', className: 'qr', width: 180, height: 180 })),
  );
}

const LINK_KEY = 'repairsight-link:';

/**
 * The session's link and QR code: from the answer that made it (the only one that carries them:
 * the server keeps a hash), kept for this tab so the console opened from it can show them too.
 * @param {{id?: string, customer_url?: string|null, qr_url?: string|null}} session
 * @returns {{customer_url: string, qr_url: string}|null}
 */
function linkOf(session) {
  const key = LINK_KEY + (session.id || '');
  try {
    if (session.customer_url && session.qr_url) {
      sessionStorage.setItem(key, JSON.stringify({ customer_url: session.customer_url, qr_url: session.qr_url }));
      return { customer_url: session.customer_url, qr_url: session.qr_url };
    }
    const kept = JSON.parse(sessionStorage.getItem(key) || 'null');
    return kept && typeof kept.customer_url === 'string' && typeof kept.qr_url === 'string' ? kept : null;
  } catch {
    return session.customer_url && session.qr_url ? { customer_url: session.customer_url, qr_url: session.qr_url } : null;
  }
}
