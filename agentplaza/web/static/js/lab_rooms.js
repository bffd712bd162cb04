// A Studio chat room: my hosted agents and people, live. Events (connected, history, agents,
// message, typing, process_step, done, error, system) arrive over the room's WebSocket when a
// ticket can be had for it, else from the room's streamed send plus a history poll; the floor
// state (policy, paused + reason, consecutive agent turns) is shown as a banner.
import { h, md, say, t, time } from "./dom.js";
import { items, pick, stream, studio } from "./studio_api.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;
const MAX_SHOWN = 300;
let current = null;

/** The checkboxes of the "new room" form and the "add agent" choices: my hosted agents. */
export function roomAgentChoices(agents) {
  const box = $("nr-agents");
  box.replaceChildren(box.querySelector("legend") || h("legend", {}, t("lab.room_agents")),
    ...agents.map((a) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "agent", value: a.id }), pick(a, "display_name", "name") || a.id)));
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

const senderName = (m) => pick(m, "sender_name", "agent_name", "participant_name", "name", "sender_id") || "?";
const isAgent = (m) => pick(m, "sender_type", "participant_type", "role") === "agent" || Boolean(m.agent_id);

class Room {
  constructor(room, { agents, busy }) {
    this.room = room;
    this.id = String(room.id);
    this.mine = agents;
    this.busy = busy;
    this.seen = new Set();
    this.typing = new Map(); // agent id → name
    this.pending = new Map(); // agent id → the li showing its steps before its message
    this.closed = false;
    this.list = $("lab-messages");
    $("lab-title").textContent = room.name;
    $("lab-sub").textContent = room.description || "";
    $("room-info").hidden = false;
    $("lab").classList.add("info-open");
    this.floor(pick(room, "floor", "floor_state") || room);
    this.conn("connecting");
    this.loadAgents();
    this.connect();
  }

  conn(state) {
    const el = $("conn");
    el.hidden = false;
    el.dataset.state = state;
    el.textContent = t(`lab.conn_${state}`);
  }

  floor(f) {
    if (!f || typeof f !== "object") return;
    const banner = $("floor");
    const parts = [];
    const policy = pick(f, "policy", "floor_policy");
    if (policy) parts.push(t("lab.floor_policy", { policy: t(`lab.policy_${policy}`) }));
    const turns = pick(f, "consecutive_agent_turns", "agent_turns");
    const cap = pick(f, "max_consecutive_agent_turns", "max_agent_turns");
    if (turns !== undefined) parts.push(t("lab.floor_turns", { n: turns, max: cap ?? "∞" }));
    const paused = Boolean(pick(f, "paused"));
    if (paused) parts.unshift(t("lab.floor_paused", { reason: pick(f, "pause_reason", "reason") || "" }));
    if (!parts.length) return;
    banner.textContent = parts.join(" · ");
    banner.classList.toggle("paused", paused);
    banner.hidden = false;
  }

  async loadAgents() {
    try {
      const data = await studio("GET", `/chat-rooms/${encodeURIComponent(this.id)}/agents`);
      this.showAgents(items(data, "agents"));
    } catch (err) {
      say($("ri-error"), err.message, true);
    }
  }

  showAgents(agents) {
    this.agents = agents;
    const ids = new Set(agents.map((a) => String(pick(a, "agent_id", "id"))));
    $("ri-agents").replaceChildren(...agents.map((a) => {
      const id = String(pick(a, "agent_id", "id"));
      const name = pick(a, "display_name", "name", "agent_name") || id;
      return h("li", {}, h("span", {}, name),
        h("button", { type: "button", class: "ghost", "aria-label": t("lab.remove_agent", { name }),
          onclick: () => this.removeAgent(id) }, t("lab.remove")));
    }));
    $("ri-agent").replaceChildren(...this.mine.filter((a) => !ids.has(String(a.id))).map((a) =>
      h("option", { value: a.id }, pick(a, "display_name", "name") || a.id)));
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

  // ---- transport -------------------------------------------------------------------------

  async connect() {
    try {
      await this.history();
    } catch (err) {
      say($("lab-error"), err.message, true);
    }
    if (this.closed) return;
    if (!(await this.openSocket())) this.poll();
  }

  /** The WebSocket, authenticated by a short-lived ticket (cookies do not authenticate
   * sockets: a cross-site page could open one). False when no ticket can be had. */
  async openSocket() {
    let ticket;
    try {
      ticket = await studio("POST", `/chat-rooms/${encodeURIComponent(this.id)}/ws-ticket`);
    } catch {
      return false;
    }
    const token = pick(ticket, "ticket", "token");
    if (!token || this.closed) return false;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ participant_type: "user", participant_id: document.body.dataset.me || "", token });
    const socket = new WebSocket(`${scheme}://${location.host}/studio/ws/chat-room/${encodeURIComponent(this.id)}?${params}`);
    this.socket = socket;
    socket.onmessage = (event) => {
      try {
        const data = JSON.parse(event.data);
        this.handle({ type: data.type || data.event, data: data.data ?? data });
      } catch {
        /* not an event */
      }
    };
    socket.onclose = () => {
      if (this.closed) return;
      this.conn("offline");
      this.socket = null;
      this.poll();
    };
    return true;
  }

  poll() {
    if (this.closed || this.timer) return;
    this.conn("polling");
    const tick = async () => {
      this.timer = null;
      if (this.closed) return;
      try {
        await this.history();
      } catch {
        /* the next tick tries again */
      }
      if (!this.closed) this.timer = setTimeout(tick, POLL_MS);
    };
    this.timer = setTimeout(tick, POLL_MS);
  }

  async history() {
    const data = await studio("GET", `/chat-rooms/${encodeURIComponent(this.id)}/messages?page_size=100`);
    if (this.closed) return;
    const messages = items(data, "messages");
    const floorState = data && pick(data, "floor", "floor_state");
    if (floorState) this.floor(floorState);
    this.handle({ type: "history", data: { messages, append: this.seen.size > 0 } });
  }

  async send(content) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ action: "send_message", content }));
      return;
    }
    const controller = new AbortController();
    this.abort = controller;
    this.busy(true);
    try {
      await stream(`/chat-rooms/${encodeURIComponent(this.id)}/messages`, { content }, {
        signal: controller.signal,
        onEvent: (event) => this.handle(event),
      });
      await this.history();
    } catch (err) {
      if (err.name !== "AbortError") say($("lab-error"), err.message, true);
    } finally {
      this.abort = null;
      this.busy(false);
    }
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close();
    if (this.abort) this.abort.abort();
  }

  // ---- events ----------------------------------------------------------------------------

  handle({ type, data }) {
    if (this.closed || !data) return;
    if (type === "connected") this.conn("live");
    else if (type === "history") {
      if (!data.append) {
        this.list.replaceChildren();
        this.seen.clear();
      }
      for (const m of data.messages || []) this.message(m);
    } else if (type === "agents") this.showAgents(data.agents || []);
    else if (type === "message") this.message(data);
    else if (type === "typing") this.setTyping(data);
    else if (type === "process_step") this.step(data);
    else if (type === "done") this.setTyping({ agent_id: pick(data, "agent_id"), is_typing: false });
    else if (type === "error") this.list.append(h("li", { class: "msg system error" }, pick(data, "content", "error", "message") || t("lab.failed")));
    else if (type === "system") this.system(data);
    else if (type === "floor") this.floor(data);
    if (type !== "history") this.list.scrollTop = this.list.scrollHeight;
  }

  message(m) {
    const id = String(pick(m, "id", "message_id") ?? "");
    if (id && this.seen.has(id)) return;
    if (id) this.seen.add(id);
    if (pick(m, "sender_type", "type") === "system") return this.system(m, false);
    const agentId = String(pick(m, "agent_id", "sender_id") ?? "");
    const li = h("li", { class: `msg ${isAgent(m) ? "agent" : "mine"}`, "data-id": id },
      h("div", { class: "meta" }, h("strong", { class: "name" }, senderName(m)),
        m.created_at ? time(m.created_at) : null),
      h("div", { class: "body" }, md(m.content || "")));
    const pending = this.pending.get(agentId);
    if (pending) {
      this.pending.delete(agentId);
      const steps = pending.querySelector(".steps");
      if (steps && steps.children.length) li.append(h("details", { class: "steps-done" }, h("summary", {}, t("lab.steps", { n: steps.children.length })), steps));
      pending.replaceWith(li);
    } else this.list.append(li);
    if (agentId) this.setTyping({ agent_id: agentId, is_typing: false });
    while (this.list.children.length > MAX_SHOWN) this.list.firstElementChild.remove();
  }

  pendingFor(agentId, name) {
    let li = this.pending.get(agentId);
    if (!li) {
      li = h("li", { class: "msg pending", "data-agent": agentId },
        h("div", { class: "meta" }, h("strong", { class: "name" }, name || agentId)),
        h("ol", { class: "steps" }));
      this.pending.set(agentId, li);
      this.list.append(li);
    }
    return li;
  }

  agentName(id) {
    const a = (this.agents || []).find((x) => String(pick(x, "agent_id", "id")) === id);
    return a ? pick(a, "display_name", "name", "agent_name") : id;
  }

  setTyping(d) {
    const id = String(pick(d, "agent_id", "participant_id") ?? "");
    if (!id) return;
    if (pick(d, "is_typing")) this.typing.set(id, pick(d, "agent_name", "name") || this.agentName(id));
    else this.typing.delete(id);
    const names = [...this.typing.values()];
    $("typing").textContent = names.length ? t("lab.typing", { names: names.join(", ") }) : "";
  }

  step(d) {
    const id = String(pick(d, "agent_id") ?? "");
    const li = this.pendingFor(id, pick(d, "agent_name") || this.agentName(id));
    const kind = pick(d, "step_type", "type", "kind") || "step";
    let detail = pick(d, "content", "name", "tool", "detail") ?? "";
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    li.querySelector(".steps").append(h("li", { class: "step" }, h("span", { class: "mono" }, kind), " ", detail));
  }

  system(d, fromEvent = true) {
    const content = pick(d, "content", "message") || "";
    this.list.append(h("li", { class: "msg system" }, h("span", { "aria-hidden": "true" }, "ⓘ "), content));
    const kind = String(pick(d, "type", "kind") || "");
    if (pick(d, "floor")) this.floor(d.floor);
    else if (/pause/.test(kind) || pick(d, "paused") !== undefined) {
      this.floor({ ...d, paused: pick(d, "paused") ?? !/resume/.test(kind), reason: pick(d, "reason", "pause_reason") || content });
    }
    if (fromEvent) say($("live-status"), content);
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
