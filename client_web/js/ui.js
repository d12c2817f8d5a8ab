// Small DOM and formatting helpers shared by the pages.

/**
 * Create an element: `el('a', {href: '/x', className: 'link'}, 'text', child)`.
 * Attributes named `dataset`/`className`/`textContent` or starting with `on` are set as properties;
 * `data-*`, `aria-*` and the rest as attributes. Children are nodes or strings (never HTML).
 * @param {string} tag
 * @param {Record<string, any>} [attributes]
 * @param {...(Node|string|null|undefined|false)} children
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'className' || name === 'textContent' || name.startsWith('on')) node[name] = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/**
 * The element with this id; throws a clear error when the page lacks it.
 * @param {string} id
 */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no element #${id}`);
  return node;
}

/**
 * Show `text` in the message element `id` (hidden when there is nothing to say).
 * @param {string} id
 * @param {string} text
 */
export function showMessage(id, text) {
  const node = byId(id);
  node.textContent = text;
  node.hidden = !text;
}

/**
 * A date-time for people, in their locale: "22 Nov 2026, 11:00".
 * @param {string|null|undefined} iso ISO 8601 text
 */
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * A clock time for chat lines: "11:04".
 * @param {string} iso ISO 8601 text
 */
export function formatClock(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/**
 * A duration for people: "1 h 02 min", "3 min 07 s", "12 s".
 * @param {number|null|undefined} seconds
 */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n) => String(n).padStart(2, '0');
  if (h > 0) return `${h} h ${pad(m)} min`;
  if (m > 0) return `${m} min ${pad(s)} s`;
  return `${s} s`;
}

/**
 * Text as a sentence: first letter capitalised (server messages start in lower case).
 * @param {string} text
 */
export function sentence(text) {
  const value = String(text || '');
  return value.charAt(0).toUpperCase() + value.slice(1);
}

/**
 * A notice area that shows short, non-blocking messages (newest first, each fades after a while).
 * @param {HTMLElement} area an element with role="status" or aria-live
 * @param {number} [keepMs] how long a notice stays
 */
export function makeNotifier(area, keepMs = 8000) {
  return function notify(text, kind = 'error') {
    const item = el('p', { className: `notice notice-${kind}` }, sentence(text));
    area.prepend(item);
    while (area.children.length > 3) area.lastElementChild.remove();
    setTimeout(() => item.remove(), keepMs);
  };
}

/**
 * Copy text to the clipboard, falling back to a selection copy where the Clipboard API is missing
 * (it needs a secure context). Resolves to true on success.
 * @param {string} text
 */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the old way
    }
  }
  const field = el('textarea', { readonly: true, 'aria-hidden': 'true', className: 'offscreen' });
  field.value = text;
  document.body.append(field);
  field.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  field.remove();
  return copied;
}
