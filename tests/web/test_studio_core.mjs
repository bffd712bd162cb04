// Node tests of the Studio's non-DOM core (run by tests/web/test_studio_page.py): the SSE
// parser that reads streamed POST answers, and the usage series of the agents page.
import assert from "node:assert/strict";
import { SSEParser, studioEvent, postStream } from "../../agentplaza/web/static/js/lib/sse.js";
import { usageDays } from "../../agentplaza/web/static/js/agents_usage.js";

// Events split anywhere, CRLF or LF, comments (keep-alives) skipped, multi-line data joined.
const p = new SSEParser();
assert.deepEqual(p.feed('event: text\ndata: {"content":"he'), []);
assert.deepEqual(p.feed('llo"}\n\n: ping\n\n'), [{ event: "text", data: '{"content":"hello"}' }]);
assert.deepEqual(p.feed('data: {"type":"done",\r\ndata: "data":{"x":1}}\r'), []);
assert.deepEqual(p.feed("\n\r\n"), [{ event: "message", data: '{"type":"done",\n"data":{"x":1}}' }]);
assert.deepEqual(p.feed("event: a\n\n"), []); // no data: no event
assert.deepEqual(p.feed("data:x\n\n"), [{ event: "message", data: "x" }]);

// Both wire forms become {type, data}; anything else is dropped.
assert.deepEqual(studioEvent({ event: "text", data: '{"content":"a"}' }), { type: "text", data: { content: "a" } });
assert.deepEqual(studioEvent({ event: "message", data: '{"type":"done","data":{"x":1}}' }), { type: "done", data: { x: 1 } });
assert.equal(studioEvent({ event: "message", data: "not json" }), null);
assert.equal(studioEvent({ event: "message", data: "[1]" }), null);
assert.deepEqual(studioEvent({ event: "error", data: "plain" }), { type: "error", data: { content: "plain" } });

// postStream: events in order from a chunked body; a JSON error answer rejects with its text.
const encoder = new TextEncoder();
const body = (chunks) => ({
  getReader() {
    let i = 0;
    return { read: async () => (i < chunks.length ? { value: encoder.encode(chunks[i++]), done: false } : { done: true }) };
  },
});
const response = (status, type, chunks) => ({
  ok: status < 300, status, headers: { get: () => type }, body: body(chunks),
  json: async () => JSON.parse(chunks.join("")),
});
const seen = [];
await postStream("/x", { a: 1 }, {
  fetchImpl: async (url, init) => {
    assert.equal(init.method, "POST");
    assert.equal(init.body, '{"a":1}');
    return response(200, "text/event-stream; charset=utf-8", ["event: text\ndata: {\"content\":\"A\"}\n", "\nevent: tool_call\nda", 'ta: {"id":"c1","name":"now"}\n\nevent: done\ndata: {}']);
  },
  onEvent: (e) => seen.push(e.type),
});
assert.deepEqual(seen, ["text", "tool_call", "done"]); // the last event, unterminated, still counts
await assert.rejects(
  postStream("/x", {}, { fetchImpl: async () => response(429, "application/json", ['{"success":false,"error":"too many","code":429}']), onEvent: () => {} }),
  (err) => err.message === "too many" && err.status === 429,
);

// The usage series: oldest first, totals from the parts when the answer has none.
assert.deepEqual(
  usageDays({ days: [
    { date: "2026-12-06", input_tokens: 10, output_tokens: 5, tokens: 15, cost_usd: 0.5 },
    { date: "2026-12-05", input_tokens: 1, output_tokens: 2 },
  ] }),
  [
    { date: "2026-12-05", input: 1, output: 2, total: 3, cost: 0 },
    { date: "2026-12-06", input: 10, output: 5, total: 15, cost: 0.5 },
  ],
);
assert.deepEqual(usageDays(null), []);

console.log("ok");
