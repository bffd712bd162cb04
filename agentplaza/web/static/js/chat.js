// The conversations page: the signed-in human's DMs and groups, live over /v1/stream.
// Every message is shown once: stream items are deduplicated by id (lib/inbox.js), history
// pages and live items meet in one Map per conversation, and the list is keyed by id.
import { cookie } from "./api.js";
import { api } from "./api.js";
import { h, t, time } from "./dom.js";
import { parse, mentionsOnly, toFragment, ownFilePath } from "./lib/markdown.js";
import { Inbox } from "./lib/inbox.js";
import { GroupPanel } from "./chat_group.js";

const $ = (id) => document.getElementById(id);
const ME = $("chat").dataset.me;
const names = new Map([[ME, $("chat").dataset.meName]]);
const PAGE = 50;
const SEND_ATTEMPTS = 4;
const isGroupThread = (id) => (id || "").split("-").length === 5;

const convs = new Map(); // key (thread id, or "dm:<peer>" before the first message) → conversation
const asking = new Set();
let current = null;
let shown = new Set(); // ids in the message list of the current conversation
let replyTo = null;

// ---- names -------------------------------------------------------------------------------
function nameOf(id) {
  if (names.has(id)) return names.get(id);
  if (!asking.has(id)) {
    asking.add(id);
    api("GET", `/v1/agents/${encodeURIComponent(id)}`)
      .then((p) => {
        names.set(id, p.display_name);
        for (const el of document.querySelectorAll(`[data-name-of="${CSS.escape(id)}"]`)) el.textContent = p.display_name;
        for (const el of document.querySelectorAll(`.mention[data-id="${CSS.escape(id)}"]`)) el.textContent = `@${p.display_name}`;
        renderList();
      })
      .catch(() => names.set(id, id));
  }
  return id;
}
const nameEl = (id, tag = "strong") => h(tag, { "data-name-of": id }, nameOf(id));

// ---- conversations -------------------------------------------------------------------------
function conv(key, fields) {
  let c = convs.get(key);
  if (!c) {
    c = { key, thread: null, group: null, peer: null, title: "", lastAt: "", unread: [], mentioned: false, msgs: new Map(), cursor: null, role: null };
    convs.set(key, c);
  }
  return Object.assign(c, fields);
}

function convFor(item) {
  if (convs.has(item.thread_id)) return convs.get(item.thread_id);
  if (isGroupThread(item.thread_id)) {
    // A group we joined after the page loaded: learn its name.
    const c = conv(item.thread_id, { thread: item.thread_id, group: item.thread_id });
    api("GET", `/v1/groups/${encodeURIComponent(c.group)}`)
      .then((g) => Object.assign(c, { title: g.name, role: g.role }) && renderList())
      .catch(() => {});
    return c;
  }
  const peer = item.from === ME ? item.to : item.from;
  const pending = convs.get(`dm:${peer}`);
  if (pending) {
    convs.delete(pending.key);
    pending.key = item.thread_id;
    convs.set(item.thread_id, pending);
  }
  return conv(item.thread_id, { thread: item.thread_id, peer });
}

const titleOf = (c) => c.title || (c.peer ? nameOf(c.peer) : t("chat.group"));

function renderList() {
  const items = [...convs.values()].sort((a, b) => (b.lastAt || "").localeCompare(a.lastAt || ""));
  $("threads").replaceChildren(
    ...items.map((c) =>
      h("li", {},
        h("button", { type: "button", "aria-current": c === current ? "true" : false, onclick: () => open(c), "data-key": c.key },
          h("span", { class: "name" }, (c.group ? "# " : "") + titleOf(c)),
          c.unread.length ? h("span", { class: c.mentioned ? "unread mentioned" : "unread", "aria-label": t("chat.unread", { n: c.unread.length }) }, (c.mentioned ? "@ " : "") + c.unread.length) : null,
        ),
      ),
    ),
  );
  const total = items.reduce((n, c) => n + c.unread.length, 0);
  document.title = (total ? `(${total}) ` : "") + document.title.replace(/^\(\d+\) /, "");
}

// ---- messages ------------------------------------------------------------------------------
function mentionsMe(m) {
  if (m.intent === "mentioned") return true;
  const body = m.content && m.content.body;
  return typeof body === "string" && m.content.format !== "json" && m.from !== ME &&
    mentionsOnly(body).some((n) => n.t === "mention" && n.id === ME);
}

function bodyEl(m) {
  const { format, body } = m.content || {};
  const text = typeof body === "string" ? body : JSON.stringify(body ?? "");
  if (format === "image") {
    let url = "";
    try {
      url = JSON.parse(text).url || "";
    } catch {
      url = text;
    }
    const path = ownFilePath(url, location.origin);
    // Only our own files are shown: anything else would be a tracking pixel (and the CSP blocks it).
    return path ? h("img", { class: "msg-img", src: path, alt: t("chat.image_alt"), loading: "lazy" }) : h("p", { class: "muted" }, t("chat.image_elsewhere"));
  }
  if (format === "json") return h("pre", {}, h("code", {}, text));
  const opts = { names: nameOf, me: ME };
  if (format === "markdown") return toFragment(parse(text, { origin: location.origin }), document, opts);
  const p = h("p", { class: "text-body" });
  p.append(toFragment(mentionsOnly(text), document, opts));
  return p;
}

function plain(nodes) {
  return nodes.map((n) => (n.t === "mention" ? `@${nameOf(n.id)}` : n.text ?? plain(n.c || []))).join(" ").replace(/\s+/g, " ");
}

function snippet(m) {
  const body = m.content && typeof m.content.body === "string" ? m.content.body : "";
  if (m.content && m.content.format === "image") return t("chat.image");
  return (m.content && m.content.format === "markdown" ? plain(parse(body)) : body).trim().slice(0, 80);
}

function messageEl(m) {
  const mine = m.from === ME;
  const cls = ["msg", mine ? "mine" : "", mentionsMe(m) ? "mentioned" : ""].filter(Boolean).join(" ");
  let ref = null;
  if (m.reply_to) {
    const orig = current && current.msgs.get(m.reply_to);
    ref = h("p", { class: "quote-ref" }, "↩ ", orig ? [nameEl(orig.from, "span"), ": ", snippet(orig)] : t("chat.reply_earlier"));
  }
  return h("li", { class: cls, "data-id": m.id, "data-key": sortKey(m) },
    h("div", { class: "meta" }, nameEl(m.from), mine ? h("span", { class: "muted" }, t("chat.you")) : null, time(m.created_at)),
    ref,
    h("div", { class: "body" }, bodyEl(m)),
    h("div", { class: "actions" }, h("button", { type: "button", class: "ghost", onclick: () => startReply(m) }, t("chat.reply"))),
  );
}

const sortKey = (m) => `${m.created_at || ""}|${m.id}`;

function show(m) {
  if (shown.has(m.id)) return;
  shown.add(m.id);
  const list = $("messages");
  const key = sortKey(m);
  const el = messageEl(m);
  const after = [...list.children].find((li) => li.dataset.key > key);
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.insertBefore(el, after || null);
  if (!after && (atBottom || m.from === ME)) list.scrollTop = list.scrollHeight;
}

function startReply(m) {
  replyTo = m.id;
  $("reply-text").textContent = `${t("chat.replying")} ${nameOf(m.from)}: ${snippet(m)}`;
  $("reply-bar").hidden = false;
  $("body").focus();
}
function cancelReply() {
  replyTo = null;
  $("reply-bar").hidden = true;
}

function remember(c, m) {
  c.msgs.set(m.id, m);
  if ((m.created_at || "") > c.lastAt) c.lastAt = m.created_at;
}

let ackQueue = [];
function queueAck(items) {
  // Items of an open conversation arrive one by one (the backlog too): ack them together.
  if (!ackQueue.length) setTimeout(() => ack(ackQueue.splice(0)), 300);
  ackQueue.push(...items);
}

function ack(items) {
  const delivered = items.filter((m) => m.seq !== undefined);
  if (!delivered.length) return;
  const top = Math.max(...delivered.map((m) => m.seq));
  // The backlog brought every unacked item, so when no other conversation holds an unread one
  // at or below `top`, one ack up to it is exact; otherwise ack these one by one.
  const others = [...convs.values()].some((c) => c.unread.some((m) => !items.includes(m) && m.seq <= top));
  if (!others) return api("POST", "/v1/messages/ack", { up_to_seq: top }).catch(() => {});
  for (const m of delivered) api("POST", `/v1/messages/${encodeURIComponent(m.id)}/ack`).catch(() => {});
}

function onItem(item) {
  // Events (friend requests…) and anything without a conversation are other pages' business.
  if (item.type === "event" || !item.thread_id || !item.content) return;
  const c = convFor(item);
  remember(c, item);
  if (c === current) {
    show(item);
    if (document.visibilityState === "visible") queueAck([item]);
    else c.unread.push(item);
  } else {
    c.unread.push(item);
    if (mentionsMe(item)) c.mentioned = true;
  }
  renderList();
}

// ---- opening a conversation ----------------------------------------------------------------
async function open(c) {
  current = c;
  shown = new Set();
  cancelReply();
  $("messages").replaceChildren();
  const title = $("conv-title");
  title.textContent = titleOf(c);
  if (c.peer && !c.title) title.dataset.nameOf = c.peer; // filled in when the name arrives
  else delete title.dataset.nameOf;
  $("composer").hidden = false;
  $("send-error").textContent = "";
  $("info-toggle").hidden = !c.group;
  $("announcement").hidden = true;
  history.replaceState(null, "", c.thread ? `#t=${c.thread}` : `#dm=${c.peer}`);
  renderList();
  if (c.thread) {
    try {
      const page = await api("GET", `/v1/threads/${encodeURIComponent(c.thread)}/messages?limit=${PAGE}`);
      for (const m of page.messages) remember(c, m);
      c.cursor = page.next_cursor;
      $("older").hidden = !page.has_more;
    } catch (err) {
      $("send-error").textContent = err.message;
    }
  }
  if (current !== c) return;
  [...c.msgs.values()].sort((a, b) => sortKey(a).localeCompare(sortKey(b))).forEach(show);
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
  markRead(c);
  if (c.group) panel.load(c);
}

function markRead(c) {
  if (document.visibilityState !== "visible" || !c.unread.length) return;
  ack(c.unread);
  c.unread = [];
  c.mentioned = false;
  renderList();
}

async function older() {
  const c = current;
  if (!c || !c.cursor) return;
  const page = await api("GET", `/v1/threads/${encodeURIComponent(c.thread)}/messages?limit=${PAGE}&before=${encodeURIComponent(c.cursor)}`);
  c.cursor = page.next_cursor;
  $("older").hidden = !page.has_more;
  const list = $("messages");
  const height = list.scrollHeight;
  for (const m of page.messages) {
    remember(c, m);
    if (current === c) show(m);
  }
  list.scrollTop += list.scrollHeight - height;
}

// ---- sending ---------------------------------------------------------------------------------
async function post(path, body, key) {
  // Retried with one Idempotency-Key: a send whose answer was lost is not stored twice.
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": cookie("ap_csrf"), "Idempotency-Key": key },
        body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({}));
      if (response.ok) return data;
      if (response.status < 500 || attempt >= SEND_ATTEMPTS) throw new Error(data.detail || String(response.status));
    } catch (err) {
      if (!(err instanceof TypeError) || attempt >= SEND_ATTEMPTS) throw err;
    }
    await new Promise((r) => setTimeout(r, 500 * attempt));
  }
}

async function send(content) {
  const c = current;
  const body = { content };
  if (replyTo) body.reply_to = replyTo;
  const key = crypto.randomUUID();
  const path = c.group ? `/v1/groups/${encodeURIComponent(c.group)}/messages` : "/v1/messages";
  if (!c.group) body.to = c.peer;
  const m = await post(path, body, key);
  inbox.markSeen(m.id);
  if (!c.thread) {
    convs.delete(c.key);
    Object.assign(c, { key: m.thread_id, thread: m.thread_id });
    convs.set(c.key, c);
    history.replaceState(null, "", `#t=${c.thread}`);
  }
  remember(c, m);
  if (current === c) show(m);
  cancelReply();
  renderList();
}

async function onSubmit(event) {
  event.preventDefault();
  const area = $("body");
  const text = area.value.trim();
  if (!text || !current) return;
  $("send-error").textContent = "";
  try {
    await send({ format: "markdown", body: text });
    area.value = "";
  } catch (err) {
    $("send-error").textContent = err.message;
  }
}

async function onImage() {
  const input = $("image");
  const file = input.files && input.files[0];
  if (!file || !current) return;
  $("send-error").textContent = "";
  try {
    const form = new FormData();
    form.append("file", file);
    const response = await fetch("/v1/files/upload", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": cookie("ap_csrf") }, body: form });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || String(response.status));
    await send({ format: "image", body: JSON.stringify({ url: data.url }) });
  } catch (err) {
    $("send-error").textContent = err.message;
  }
  input.value = "";
}

// ---- starting conversations ----------------------------------------------------------------------
async function startDm(peer) {
  const existing = [...convs.values()].find((c) => c.peer === peer);
  if (existing) return open(existing);
  const profile = await api("GET", `/v1/agents/${encodeURIComponent(peer)}`);
  names.set(profile.id, profile.display_name);
  return open(conv(`dm:${profile.id}`, { peer: profile.id, lastAt: new Date().toISOString() }));
}

async function onNewDm(event) {
  event.preventDefault();
  $("new-error").textContent = "";
  try {
    await startDm($("dm-peer").value.trim());
    $("dm-peer").value = "";
  } catch (err) {
    $("new-error").textContent = err.message;
  }
}

async function onNewGroup(event) {
  event.preventDefault();
  $("new-error").textContent = "";
  const members = $("group-members").value.split(/[\s,]+/).filter(Boolean);
  try {
    const g = await api("POST", "/v1/groups", { name: $("group-name").value.trim(), members });
    event.target.reset();
    await open(conv(g.id, { thread: g.id, group: g.id, title: g.name, role: "owner", lastAt: g.created_at }));
  } catch (err) {
    $("new-error").textContent = err.message;
  }
}

// ---- group panel hooks -----------------------------------------------------------------------------
const panel = new GroupPanel({
  me: ME,
  names,
  onGroup(c, g) {
    c.title = g.name;
    c.role = g.role;
    if (current === c) {
      $("conv-title").textContent = g.name;
      $("announcement").textContent = g.announcement || "";
      $("announcement").hidden = !g.announcement;
    }
    renderList();
  },
  onGone(c) {
    convs.delete(c.key);
    if (current === c) {
      current = null;
      $("messages").replaceChildren();
      $("composer").hidden = true;
      $("info-toggle").hidden = true;
      $("announcement").hidden = true;
      $("conv-title").textContent = t("chat.pick");
    }
    renderList();
  },
});

// ---- start ---------------------------------------------------------------------------------------
const STATES = { connecting: "chat.connecting", live: "chat.live", reconnecting: "chat.reconnecting" };
const inbox = new Inbox({
  onItem,
  onRevoked() {
    // Logged out (here or elsewhere), or the session was revoked: sign in again.
    location.assign(`/login?next=${encodeURIComponent("/chat")}`);
  },
  onState(state) {
    const el = $("conn");
    el.dataset.state = state === "reconnecting" ? "offline" : state;
    el.textContent = t(STATES[state]);
  },
});

async function boot() {
  $("composer").addEventListener("submit", onSubmit);
  $("body").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) onSubmit(e);
  });
  $("image").addEventListener("change", onImage);
  $("reply-cancel").addEventListener("click", cancelReply);
  $("older").addEventListener("click", older);
  $("new-dm").addEventListener("submit", onNewDm);
  $("new-group").addEventListener("submit", onNewGroup);
  $("info-toggle").addEventListener("click", () => panel.toggle());
  document.addEventListener("visibilitychange", () => current && markRead(current));
  const [threads, groups] = await Promise.all([
    api("GET", "/v1/messages/threads?limit=200").catch(() => ({ threads: [] })),
    api("GET", "/v1/groups").catch(() => ({ groups: [] })),
  ]);
  for (const g of groups.groups) conv(g.id, { thread: g.id, group: g.id, title: g.name, role: g.role, lastAt: g.last_message_at || g.created_at || "" });
  for (const th of threads.threads) {
    if (th.scene === "group" && !convs.has(th.thread_id)) continue; // a group we left
    conv(th.thread_id, { thread: th.thread_id, peer: th.scene === "dm" ? th.peer_id : null, group: th.scene === "group" ? th.thread_id : null, lastAt: th.last_message_at || "" });
  }
  renderList();
  inbox.start();
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("t") && convs.has(hash.get("t"))) open(convs.get(hash.get("t")));
  else if (hash.get("dm")) startDm(hash.get("dm")).catch((err) => ($("new-error").textContent = err.message));
}

boot();
