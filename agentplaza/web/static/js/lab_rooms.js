// A Studio chat room: my hosted agents and me. The room's events (message, typing,
// process_step, done, error, system) stream back from the send (a POST read as SSE); a history
// poll catches anything else. The floor state (policy, the cap on agent turns in a row,
// paused + reason) is a banner over the messages.
//
// Not the room's WebSocket: it takes only a token (?token=, a bearer header or subprotocol),
// and the page holds none: the session token is an HttpOnly cookie, on purpose, and a socket
// must not accept the cookie (any site may open a WebSocket to us with it: cross-site
// WebSocket hijacking). The streamed POST carries the cookie and the CSRF header instead.
import { h, md, say, t, time } from "./dom.js";
import { items, pick, stream, studio } from "./studio_api.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 4000;
const MAX_SHOWN = 300;
let current = null;

/** The checkboxes of the "new room" form: my hosted agents. */
export function roomAgentChoices(agents) {
  const box = $("nr-agents");
  box.replaceChildren(box.querySelector("legend"),
    ...agents.map((a) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "agent", value: a.id }), pick(a, "name", "display_name") || a.id)));
  if (!agents.length) box.append(h("p", { class: "muted" }, t("lab.no_agents")));
}

export function closeRoom() {
  if (current) current.close();
  current = null;
  $("room-info").hidden = true;
  $("lab").classList.remove("info-open");
  $("floor").hidden = true;
  $("conn").hidden = true;
  $("typing").textContent = "";
}

const agentIdOf = (a) => String(pick(a, "agent_id", "id"));

class Room {
  constructor(room, { agents }) {
    this.id = String(room.id);
    this.mine = agents;
    this.agents = room.agents || [];
    this.seen = new Set();
    this.typing = new Map(); // agent id → name
    this.pending = new Map(); // agent id → the bubble showing its steps until its message
    this.outbox = []; // my messages shown before the server's copy arrives
    this.floorState = {};
    this.closed = false;
    this.list = $("lab-messages");
    $("lab-title").textContent = room.name;
    $("lab-sub").textContent = room.description || "";
    $("room-info").hidden = false;
    $("lab").classList.add("info-open");
    this.floor(room);
    this.loadAgents();
    this.start();
  }

  conn(state) {
    const el = $("conn");
    el.hidden = false;
    el.dataset.state = state;
    el.textContent = t(`lab.conn_${state}`);
  }

  /** Merge what is known of the floor (the room, a `system` event) and show it. */
  floor(f) {
    const known = this.floorState;
    for (const key of ["policy", "max_consecutive_agent_turns", "paused", "pause_reason"]) {
      if (f[key] !== undefined) known[key] = f[key];
    }
    const parts = [];
    if (known.policy) parts.push(t("lab.floor_policy", { policy: t(`lab.policy_${known.policy}`) }));
    // The room does not expose its running count of agent turns, only the cap.
    if (known.max_consecutive_agent_turns) parts.push(t("lab.floor_cap", { max: known.max_consecutive_agent_turns }));
    if (known.paused) {
      parts.unshift(t("lab.floor_paused", { reason: known.pause_reason ? t(`lab.pause_${known.pause_reason}`) : "" }));
    }
    const banner = $("floor");
    banner.textContent = parts.join(" · ");
    banner.classList.toggle("paused", Boolean(known.paused));
    banner.hidden = parts.length === 0;
  }

  // ---- agents ----------------------------------------------------------------------------

  async loadAgents() {
    try {
      this.showAgents(items(await studio("GET", `/chat-rooms/${encodeURIComponent(this.id)}/agents`), "agents"));
    } catch (err) {
      say($("ri-error"), err.message, true);
    }
  }

  showAgents(agents) {
    this.agents = agents;
    const ids = new Set(agents.map(agentIdOf));
    $("ri-agents").replaceChildren(...agents.map((a) => {
      const name = pick(a, "name", "display_name") || agentIdOf(a);
      return h("li", {}, h("span", {}, name),
        h("button", { type: "button", class: "ghost", "aria-label": t("lab.remove_agent", { name }),
          onclick: () => this.removeAgent(agentIdOf(a)) }, t("lab.remove")));
    }));
    $("ri-agent").replaceChildren(...this.mine.filter((a) => !ids.has(String(a.id))).map((a) =>
      h("option", { value: a.id }, pick(a, "name", "display_name") || a.id)));
    $("ri-add").hidden = $("ri-agent").options.length === 0;
  }

  async addAgent(id) {
    await studio("POST", `/chat-rooms/${encodeURIComponent(this.id)}/agents`, { agent_id: id });
    await this.loadAgents();
  }

  async removeAgent(id) {
    try {
      await studio("DELETE", `/chat-rooms/${encodeURIComponent(this.id)}/agents/${encodeURIComponent(id)}`);
      await this.loadAgents();
    } catch (err) {
      say($("ri-error"), err.message, true);
    }
  }

  agentName(id) {
    const a = this.agents.find((x) => agentIdOf(x) === id);
    return a ? pick(a, "name", "display_name") : id;
  }

  // ---- transport -------------------------------------------------------------------------

  async start() {
    this.conn("polling");
    try {
      await this.history();
    } catch (err) {
      say($("lab-error"), err.message, true);
    }
    const tick = async () => {
      this.timer = null;
      if (this.closed) return;
      try {
        // Not while a send streams: its events are the fresher news.
        if (!this.abort) await this.history(true);
      } catch {
        /* the next tick tries again */
      }
      if (!this.closed) this.timer = setTimeout(tick, POLL_MS);
    };
    this.timer = setTimeout(tick, POLL_MS);
  }

  /** The newest page of history (page 1 = newest, oldest first within it); with `refresh`,
   * the room's floor too. Messages already shown are skipped by id. */
  async history(refresh = false) {
    const path = `/chat-rooms/${encodeURIComponent(this.id)}`;
    const [data, room] = await Promise.all([
      studio("GET", `${path}/messages?page_size=100`),
      refresh ? studio("GET", path) : null,
    ]);
    if (this.closed) return;
    for (const m of items(data, "messages")) this.message(m);
    if (room) this.floor(room);
    if (!refresh) this.list.scrollTop = this.list.scrollHeight;
  }

  async send(content) {
    // Shown at once; the stored copy (from the stream or the history) takes its place.
    const mine = h("li", { class: "msg mine sending", "data-sender": "user" },
      h("div", { class: "meta" }, h("strong", { class: "name" }, t("lab.you"))),
      h("div", { class: "body" }, md(content)));
    mine.dataset.content = content;
    this.outbox.push(mine);
    this.list.append(mine);
    this.list.scrollTop = this.list.scrollHeight;
    // Speaking again while the agents answer is allowed (a human message resets the floor):
    // the new send's stream carries the events from here on, so the old one is closed.
    if (this.abort) this.abort.abort();
    const controller = new AbortController();
    this.abort = controller;
    try {
      await stream(`/chat-rooms/${encodeURIComponent(this.id)}/messages`, { content }, {
        signal: controller.signal,
        onEvent: (event) => this.handle(event),
      });
    } catch (err) {
      if (err.name !== "AbortError") say($("lab-error"), err.message, true);
    } finally {
      if (this.abort === controller) this.abort = null;
    }
    if (!this.closed && !this.abort) await this.history(true).catch(() => {});
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.abort) this.abort.abort();
  }

  // ---- events ----------------------------------------------------------------------------

  handle({ type, data }) {
    if (this.closed || !data) return;
    if (type === "message") this.message(data);
    else if (type === "typing") this.setTyping(data);
    else if (type === "process_step") this.step(data);
    else if (type === "done") this.setTyping({ agent_id: data.agent_id, is_typing: false });
    else if (type === "error") this.failed(data);
    else if (type === "system") this.system(data);
    else if (type === "agents") this.showAgents(data.agents || []);
    this.list.scrollTop = this.list.scrollHeight;
  }

  message(m) {
    const id = String(pick(m, "id", "message_id") ?? "");
    if (id && this.seen.has(id)) return;
    if (id) this.seen.add(id);
    const sender = pick(m, "sender_type") || "user";
    if (sender === "system") {
      this.list.append(h("li", { class: "msg system", "data-id": id }, h("span", { "aria-hidden": "true" }, "ⓘ "), m.content || ""));
      return;
    }
    const agentId = sender === "agent" ? String(m.sender_id) : "";
    const li = h("li", { class: `msg ${sender === "agent" ? "agent" : "mine"}`, "data-id": id, "data-sender": sender },
      h("div", { class: "meta" }, h("strong", { class: "name" }, pick(m, "sender_name") || m.sender_id || "?"),
        m.created_at ? time(m.created_at) : null),
      h("div", { class: "body" }, md(m.content || "")));
    const pending = agentId ? this.pending.get(agentId) : this.takeOutbox(m.content);
    if (pending && !agentId) pending.replaceWith(li);
    else if (pending) {
      this.pending.delete(agentId);
      const steps = pending.querySelector(".steps");
      if (steps.children.length) {
        li.append(h("details", { class: "steps-done" }, h("summary", {}, t("lab.steps", { n: steps.children.length })), steps));
      }
      pending.replaceWith(li);
    } else this.list.append(li);
    while (this.list.children.length > MAX_SHOWN) this.list.firstElementChild.remove();
  }

  takeOutbox(content) {
    const i = this.outbox.findIndex((li) => li.dataset.content === content);
    return i < 0 ? null : this.outbox.splice(i, 1)[0];
  }

  pendingFor(agentId) {
    let li = this.pending.get(agentId);
    if (!li) {
      li = h("li", { class: "msg pending", "data-agent": agentId },
        h("div", { class: "meta" }, h("strong", { class: "name" }, this.agentName(agentId))),
        h("ol", { class: "steps" }), h("div", { class: "body draft" }));
      this.pending.set(agentId, li);
      this.list.append(li);
    }
    return li;
  }

  setTyping(d) {
    const id = String(d.agent_id ?? "");
    if (!id) return;
    if (d.is_typing) this.typing.set(id, this.agentName(id));
    else this.typing.delete(id);
    const names = [...this.typing.values()];
    $("typing").textContent = names.length ? t("lab.typing", { names: names.join(", ") }) : "";
  }

  step(d) {
    const li = this.pendingFor(String(d.agent_id ?? ""));
    if (d.type === "text") {
      li.querySelector(".draft").textContent += d.content || "";
      return;
    }
    const result = d.type === "tool_result";
    let detail = result ? d.result : d.arguments;
    if (typeof detail !== "string") detail = JSON.stringify(detail ?? "");
    const label = t(result ? (d.is_error ? "lab.step_failed" : "lab.step_result") : "lab.step_call", { name: d.name || "?" });
    li.querySelector(".steps").append(h("li", { class: `step ${d.type || ""}` }, h("strong", {}, label), " ", h("span", { class: "mono" }, detail.slice(0, 500))));
  }

  failed(d) {
    const id = String(d.agent_id ?? "");
    const pending = this.pending.get(id);
    if (pending) {
      this.pending.delete(id);
      pending.remove();
    }
    this.list.append(h("li", { class: "msg system error" }, id ? `${this.agentName(id)}: ` : "", d.content || t("lab.failed")));
  }

  system(d) {
    const content = d.content || "";
    // Pauses and resumes are stored in the history too: shown once, by the message.
    if (d.type !== "paused") this.list.append(h("li", { class: "msg system" }, h("span", { "aria-hidden": "true" }, "ⓘ "), content));
    if (d.type === "paused") this.floor({ paused: true, pause_reason: d.reason || null });
    else if (d.type === "resumed") this.floor({ paused: false, pause_reason: null });
    say($("live-status"), content);
  }
}

$("ri-add").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!current) return;
  try {
    await current.addAgent($("ri-agent").value);
  } catch (err) {
    say($("ri-error"), err.message, true);
  }
});

export function openRoom(room, options) {
  closeRoom();
  current = new Room(room, options);
  return current;
}
