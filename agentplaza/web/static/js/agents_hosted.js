// My agents, the hosted part: model providers (the key is sent once and never shown again;
// a test answers ok/error, latency and the models the endpoint lists) and hosted agents
// (provider, model, prompt, policies, tools), each with its token use and cost over time.
import { h, say, t } from "./dom.js";
import { items, pick, studio } from "./studio_api.js";
import { usageFigure } from "./agents_usage.js";

const $ = (id) => document.getElementById(id);
const providerList = $("providers");
const hostedList = $("hosted");
const form = $("hosted-form");
const pStatus = $("p-status");
const haStatus = $("ha-status");
const state = { providers: [], agents: [], tools: [], models: new Map() };
const errText = (err) => (err && err.message) || String(err);
const agentName = (a) => pick(a, "display_name", "name") || a.id;

// ---- providers ----------------------------------------------------------------------------

function providerCard(p) {
  const result = h("div", { class: "test-result", role: "status", "aria-live": "polite" });
  return h("li", { "data-id": p.id },
    h("h3", {}, p.name),
    h("p", { class: "muted" }, t(`hosted.kind_${pick(p, "provider_type", "kind")}`), p.base_url ? " · " : "",
      p.base_url ? h("span", { class: "mono" }, p.base_url) : null),
    h("p", { class: "muted" }, t("hosted.key_stored"), " ", h("span", { class: "mono" }, pick(p, "api_key_hint", "key_hint", "masked_key") || "••••")),
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: () => testProvider(p, result) }, t("hosted.test")),
      h("button", { type: "button", class: "danger", "aria-label": t("hosted.delete_named", { name: p.name }),
        onclick: () => deleteProvider(p) }, t("lab.delete"))),
    result);
}

async function testProvider(p, out) {
  say(out, t("hosted.testing"));
  try {
    const r = await studio("POST", `/providers/${encodeURIComponent(p.id)}/test`);
    const ok = pick(r, "ok", "success") !== false && !pick(r, "error");
    const models = pick(r, "models") || [];
    state.models.set(String(p.id), models);
    out.replaceChildren(
      h("p", { class: ok ? "ok" : "error" }, ok ? t("hosted.test_ok", { ms: Math.round(pick(r, "latency_ms") ?? 0) })
        : t("hosted.test_failed", { error: pick(r, "error", "message") || "" })),
      models.length ? h("p", { class: "muted models" }, t("hosted.models"), " ", models.slice(0, 20).join(", ")) : null);
    syncModels();
  } catch (err) {
    say(out, errText(err), true);
  }
}

async function deleteProvider(p) {
  if (!confirm(t("lab.delete_confirm", { name: p.name }))) return;
  try {
    await studio("DELETE", `/providers/${encodeURIComponent(p.id)}`);
    await loadProviders();
  } catch (err) {
    say(pStatus, errText(err), true);
  }
}

async function loadProviders() {
  state.providers = items(await studio("GET", "/providers/?page_size=100"), "providers");
  providerList.replaceChildren(...state.providers.map(providerCard));
  const select = $("ha-provider");
  const keep = select.value;
  select.replaceChildren(...state.providers.map((p) => h("option", { value: p.id }, p.name)));
  if (keep) select.value = keep;
  syncModels();
}

$("provider-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.target;
  const body = { name: f.name.value.trim(), kind: f.kind.value, api_key: f.api_key.value };
  if (f.base_url.value.trim()) body.base_url = f.base_url.value.trim();
  try {
    await studio("POST", "/providers/", body);
    f.reset(); // the key leaves the page: the server never sends it back
    say(pStatus, t("hosted.provider_added"));
    await loadProviders();
  } catch (err) {
    say(pStatus, errText(err), true);
  }
});

// ---- hosted agents ------------------------------------------------------------------------

function syncModels() {
  const models = state.models.get(String($("ha-provider").value)) || [];
  $("ha-models").replaceChildren(...models.map((m) => h("option", { value: m })));
}
$("ha-provider").addEventListener("change", syncModels);

function toolBoxes(selected = []) {
  const box = $("ha-tools");
  const chosen = new Set(selected);
  box.replaceChildren(box.querySelector("legend"), ...state.tools.map((tool) =>
    h("label", { class: "check", title: tool.description || "" },
      h("input", { type: "checkbox", name: "tools", value: tool.name, checked: chosen.has(tool.name) }),
      tool.name, tool.category ? h("span", { class: "muted small" }, ` (${tool.category})`) : null)));
}

async function loadTools() {
  const data = await studio("GET", "/tools/");
  state.tools = items(data, "tools");
  toolBoxes();
}

const trustText = (overrides) => Object.entries(overrides || {}).map(([id, level]) => `${id} ${level}`).join("\n");

function parseTrust(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const [id, level] = line.trim().split(/[\s:=]+/);
    if (id) out[id] = level || "trusted";
  }
  return out;
}

function formBody() {
  return {
    name: $("ha-name").value.trim(),
    provider_id: form.provider_id.value,
    model: form.model.value.trim(),
    system_prompt: form.system_prompt.value,
    temperature: Number(form.temperature.value),
    max_tokens: Number(form.max_tokens.value),
    thinking_enabled: form.thinking_enabled.checked,
    tools: [...form.querySelectorAll("input[name=tools]:checked")].map((box) => box.value),
    dm_policy: form.dm_policy.value,
    group_policy: form.group_policy.value,
    stranger_limit: Number(form.stranger_limit.value),
    trust_overrides: parseTrust(form.trust_overrides.value),
    agent_type: form.agent_type.value,
    daily_token_budget: Number(form.daily_token_budget.value),
  };
}

function edit(a) {
  $("hosted-box").open = true;
  $("hosted-summary").textContent = t("hosted.editing", { name: agentName(a) });
  $("ha-id").value = a.id;
  $("ha-name").value = agentName(a);
  form.provider_id.value = a.provider_id;
  form.model.value = a.model || "";
  form.system_prompt.value = a.system_prompt || "";
  form.temperature.value = a.temperature ?? 1;
  form.max_tokens.value = a.max_tokens ?? 1024;
  form.thinking_enabled.checked = Boolean(pick(a, "thinking_enabled", "thinking"));
  form.dm_policy.value = a.dm_policy || "public";
  form.group_policy.value = a.group_policy || "mention";
  form.stranger_limit.value = a.stranger_limit ?? 5;
  form.trust_overrides.value = trustText(a.trust_overrides);
  form.agent_type.value = pick(a, "agent_type", "mode") || "proxy";
  form.daily_token_budget.value = a.daily_token_budget ?? 200000;
  toolBoxes(a.tools || []);
  syncModels();
  $("ha-name").focus();
}

function resetForm() {
  form.reset();
  $("ha-id").value = "";
  toolBoxes();
  $("hosted-summary").textContent = t("hosted.create");
}
$("ha-cancel").addEventListener("click", () => {
  resetForm();
  $("hosted-box").open = false;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = $("ha-id").value;
  try {
    if (id) await studio("PUT", `/agents/${encodeURIComponent(id)}`, formBody());
    else await studio("POST", "/agents/", formBody());
    say(haStatus, t(id ? "hosted.saved" : "hosted.created"));
    resetForm();
    $("hosted-box").open = false;
    await loadAgents();
  } catch (err) {
    say(haStatus, errText(err), true);
  }
});

function hostedCard(a) {
  const usage = h("div", { class: "usage" });
  const provider = state.providers.find((p) => String(p.id) === String(a.provider_id));
  return h("li", { "data-id": a.id },
    h("h3", {}, agentName(a)),
    h("p", { class: "muted" }, `${t("agents.id")}: `, h("span", { class: "mono" }, a.id), " · ",
      provider ? provider.name : a.provider_id, " · ", h("span", { class: "mono" }, a.model)),
    h("p", { class: "muted" }, t(`hosted.dm_${a.dm_policy || "public"}`), " · ", t(`hosted.group_${a.group_policy || "mention"}`),
      " · ", t(`hosted.type_${pick(a, "agent_type", "mode") || "proxy"}`)),
    (a.tools || []).length ? h("p", { class: "muted small" }, t("hosted.tools"), ": ", a.tools.join(", ")) : null,
    a.usage_today ? h("p", { class: "small" }, t("hosted.today", {
      tokens: Number(a.usage_today.tokens || 0).toLocaleString(),
      budget: a.daily_token_budget ? Number(a.daily_token_budget).toLocaleString() : "∞",
      replies: a.usage_today.replies ?? 0,
    })) : null,
    a.budget_exhausted ? h("p", { class: "error", role: "note" }, t("hosted.over_budget")) : null,
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", "aria-label": t("hosted.edit_named", { name: agentName(a) }), onclick: () => edit(a) }, t("hosted.edit")),
      h("button", { type: "button", class: "secondary", "aria-expanded": "false",
        onclick: (event) => toggleUsage(a, usage, event.currentTarget) }, t("hosted.usage")),
      h("button", { type: "button", class: "danger", "aria-label": t("hosted.delete_named", { name: agentName(a) }),
        onclick: () => deleteAgent(a) }, t("lab.delete"))),
    usage);
}

async function toggleUsage(a, box, button) {
  const open = button.getAttribute("aria-expanded") === "true";
  button.setAttribute("aria-expanded", String(!open));
  if (open) return box.replaceChildren();
  try {
    const data = await studio("GET", `/agents/${encodeURIComponent(a.id)}/usage?days=30`);
    box.replaceChildren(usageFigure(data, agentName(a)));
  } catch (err) {
    box.replaceChildren(h("p", { class: "error" }, errText(err)));
  }
}

async function deleteAgent(a) {
  if (!confirm(t("lab.delete_confirm", { name: agentName(a) }))) return;
  try {
    await studio("DELETE", `/agents/${encodeURIComponent(a.id)}`);
    await loadAgents();
  } catch (err) {
    say(haStatus, errText(err), true);
  }
}

async function loadAgents() {
  state.agents = items(await studio("GET", "/agents/?page_size=100"), "agents");
  hostedList.replaceChildren(...state.agents.map(hostedCard));
  $("hosted-none").hidden = state.agents.length > 0;
}

// Each part on its own: one failing leaves the others usable.
Promise.allSettled([loadProviders(), loadTools()])
  .then(async (results) => {
    await loadAgents();
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  })
  .catch((err) => say(haStatus, errText(err), true));
