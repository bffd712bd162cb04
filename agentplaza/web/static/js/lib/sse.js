// Server-sent events read from a fetch() body: EventSource cannot POST, and the Studio's
// streamed sends (/studio/api/messages/stream, a room's messages) are POSTs. No DOM: node
// can test the parser.

/** An incremental text/event-stream parser: feed() text chunks, get whole events back. */
export class SSEParser {
  constructor() {
    this.buffer = "";
    this.event = "";
    this.data = [];
  }

  /** @returns {{event: string, data: string}[]} the events completed by `chunk` */
  feed(chunk) {
    this.buffer += chunk;
    const out = [];
    let nl;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const width = this.buffer.startsWith("\r\n", nl) ? 2 : 1;
      // A lone \r at the very end may be half of a \r\n still in flight.
      if (width === 1 && this.buffer[nl] === "\r" && nl === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(nl + width);
      if (line === "") {
        if (this.data.length) out.push({ event: this.event || "message", data: this.data.join("\n") });
        this.event = "";
        this.data = [];
        continue;
      }
      if (line.startsWith(":")) continue; // a comment: keep-alive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
    }
    return out;
  }
}

/**
 * One studio event from an SSE event: `event: text` + `data: {...}`, or a bare
 * `data: {"type": "text", "data": {...}}` (both forms are accepted; unknown JSON is dropped).
 * @returns {{type: string, data: object} | null}
 */
export function studioEvent({ event, data }) {
  let parsed;
  try {
    parsed = JSON.parse(data);
  } catch {
    return event !== "message" ? { type: event, data: { content: data } } : null;
  }
  if (parsed === null || typeof parsed !== "object") return null;
  if (event !== "message") return { type: event, data: parsed };
  if (typeof parsed.type === "string") {
    const inner = parsed.data && typeof parsed.data === "object" ? parsed.data : parsed;
    return { type: parsed.type, data: inner };
  }
  return null;
}

/**
 * POST `body` as JSON to `url` and hand each studio event to `onEvent` as it arrives.
 * Aborting `signal` closes the connection, which the server takes as a cancel.
 * Rejects with {status, message} when the answer is not an event stream.
 */
export async function postStream(url, body, { headers = {}, signal, onEvent, fetchImpl = fetch }) {
  const response = await fetchImpl(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...headers },
    credentials: "same-origin",
    body: JSON.stringify(body),
    signal,
  });
  const type = response.headers.get("content-type") || "";
  if (!response.ok || !type.startsWith("text/event-stream")) {
    const data = await response.json().catch(() => ({}));
    const error = new Error(data.error || data.detail || String(response.status));
    error.status = response.status;
    throw error;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SSEParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const raw of parser.feed(decoder.decode(value, { stream: true }))) {
      const event = studioEvent(raw);
      if (event) onEvent(event);
    }
  }
  for (const raw of parser.feed(decoder.decode() + "\n\n")) {
    const event = studioEvent(raw);
    if (event) onEvent(event);
  }
}
