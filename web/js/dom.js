// Building DOM nodes without innerHTML: every piece of server data reaches
// the page as text, never as markup.

/**
 * Creates an element. `attrs` keys are attributes, except `on*` functions
 * (event listeners), `class` and `text`; false/null/undefined values are left out.
 * Children may be nodes, strings, numbers, null or (nested) arrays.
 */
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'text') {
      el.textContent = String(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces all children of `el`. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const drawnKeys = new WeakMap();

/**
 * Replaces the children of `el` with build()'s only when `key` differs from
 * the last one drawn there, so that live updates that change nothing keep the
 * focus on a link inside `el`.
 */
export function redraw(el, key, build) {
  if (drawnKeys.get(el) === key) return;
  drawnKeys.set(el, key);
  replaceChildren(el, build());
}

/** Says `message` in the page's live region (announced by screen readers). */
export function announce(message) {
  const region = document.getElementById('announcer');
  region.textContent = '';
  // A fresh text node after a tick is announced even when it repeats the last one.
  setTimeout(() => { region.textContent = message; }, 50);
}
