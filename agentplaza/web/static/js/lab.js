// Studio (/lab): conversations with a model (a provider of mine + a model name) or one of my
// hosted agents, answers streamed as they are written with tool steps inline; and chat rooms
// (lab_rooms.js). Everything goes through the /studio API with the session cookie.
import { h, md, say, t } from "./dom.js";
import { items, pick, stream, studio } from "./studio_api.js";
import { closeRoom, openRoom, roomAgentChoices } from "./lab_rooms.js";

const $ = (id) => document.getElementById(id);
const convList = $("convs");
const roomList = $("rooms");
const title = $("lab-title");
const sub = $("lab-sub");
const list = $("lab-messages");
const composer = $("lab-composer");
const body = $("lab-body");
const sendButton = $("lab-send");
const stopButton = $("lab-stop");
const sendError = $("lab-error");
const liveStatus = $("live-status");
const deleteButton = $("lab-delete");
const withSelect = $("nc-with");
const modelInput = $("nc-model");

const state = { providers: [], agents: [], convs: [], rooms: [], open: null, abort: null };

const errText = (err) => (err && err.message) || String(err);
const nameOfAgent = (a) => pick(a, "display_name", "name") || a.id;

// ---- the sidebar ------------------------------------------------------------------------

function threadButton(kind, item, label, extra) {
  const current = state.open && state.open.kind === kind && state.open.id === String(item.id);
  return h("li", { "data-id": item.id },
    h("button", { type: "button", "aria-current": current ? "true" : "false",
      onclick: () => { location.hash = `${kind}=${encodeURIComponent(item.id)}`; } },
      h("span", { class: "name" }, label), extra ? h("span", { class: "muted small" }, extra) : null));
}

function renderSide() {
  convList.replaceChildren(...state.convs.map((c) =>
    threadButton("c", c, c.title || t("lab.conv_title_default"), targetLabel(c))));
  if (!state.convs.length) convList.replaceChildren(h("li", { class: "muted" }, t("lab.no_conversations")));
  roomList.replaceChildren(...state.rooms.map((r) => threadButton("r", r, r.name)));
  if (!state.rooms.length) roomList.replaceChildren(h("li", { class: "muted" }, t("lab.no_rooms")));
}

function targetLabel(c) {
  const agentId = pick(c, "agent_id");
  if (agentId) {
    const agent = state.agents.find((a) => String(a.id) === String(agentId));
    return agent ? nameOfAgent(agent) : "";
  }
  return pick(c, "model") || "";
}

async function loadSide() {
  // Each list on its own: one failing leaves the other usable.
  const [convs, rooms] = await Promise.allSettled([
    studio("GET", "/conversations/?page_size=100"),
    studio("GET", "/chat-rooms/?page_size=100"),
  ]);
  if (convs.status === "fulfilled") state.convs = items(convs.value, "conversations");
  if (rooms.status === "fulfilled") state.rooms = items(rooms.value, "rooms");
  renderSide();
  const failed = [convs, rooms].find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

async function loadTargets() {
  const [providers, agents] = await Promise.all([
    studio("GET", "/providers/?page_size=100"),
    studio("GET", "/agents/?page_size=100"),
  ]);
  state.providers = items(providers, "providers");
  state.agents = items(agents, "agents");
  const groups = [];
  if (state.agents.length) {
    groups.push(h("optgroup", { label: t("lab.hosted_agents") },
      state.agents.map((a) => h("option", { value: `agent:${a.id}` }, nameOfAgent(a)))));
  }
  if (state.providers.length) {
    groups.push(h("optgroup", { label: t("lab.models") },
      state.providers.map((p) => h("option", { value: `provider:${p.id}` }, `${p.name} (${pick(p, "provider_type", "kind") || ""})`))));
  }
  withSelect.replaceChildren(...groups);
  $("nc-none").hidden = groups.length > 0;
  roomAgentChoices(state.agents);
  syncModelField();
}

function syncModelField() {
  const [kind, id] = withSelect.value.split(":");
  const isModel = kind === "provider";
  modelInput.hidden = !isModel;
  $("nc-model-label").hidden = !isModel;
  modelInput.required = isModel;
  const provider = state.providers.find((p) => String(p.id) === id);
  const models = (provider && (pick(provider, "models") || [])) || [];
  $("nc-models").replaceChildren(...models.map((m) => h("option", { value: m })));
  if (isModel && !modelInput.value && provider) modelInput.value = pick(provider, "default_model") || models[0] || "";
}
withSelect.addEventListener("change", () => { modelInput.value = ""; syncModelField(); });

$("new-conv").addEventListener("submit", async (event) => {
  event.preventDefault();
  const [kind, id] = withSelect.value.split(":");
  const payload = { title: $("nc-title").value.trim() || t("lab.conv_title_default") };
  if (kind === "agent") payload.agent_id = id;
  else {
    payload.provider_id = id;
    payload.model = modelInput.value.trim();
  }
  try {
    const conv = await studio("POST", "/conversations/", payload);
    event.target.reset();
    $("new-conv-box").open = false;
    state.convs.unshift(conv);
    location.hash = `c=${encodeURIComponent(conv.id)}`;
  } catch (err) {
    say($("side-error"), errText(err), true);
  }
});

// ---- one conversation -------------------------------------------------------------------

function messageItem(role, content, extra = {}) {
  const li = h("li", { class: `msg lab-msg ${role === "user" ? "mine" : ""}`, "data-role": role },
    h("div", { class: "meta" }, h("strong", { class: "name" }, role === "user" ? t("lab.you") : (extra.name || t("lab.assistant")))),
    h("div", { class: "body" }));
  if (content) li.querySelector(".body").append(h("div", { class: "seg" }, md(content)));
  return li;
}

function toolStep(call) {
  const step = h("details", { class: "tool-step", "data-call": pick(call, "call_id", "id", "tool_call_id") || "" },
    h("summary", {}, h("span", { "aria-hidden": "true" }, "🔧 "), t("lab.tool_call", { name: call.name || "?" }),
      h("span", { class: "tool-state muted" }, ` · ${t("lab.tool_running")}`)),
    h("pre", { class: "mono tool-args" }, String(pick(call, "arguments", "args", "input") ?? "")));
  if (typeof call.arguments === "object" && call.arguments !== null) {
    step.querySelector(".tool-args").textContent = JSON.stringify(call.arguments);
  }
  return step;
}

function fillResult(step, result) {
  const error = Boolean(pick(result, "is_error", "error"));
  let text = pick(result, "result", "content", "output") ?? "";
  if (typeof text !== "string") text = JSON.stringify(text);
  step.querySelector(".tool-state").textContent = ` · ${t(error ? "lab.tool_failed" : "lab.tool_done")}`;
  step.classList.toggle("failed", error);
  step.append(h("pre", { class: "mono tool-result" }, text));
}

/** Stored messages → bubbles: a model turn (assistant messages with tool calls, the tool
 * results, the final text) is one bubble, its steps inline where they happened. */
function storedMessages(messages) {
  const out = [];
  let turn = null;
  const steps = new Map();
  for (const m of messages) {
    if (m.role === "user") {
      turn = null;
      out.push(messageItem("user", m.content));
      continue;
    }
    if (!turn) {
      turn = messageItem("assistant", "", { name: sub.textContent || undefined });
      out.push(turn);
    }
    const target = turn.querySelector(".body");
    if (m.role === "tool") {
      const step = steps.get(m.tool_call_id) || target.appendChild(toolStep({ name: m.name, id: m.tool_call_id }));
      fillResult(step, { result: m.content, is_error: m.status === "error" });
      continue;
    }
    if (m.content) target.append(h("div", { class: "seg" }, md(m.content)));
    for (const call of m.tool_calls || []) {
      const step = toolStep(call);
      steps.set(call.id, step);
      target.append(step);
    }
    if (m.status === "error") turn.append(h("p", { class: "error" }, t("lab.failed")));
  }
  return out;
}

async function openConversation(id) {
  const conv = state.convs.find((c) => String(c.id) === id) || (await studio("GET", `/conversations/${encodeURIComponent(id)}`));
  state.open = { kind: "c", id, conv };
  title.textContent = conv.title || t("lab.conv_title_default");
  sub.textContent = targetLabel(conv);
  deleteButton.hidden = false;
  $("tools-box").hidden = false;
  composer.hidden = false;
  renderSide();
  // Oldest first: the last page holds the newest.
  const path = `/messages/${encodeURIComponent(id)}?page_size=100`;
  let data = await studio("GET", path);
  if (data && data.total > 100) data = await studio("GET", `${path}&page=${Math.ceil(data.total / 100)}`);
  if (!state.open || state.open.id !== id) return;
  list.replaceChildren(...storedMessages(items(data, "messages")));
  list.scrollTop = list.scrollHeight;
}

function busy(on) {
  sendButton.disabled = on;
  stopButton.hidden = !on;
  list.setAttribute("aria-busy", String(on));
}

async function sendToConversation(content) {
  const conversationId = state.open.id;
  list.append(messageItem("user", content));
  const answer = messageItem("assistant", "", { name: sub.textContent || undefined });
  answer.classList.add("streaming");
  list.append(answer);
  list.scrollTop = list.scrollHeight;
  const target = answer.querySelector(".body");
  let segment = null;
  let text = "";
  let frame = 0;
  const paint = () => {
    frame = 0;
    if (segment) segment.replaceChildren(md(text));
    list.scrollTop = list.scrollHeight;
  };
  const steps = new Map();
  const controller = new AbortController();
  state.abort = controller;
  busy(true);
  say(liveStatus, t("lab.answering"));
  let finished = false;
  try {
    await stream("/messages/stream", { conversation_id: conversationId, content, tools_enabled: $("lab-tools").checked }, {
      signal: controller.signal,
      onEvent({ type, data }) {
        if (type === "text") {
          if (!segment) {
            segment = h("div", { class: "seg" });
            target.append(segment);
            text = "";
          }
          text += pick(data, "content", "text", "delta") ?? "";
          if (!frame) frame = requestAnimationFrame(paint);
        } else if (type === "tool_call") {
          if (frame) { cancelAnimationFrame(frame); paint(); }
          segment = null;
          const step = toolStep(data);
          steps.set(step.dataset.call, step);
          target.append(step);
        } else if (type === "tool_result") {
          const id = pick(data, "call_id", "id", "tool_call_id") || "";
          const step = steps.get(id) || [...steps.values()].pop() || target.appendChild(toolStep(data));
          fillResult(step, data);
        } else if (type === "done") {
          finished = true;
          if (frame) { cancelAnimationFrame(frame); paint(); }
          const inTokens = pick(data, "input_tokens", "prompt_tokens");
          const outTokens = pick(data, "output_tokens", "completion_tokens", "token_count");
          if (inTokens !== undefined || outTokens !== undefined) {
            answer.querySelector(".meta").append(h("span", { class: "muted tokens" },
              t("lab.tokens", { in: inTokens ?? "–", out: outTokens ?? "–" })));
          }
        } else if (type === "error") {
          finished = true;
          answer.append(h("p", { class: "error" }, pick(data, "error", "message", "content") || t("lab.failed")));
        }
      },
    });
    if (frame) { cancelAnimationFrame(frame); paint(); }
    say(liveStatus, t(finished ? "lab.answered" : "lab.failed"));
  } catch (err) {
    if (frame) { cancelAnimationFrame(frame); paint(); }
    if (err.name === "AbortError") {
      answer.append(h("p", { class: "muted stopped" }, t("lab.stopped")));
      say(liveStatus, t("lab.stopped"));
    } else {
      answer.append(h("p", { class: "error" }, errText(err)));
      say(sendError, errText(err), true);
    }
  } finally {
    answer.classList.remove("streaming");
    state.abort = null;
    busy(false);
  }
}

stopButton.addEventListener("click", () => state.abort && state.abort.abort());

composer.addEventListener("submit", async (event) => {
  event.preventDefault();
  const content = body.value.trim();
  if (!content || !state.open || state.abort) return;
  say(sendError, "");
  body.value = "";
  if (state.open.kind === "c") await sendToConversation(content);
  else await state.open.room.send(content);
});
body.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

deleteButton.addEventListener("click", async () => {
  if (!state.open) return;
  const what = state.open.kind === "c" ? "conversations" : "chat-rooms";
  if (!confirm(t("lab.delete_confirm", { name: title.textContent }))) return;
  try {
    await studio("DELETE", `/${what}/${encodeURIComponent(state.open.id)}`);
    location.hash = "";
    await loadSide();
  } catch (err) {
    say(sendError, errText(err), true);
  }
});

// ---- rooms: created here, shown by lab_rooms.js -----------------------------------------

$("new-room").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const agentIds = [...form.querySelectorAll("input[name=agent]:checked")].map((box) => box.value);
  try {
    const room = await studio("POST", "/chat-rooms/", {
      name: $("nr-name").value.trim(), description: $("nr-desc").value.trim(), agent_ids: agentIds,
    });
    form.reset();
    form.closest("details").open = false;
    state.rooms.unshift(room);
    location.hash = `r=${encodeURIComponent(room.id)}`;
  } catch (err) {
    say($("side-error"), errText(err), true);
  }
});

// ---- routing: #c=<conversation id>, #r=<room id> ----------------------------------------

function reset() {
  if (state.abort) state.abort.abort();
  closeRoom();
  state.open = null;
  title.textContent = t("lab.pick");
  sub.textContent = "";
  list.replaceChildren();
  composer.hidden = true;
  deleteButton.hidden = true;
  say(sendError, "");
}

async function route() {
  reset();
  const match = /^#([cr])=(.+)$/.exec(location.hash);
  renderSide();
  if (!match) return;
  const id = decodeURIComponent(match[2]);
  try {
    if (match[1] === "c") await openConversation(id);
    else {
      const room = state.rooms.find((r) => String(r.id) === id) || (await studio("GET", `/chat-rooms/${encodeURIComponent(id)}`));
      state.open = { kind: "r", id, room: null };
      renderSide();
      composer.hidden = false;
      deleteButton.hidden = false;
      $("tools-box").hidden = true;
      state.open.room = openRoom(room, { agents: state.agents });
    }
  } catch (err) {
    say($("side-error"), errText(err), true);
  }
}
window.addEventListener("hashchange", route);

Promise.allSettled([loadTargets(), loadSide()]).then((results) => {
  const failed = results.find((r) => r.status === "rejected");
  if (failed) say($("side-error"), errText(failed.reason), true);
  return route();
});
