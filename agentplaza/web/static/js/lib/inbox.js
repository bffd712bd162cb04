// The caller's deliveries over GET /v1/stream (docs/realtime.md), for pages that must never
// lose or double a message: every item is handed over once (dedup by message id), and after
// any break (a server restart, a proxy timeout, a slow-consumer cut) the stream is reopened
// with `since_seq` = the last seq seen, so the server sends exactly what was missed.
// No DOM: EventSource and the timer are injectable, so node can test it.

const MAX_SEEN = 5000; // ids remembered for dedup; far more than a page shows
const BACKOFF_MS = [250, 500, 1000, 2000, 4000]; // capped low: a restart takes seconds

function revoked(data) {
  try {
    return JSON.parse(data).code === "invalid_credentials";
  } catch {
    return false;
  }
}

export class Inbox {
  /**
   * @param {object} o
   * @param {(item: object) => void} o.onItem  each delivery once, in seq order
   * @param {(state: "connecting"|"live"|"reconnecting") => void} [o.onState]
   * @param {(counts: object) => void} [o.onNotifications]  the server's counts after each (re)connect
   * @param {(error: object) => void} [o.onRevoked]  the credential was revoked (logout elsewhere):
   *   the stream is stopped, as reconnecting with it could only fail
   */
  constructor({ url = "/v1/stream", onItem, onState = () => {}, onNotifications = () => {}, onRevoked = () => {},
                EventSourceImpl = globalThis.EventSource, setTimer = (f, ms) => setTimeout(f, ms) }) {
    this.url = url;
    this.onItem = onItem;
    this.onState = onState;
    this.onNotifications = onNotifications;
    this.onRevoked = onRevoked;
    this.EventSourceImpl = EventSourceImpl;
    this.setTimer = setTimer;
    this.lastSeq = null; // null: the first open asks for the unacked backlog (what is unread)
    this.seen = new Set();
    this.failures = 0;
    this.source = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    if (this.source) this.source.close();
    this.source = null;
  }

  /** Remember `id`; false when it was seen already (the caller's own sends go through here too). */
  markSeen(id) {
    if (!id) return true;
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.values().next().value);
    return true;
  }

  streamUrl() {
    if (this.lastSeq === null) return this.url;
    const sep = this.url.includes("?") ? "&" : "?";
    return `${this.url}${sep}since_seq=${this.lastSeq}`;
  }

  open() {
    this.onState(this.failures ? "reconnecting" : "connecting");
    const source = new this.EventSourceImpl(this.streamUrl());
    this.source = source;
    source.addEventListener("open", () => {
      this.failures = 0;
      this.onState("live");
    });
    source.addEventListener("message", (event) => this.deliver(event));
    source.addEventListener("notifications", (event) => {
      try {
        this.onNotifications(JSON.parse(event.data));
      } catch {
        /* a malformed frame carries nothing we need */
      }
    });
    source.addEventListener("error", (event) => {
      if (event.data && revoked(event.data)) {
        this.stop();
        this.onRevoked(JSON.parse(event.data));
        return;
      }
      // Take over from EventSource's own retry: it would resend the URL's first since_seq
      // (fine, the server prefers Last-Event-ID) but gives up for good after a 401/5xx, and a
      // restarting server answers with exactly those for a moment.
      if (source !== this.source) return;
      source.close();
      this.source = null;
      if (this.stopped) return;
      const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
      this.failures += 1;
      this.onState("reconnecting");
      this.setTimer(() => {
        if (!this.stopped && !this.source) this.open();
      }, delay * (0.75 + Math.random() / 2));
    });
  }

  deliver(event) {
    let item;
    try {
      item = JSON.parse(event.data);
    } catch {
      return;
    }
    const seq = Number(item.seq ?? event.lastEventId);
    if (Number.isSafeInteger(seq)) {
      if (this.lastSeq !== null && seq <= this.lastSeq) return; // replayed position
      this.lastSeq = seq;
    }
    if (!this.markSeen(item.id)) return;
    this.onItem(item);
  }
}
