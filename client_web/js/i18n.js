// The page's words in the customer's language (docs/customer-page.md, "Languages"): message
// catalogs from the server (/locales/<code>.json: the built-in client_web/locales over which a site's
// --locales directory is laid), `t(key, params)` for words made in scripts, and `data-i18n`
// attributes for words in the HTML. A page opts in with `<html data-i18n-page>`: it then takes the
// language its picker remembers, else the one the server chose from Accept-Language. Other pages
// (the expert's) stay in English. Every key falls back to English, and a page whose catalogs cannot
// be loaded keeps the English words of its HTML.
//
// In the HTML: `data-i18n="key"` sets an element's text; `data-i18n-attr="aria-label:key;placeholder:key2"`
// its attributes. A message's `{name}` is filled from `params`; in `data-i18n` text, a `{name}`
// with a child element marked `data-i18n-slot="name"` puts that element there (it keeps its own
// `data-i18n`), so markup such as <strong> survives translation without HTML in catalogs.

/** Where the customer's choice in the picker is remembered (per browser, for every session). */
export const STORE_KEY = 'repairsight.language';
/** The language every key exists in. */
export const DEFAULT_LANGUAGE = 'en';

/** @type {Record<string, string>} */
let fallback = {};
/** @type {Record<string, string>} */
let messages = {};
/** The language the page is in now. */
export let language = DEFAULT_LANGUAGE;
/** @type {{code: string, name: string, dir: string}[]} */
export let languages = [];
const listeners = new Set();

/** @param {string} code @returns {Promise<{code: string, dir: string, messages: Record<string, string>}>} */
async function fetchCatalog(code) {
  const response = await fetch(`/locales/${encodeURIComponent(code)}.json`);
  if (!response.ok) throw new Error(`no catalog for ${code} (HTTP ${response.status})`);
  return response.json();
}

function remembered() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage blocked: the server's choice
  }
}

/** @param {string} code */
function remember(code) {
  try {
    localStorage.setItem(STORE_KEY, code);
  } catch {
    // storage blocked: the choice holds until the page is reloaded
  }
}

/**
 * The message `key` in the page's language (else English, else the key), `{name}` filled from
 * `params`. With a numeric `params.count`, `key.<plural form>` is tried first (`.one`, `.few`,
 * `.other`…, Intl.PluralRules of the language), so every language gets its own plurals.
 * @param {string} key
 * @param {Record<string, string|number>} [params]
 */
export function t(key, params = {}) {
  let text;
  if (typeof params.count === 'number') {
    const form = new Intl.PluralRules(language).select(params.count);
    text = messages[`${key}.${form}`] ?? messages[`${key}.other`];
    if (text === undefined) {
      const englishForm = new Intl.PluralRules(DEFAULT_LANGUAGE).select(params.count);
      text = fallback[`${key}.${englishForm}`] ?? fallback[`${key}.other`];
    }
  }
  text = text ?? messages[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The message `key` in English, for what the expert is told (the expert's pages are in English). @param {string} key */
export function inEnglish(key) {
  return fallback[key] ?? key;
}

/** Is there a message for `key` (in this language or English)? */
export function has(key) {
  return key in messages || key in fallback;
}

/** The page opted in (`<html data-i18n-page>`): the customer's pages. */
const localized = document.documentElement.hasAttribute('data-i18n-page');

/**
 * A server `error` (or a page's own problem with a `code`) in words: on a page that opted in, the
 * catalog's `error.<code>` when it has one (words for the customer); else the server's own message
 * (English, as the expert's pages show it), else the code.
 * @param {{code?: string, message?: string}|null|undefined} error
 */
export function explain(error) {
  if (!error) return '';
  if (localized && error.code && has(`error.${error.code}`)) return t(`error.${error.code}`);
  return error.message || (error.code ? t('error.other', { code: error.code }) : '');
}

/** A list in the language's words: "a, b and c". @param {string[]} items */
export function listOf(items) {
  try {
    return new Intl.ListFormat(language, { type: 'conjunction' }).format(items);
  } catch {
    return items.join(', ');
  }
}

/** @param {Element} node @param {string} text */
function fillText(node, text) {
  const slots = new Map([...node.querySelectorAll(':scope > [data-i18n-slot]')].map((child) => [child.getAttribute('data-i18n-slot'), child]));
  if (!slots.size) {
    node.textContent = text;
    return;
  }
  const parts = text.split(/\{(\w+)\}/);
  node.replaceChildren(...parts.map((part, i) => (i % 2 && slots.has(part) ? slots.get(part) : part)).filter((part) => part !== ''));
}

/** Put the page's language on every `data-i18n` element and attribute under `root`. @param {ParentNode} [root] */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll('[data-i18n]:not(html)')) {
    const params = node.getAttribute('data-i18n-params');
    fillText(node, t(node.getAttribute('data-i18n'), params ? JSON.parse(params) : {}));
  }
  for (const node of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of node.getAttribute('data-i18n-attr').split(';')) {
      const [attribute, key] = pair.split(':').map((s) => s.trim());
      if (attribute && key) node.setAttribute(attribute, t(key));
    }
  }
}

/**
 * Give an element a message that follows a change of language (its key is kept on the element).
 * @param {HTMLElement} node @param {string} key @param {Record<string, string|number>} [params]
 */
export function setText(node, key, params) {
  node.setAttribute('data-i18n', key);
  if (params) node.setAttribute('data-i18n-params', JSON.stringify(params));
  else node.removeAttribute('data-i18n-params');
  fillText(node, t(key, params));
}

/** Call `listener(code)` after every later change of language (words made by scripts redrawn). */
export function onLanguageChange(listener) {
  listeners.add(listener);
}

/**
 * Show the page in `code`: its catalog loaded, `<html lang dir>` set (Arabic: `dir="rtl"`, so the
 * layout mirrors), every `data-i18n` redone and the listeners told. A catalog that cannot be
 * loaded leaves the page as it was.
 * @param {string} code
 */
export async function useLanguage(code) {
  const catalog = code === DEFAULT_LANGUAGE ? { code, dir: 'ltr', messages: fallback } : await fetchCatalog(code);
  messages = catalog.messages || {};
  language = catalog.code || code;
  document.documentElement.lang = language;
  document.documentElement.dir = catalog.dir === 'rtl' ? 'rtl' : 'ltr';
  translatePage();
  for (const listener of listeners) listener(language);
}

/**
 * A `<select>` that shows the languages there are, each in its own name, and switches the page
 * to the one picked, remembered in this browser for the next pages and reloads.
 * @param {HTMLSelectElement} select
 */
export function bindPicker(select) {
  const fill = () => {
    select.replaceChildren(...languages.map(({ code, name }) => {
      const option = document.createElement('option');
      option.value = code;
      option.textContent = name;
      option.lang = code;
      return option;
    }));
    select.value = language;
  };
  fill();
  select.hidden = languages.length < 2;
  select.addEventListener('change', async () => {
    const code = select.value;
    remember(code);
    try {
      await useLanguage(code);
    } catch {
      select.value = language; // the catalog did not come: keep the words there are
    }
  });
}

/** Load English, then the page's language: the remembered choice if there is still such a language, else the server's. */
async function start() {
  try {
    fallback = (await fetchCatalog(DEFAULT_LANGUAGE)).messages || {};
  } catch {
    fallback = {}; // the HTML keeps its English words; scripts' words show their keys
  }
  messages = fallback;
  if (!localized) return;
  let chosen = DEFAULT_LANGUAGE;
  try {
    const response = await fetch('/locales');
    const listing = await response.json();
    languages = listing.languages || [];
    chosen = listing.chosen || DEFAULT_LANGUAGE;
  } catch {
    languages = [];
  }
  const mine = remembered();
  const code = mine && languages.some((l) => l.code === mine) ? mine : chosen;
  try {
    await useLanguage(code);
  } catch {
    await useLanguage(DEFAULT_LANGUAGE);
  }
  const picker = document.getElementById('language-picker');
  if (picker) bindPicker(/** @type {HTMLSelectElement} */ (picker));
}

try {
  await start();
} finally {
  // The page shows once its words are in place (app.css hides it until then): no English flash.
  document.documentElement.setAttribute('data-i18n-ready', '');
}
