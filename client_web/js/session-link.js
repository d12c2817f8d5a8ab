// The "send this link to the customer" panel: link, QR code, copy button, console link.
// Used on the console home, the case page and the console (before the customer joins).

import { copyText, el, formatTime } from './ui.js';

/**
 * Fill `container` with a session's customer link (data-testid="customer-link": the full URL is
 * its text and its href), the QR code, a copy button and, unless `withConsoleLink` is false,
 * a link to the expert console.
 * @param {HTMLElement} container
 * @param {{customer_url: string, console_url: string, qr_url: string, expires_at?: string, link_warning?: string|null}} session
 * @param {{withConsoleLink?: boolean}} [options]
 */
export function renderSessionLink(container, session, { withConsoleLink = true } = {}) {
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
