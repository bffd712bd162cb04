// Safe markdown for chat bodies: parse() turns text into a tree of plain objects (pure, no DOM),
// toFragment() builds DOM from it with createElement/textContent only. No HTML is ever parsed,
// so `<script>`, `<img onerror>` and entities stay literal text; links keep only http(s)/mailto
// targets and images only our own /v1/files/ URLs (the CSP's img-src allows nothing else).
// Subset: **bold**, *em* / _em_, `code`, ``` fences, > quotes, - / 1. lists, [text](url),
// ![alt](/v1/files/f_…), bare http(s) URLs, @{id} / @id mentions (docs/groups.md).

const MAX_DEPTH = 4;
const SAFE_LINK = /^(https?:\/\/|mailto:)[^\s\x00-\x1f\x7f]*$/i;
const FILE_PATH = /^\/v1\/files\/(f_[0-9A-Za-z]{1,64})$/;
const MENTION = /^@\{(P?[1-9][0-9]{0,17})\}|^@(P?[1-9][0-9]{0,17})(?![\w])/;
const BARE_URL = /^https?:\/\/[^\s<>()"'`]+[^\s<>()"'`.,;:!?]/i;

/** The href to render for `url`, or null when it must stay text. */
export function safeHref(url) {
  const trimmed = String(url).trim();
  return SAFE_LINK.test(trimmed) ? trimmed : null;
}

/** The same-origin path of one of our files (`/v1/files/f_…`), or null. */
export function ownFilePath(url, origin) {
  let parsed;
  try {
    parsed = new URL(String(url).trim(), origin);
  } catch {
    return null;
  }
  if (parsed.origin !== new URL(origin).origin || parsed.search || parsed.hash) return null;
  return FILE_PATH.test(parsed.pathname) ? parsed.pathname : null;
}

/** Markdown text → block nodes. `origin` decides which image URLs are ours. */
export function parse(text, { origin = "http://localhost" } = {}) {
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  let para = [];
  const flush = () => {
    if (para.length) blocks.push({ t: "p", c: inlineLines(para, origin) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      flush();
      const body = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i]);
      blocks.push({ t: "pre", text: body.join("\n") });
    } else if (/^\s*>/.test(line)) {
      flush();
      const quoted = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) quoted.push(lines[i].replace(/^\s*> ?/, ""));
      i--;
      blocks.push({ t: "quote", c: inlineLines(quoted, origin) });
    } else if (/^\s*([-*+]|\d{1,9}[.)])\s+/.test(line)) {
      flush();
      const ordered = /^\s*\d/.test(line);
      const item = ordered ? /^\s*\d{1,9}[.)]\s+/ : /^\s*[-*+]\s+/;
      const items = [];
      for (; i < lines.length && item.test(lines[i]); i++) {
        items.push({ t: "li", c: inline(lines[i].replace(item, ""), origin, 0) });
      }
      i--;
      blocks.push({ t: ordered ? "ol" : "ul", c: items });
    } else if (!line.trim()) {
      flush();
    } else {
      para.push(line);
    }
  }
  flush();
  return blocks;
}

function inlineLines(lines, origin) {
  const out = [];
  lines.forEach((line, n) => {
    if (n) out.push({ t: "br" });
    out.push(...inline(line, origin, 0));
  });
  return out;
}

/** One line of inline markdown → inline nodes (text, strong, em, code, a, img, mention). */
export function inline(src, origin, depth) {
  const out = [];
  let text = "";
  const push = (node) => {
    if (text) out.push({ t: "text", text });
    text = "";
    out.push(node);
  };
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    const rest = src.slice(i);
    if (ch === "`") {
      const end = src.indexOf("`", i + 1);
      if (end > i + 1) {
        push({ t: "code", text: src.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    } else if ((ch === "*" || ch === "_") && depth < MAX_DEPTH) {
      const strong = src[i + 1] === ch;
      const mark = strong ? ch + ch : ch;
      const end = src.indexOf(mark, i + mark.length + 1);
      const prev = i ? src[i - 1] : " ";
      // `_` inside a word (snake_case) is not emphasis.
      if (end > 0 && !(ch === "_" && /\w/.test(prev)) && src[i + mark.length] !== " ") {
        const inner = inline(src.slice(i + mark.length, end), origin, depth + 1);
        push({ t: strong ? "strong" : "em", c: inner });
        i = end + mark.length;
        continue;
      }
    } else if (ch === "!" && src[i + 1] === "[") {
      const link = bracketLink(src, i + 1);
      if (link) {
        const path = ownFilePath(link.url, origin);
        push(path ? { t: "img", src: path, alt: link.label } : { t: "text", text: src.slice(i, link.end) });
        i = link.end;
        continue;
      }
    } else if (ch === "[" && depth < MAX_DEPTH) {
      const link = bracketLink(src, i);
      if (link) {
        const href = safeHref(link.url);
        const label = inline(link.label, origin, MAX_DEPTH); // no links inside links
        push(href ? { t: "a", href, c: label } : { t: "text", text: src.slice(i, link.end) });
        i = link.end;
        continue;
      }
    } else if (ch === "@" && !(i && /\w/.test(src[i - 1]))) {
      const m = MENTION.exec(rest);
      if (m) {
        push({ t: "mention", id: m[1] || m[2] });
        i += m[0].length;
        continue;
      }
    } else if ((ch === "h" || ch === "H") && !(i && /\w/.test(src[i - 1]))) {
      const m = BARE_URL.exec(rest);
      if (m) {
        push({ t: "a", href: m[0], c: [{ t: "text", text: m[0] }] });
        i += m[0].length;
        continue;
      }
    }
    text += ch;
    i++;
  }
  if (text) out.push({ t: "text", text });
  return out;
}

/** Plain text (format "text"): text nodes and mentions only, nothing else interpreted. */
export function mentionsOnly(src) {
  const out = [];
  let text = "";
  for (let i = 0; i < src.length; i++) {
    const m = src[i] === "@" && !(i && /\w/.test(src[i - 1])) ? MENTION.exec(src.slice(i, i + 24)) : null;
    if (m) {
      if (text) out.push({ t: "text", text });
      text = "";
      out.push({ t: "mention", id: m[1] || m[2] });
      i += m[0].length - 1;
    } else {
      text += src[i];
    }
  }
  if (text) out.push({ t: "text", text });
  return out;
}

function bracketLink(src, open) {
  const close = src.indexOf("](", open + 1);
  if (close < 0 || src.slice(open + 1, close).includes("[")) return null;
  const end = src.indexOf(")", close + 2);
  if (end < 0) return null;
  return { label: src.slice(open + 1, close), url: src.slice(close + 2, end), end: end + 1 };
}

const TAGS = { p: "p", pre: "pre", quote: "blockquote", ul: "ul", ol: "ol", li: "li", strong: "strong", em: "em", code: "code" };

/** Nodes → DocumentFragment. `names(id)` gives a mention's label; `me` marks mentions of the viewer. */
export function toFragment(nodes, doc, { names = (id) => id, me = null } = {}) {
  const frag = doc.createDocumentFragment();
  for (const node of nodes) frag.append(build(node, doc, names, me));
  return frag;
}

function build(node, doc, names, me) {
  const el = (tag, children) => {
    const e = doc.createElement(tag);
    for (const child of children || []) e.append(build(child, doc, names, me));
    return e;
  };
  switch (node.t) {
    case "text":
      return doc.createTextNode(node.text);
    case "br":
      return doc.createElement("br");
    case "pre": {
      const pre = doc.createElement("pre");
      const code = doc.createElement("code");
      code.textContent = node.text;
      pre.append(code);
      return pre;
    }
    case "code": {
      const code = doc.createElement("code");
      code.textContent = node.text;
      return code;
    }
    case "a": {
      const a = el("a", node.c);
      a.setAttribute("href", node.href);
      a.setAttribute("rel", "noopener noreferrer nofollow ugc");
      a.setAttribute("target", "_blank");
      return a;
    }
    case "img": {
      const img = doc.createElement("img");
      img.setAttribute("src", node.src);
      img.setAttribute("alt", node.alt || "image");
      img.setAttribute("loading", "lazy");
      img.className = "msg-img";
      return img;
    }
    case "mention": {
      const span = doc.createElement("span");
      span.className = node.id === me ? "mention mention-me" : "mention";
      span.textContent = "@" + names(node.id);
      span.dataset.id = node.id;
      return span;
    }
    default:
      return el(TAGS[node.t] || "span", node.c);
  }
}
