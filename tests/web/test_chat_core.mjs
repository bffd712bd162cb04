// Node tests of the chat page's non-DOM core (run by tests/web/test_chat_core.py).
import assert from "node:assert/strict";
import { parse, safeHref, ownFilePath, mentionsOnly } from "../../agentplaza/web/static/js/lib/markdown.js";
import { Inbox } from "../../agentplaza/web/static/js/lib/inbox.js";

const ORIGIN = "http://127.0.0.2:8000";
const md = (text) => parse(text, { origin: ORIGIN });
const walk = (nodes, out = []) => {
  for (const n of nodes) {
    out.push(n);
    if (n.c) walk(n.c, out);
  }
  return out;
};
const texts = (nodes) => walk(nodes).filter((n) => n.text !== undefined).map((n) => n.text).join("");
const kinds = (nodes) => new Set(walk(nodes).map((n) => n.t));
const ALLOWED = new Set(["p", "pre", "quote", "ul", "ol", "li", "text", "br", "strong", "em", "code", "a", "img", "mention"]);

// The subset.
assert.deepEqual(md("**b** *e* `c`")[0].c.map((n) => n.t), ["strong", "text", "em", "text", "code"]);
assert.deepEqual(md("- one\n- two")[0], { t: "ul", c: [{ t: "li", c: [{ t: "text", text: "one" }] }, { t: "li", c: [{ t: "text", text: "two" }] }] });
assert.equal(md("1. a\n2. b")[0].t, "ol");
assert.equal(md("> quoted")[0].t, "quote");
assert.deepEqual(md("```\n<b>x</b>\n```"), [{ t: "pre", text: "<b>x</b>" }]);
assert.deepEqual(md("[site](https://example.org/a?b=1)")[0].c[0].href, "https://example.org/a?b=1");
assert.equal(md("see https://example.org/x.")[0].c[1].href, "https://example.org/x");
assert.equal(md("snake_case_name")[0].c.length, 1);

// Mentions: @{id} and bare @id, not glued to word characters (docs/groups.md).
assert.deepEqual(md("hi @{10002} and @P10003!")[0].c.filter((n) => n.t === "mention").map((n) => n.id), ["10002", "P10003"]);
assert.ok(!kinds(md("bob@10002.example @10002abc")).has("mention"));

assert.deepEqual(mentionsOnly("*x* @{10002}, a@10003 @P5"), [
  { t: "text", text: "*x* " }, { t: "mention", id: "10002" }, { t: "text", text: ", a@10003 " }, { t: "mention", id: "P5" },
]);

// Hostile input stays text: no node type outside the subset, no unsafe href or image source.
const hostile = [
  "<script>window.__pwned=1</script>",
  '<img src=x onerror="window.__pwned=1">',
  "[click](javascript:window.__pwned=1)",
  "[click]( JaVaScRiPt:alert(1))",
  "[x](java&#x73;cript:alert(1))",
  "[x](data:text/html,<script>alert(1)</script>)",
  "[x](vbscript:msgbox)",
  "![x](https://evil.example/track.png)",
  "![x](//evil.example/v1/files/f_ABC)",
  "![x](javascript:alert(1))",
  "![x](/v1/files/f_ABC?x=1)",
  "**[x](javascript:alert(1))**",
  "[a [b](javascript:x)](https://ok.example)",
  "`<script>`",
  "&lt;script&gt;",
];
for (const body of hostile) {
  const tree = md(body);
  for (const node of walk(tree)) {
    assert.ok(ALLOWED.has(node.t), `${body}: node ${node.t}`);
    if (node.t === "a") assert.match(node.href, /^(https?:\/\/|mailto:)/i, body);
    if (node.t === "img") assert.match(node.src, /^\/v1\/files\/f_[0-9A-Za-z]+$/, body);
  }
}
assert.equal(texts(md(hostile[0])), hostile[0]); // shown literally, not dropped
assert.equal(texts(md(hostile[1])), hostile[1]);
assert.equal(safeHref(" javascript:alert(1)"), null);
assert.equal(safeHref("https://ok.example/\u0000"), null);
assert.equal(ownFilePath("/v1/files/f_ABC", ORIGIN), "/v1/files/f_ABC");
assert.equal(ownFilePath(`${ORIGIN}/v1/files/f_ABC`, ORIGIN), "/v1/files/f_ABC");
assert.equal(ownFilePath("https://evil.example/v1/files/f_ABC", ORIGIN), null);
assert.equal(ownFilePath("/v1/files/../users/f_ABC", ORIGIN), null);
assert.deepEqual(md("![cat](/v1/files/f_01JD3X)")[0].c[0], { t: "img", src: "/v1/files/f_01JD3X", alt: "cat" });

// A 60 KiB body of nested markers parses quickly (no backtracking blow-up).
const started = Date.now();
parse("*_[`".repeat(15000) + "**a".repeat(5000));
assert.ok(Date.now() - started < 2000, "pathological input too slow");

// Inbox: resume by seq, dedup by id, reconnect after errors.
class FakeSource {
  static all = [];
  constructor(url) {
    this.url = url;
    this.listeners = {};
    this.closed = false;
    FakeSource.all.push(this);
  }
  addEventListener(type, f) {
    (this.listeners[type] ||= []).push(f);
  }
  emit(type, event = {}) {
    for (const f of this.listeners[type] || []) f(event);
  }
  close() {
    this.closed = true;
  }
}
const timers = [];
const got = [];
const states = [];
const inbox = new Inbox({
  onItem: (item) => got.push(item.id),
  onState: (s) => states.push(s),
  EventSourceImpl: FakeSource,
  setTimer: (f) => timers.push(f),
});
const msg = (id, seq) => ({ data: JSON.stringify({ id, seq }), lastEventId: String(seq) });
inbox.start();
let es = FakeSource.all.at(-1);
assert.equal(es.url, "/v1/stream"); // first open: the unacked backlog
es.emit("open");
es.emit("message", msg("m_1", 1));
es.emit("message", msg("m_2", 2));
es.emit("message", msg("m_2", 2)); // a replay
assert.ok(!inbox.markSeen("m_1"));
assert.ok(inbox.markSeen("m_own")); // the page's own send, recorded
es.emit("error"); // the server went away
assert.ok(es.closed);
assert.equal(timers.length, 1);
timers.shift()();
es = FakeSource.all.at(-1);
assert.equal(es.url, "/v1/stream?since_seq=2");
es.emit("error"); // still down: back off and try again
timers.shift()();
es = FakeSource.all.at(-1);
assert.equal(es.url, "/v1/stream?since_seq=2");
es.emit("open");
es.emit("message", msg("m_2", 2)); // overlap at the resume point
es.emit("message", msg("m_3", 3));
es.emit("message", msg("m_own", 4)); // would never come, but must not double if it did
assert.deepEqual(got, ["m_1", "m_2", "m_3"]);
assert.deepEqual(states, ["connecting", "live", "reconnecting", "reconnecting", "reconnecting", "reconnecting", "live"]);
inbox.stop();
assert.ok(es.closed);
es.emit("error");
assert.equal(timers.length, 0); // stopped: no reconnect
// A revoked credential (`event: error` with invalid_credentials) stops the stream for good.
const revokedWith = [];
const inbox2 = new Inbox({ onItem() {}, onRevoked: (e) => revokedWith.push(e.code), EventSourceImpl: FakeSource, setTimer: (f) => timers.push(f) });
inbox2.start();
const es2 = FakeSource.all.at(-1);
es2.emit("error", { data: JSON.stringify({ detail: "credentials revoked", code: "invalid_credentials" }) });
assert.ok(es2.closed);
assert.deepEqual(revokedWith, ["invalid_credentials"]);
assert.equal(timers.length, 0);
console.log("ok");
