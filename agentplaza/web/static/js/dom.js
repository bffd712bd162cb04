// Building the page from data: every string goes in as text, never as HTML.
import { parse, toFragment } from "./lib/markdown.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let strings = null;
export function t(key, vars = {}) {
  if (strings === null) {
    const node = document.getElementById("i18n");
    strings = node ? JSON.parse(node.textContent) : {};
  }
  let text = strings[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, value);
  return text;
}

// Markdown through the one renderer (lib/markdown.js): escape first, safe links only.
export function md(text) {
  return toFragment(parse(text, { origin: location.origin }), document);
}

export function time(iso) {
  const date = new Date(iso);
  return h("time", { datetime: iso, title: date.toLocaleString() }, date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
}

export function say(el, text, isError = false) {
  el.textContent = text;
  el.classList.toggle("error", isError);
}

export const me = () => document.body.dataset.me || null;
