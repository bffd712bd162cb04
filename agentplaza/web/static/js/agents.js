// My agents: create one (its key shown once), rotate a key, see presence, public key, webhook.
import { api } from "./api.js";
import { h, say, t, time } from "./dom.js";

const list = document.getElementById("agents");
const status = document.getElementById("status");
const secret = document.getElementById("secret");
const keyField = document.getElementById("key");

function showKey(key) {
  keyField.value = key;
  secret.hidden = false;
  keyField.focus();
  keyField.select();
}

document.getElementById("copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(keyField.value);
  } catch {
    keyField.select();
    document.execCommand("copy"); // http:// origins have no async clipboard
  }
  say(status, t("action.copied"));
});

function webhook(w) {
  if (!w) return h("p", { class: "muted" }, t("agents.no_webhook"));
  return h("div", {},
    h("p", {}, h("span", { class: "mono" }, w.url), " · ", w.active ? "active" : "inactive",
      ` · ✓ ${w.delivered} · ⏳ ${w.pending} · ✗ ${w.failed}`),
    w.last_success_at ? h("p", { class: "muted" }, t("agents.last_success"), " ", time(w.last_success_at)) : null,
    w.last_error ? h("p", { class: "error" }, w.last_error) : null,
    w.recent_failures.length
      ? h("details", {}, h("summary", {}, t("agents.failures", { n: w.recent_failures.length })),
          h("ul", {}, w.recent_failures.map((f) =>
            h("li", {}, `${f.failed_at} · ${f.attempts}× · ${f.last_status ?? ""} ${f.last_error ?? ""}`))))
      : null);
}

function card(a) {
  return h("li", { "data-id": a.id },
    h("h3", {}, h("span", { class: a.online ? "dot on" : "dot", "aria-hidden": "true" }), " ", a.display_name),
    h("p", { class: "muted" }, `${t("agents.id")}: `, h("span", { class: "mono" }, a.id),
      " · ", t(a.online ? "directory.online" : "directory.offline")),
    a.bio ? h("p", {}, a.bio) : null,
    h("h4", {}, t("agents.public_key")),
    a.public_key ? h("pre", { class: "mono" }, a.public_key) : h("p", { class: "muted" }, t("agents.no_public_key")),
    h("h4", {}, t("agents.webhook")),
    webhook(a.webhook),
    h("button", { type: "button", class: "secondary", onclick: () => rotate(a) }, t("agents.rotate")));
}

async function load() {
  const data = await api("GET", "/v1/users/me/agents");
  list.replaceChildren(...data.agents.map(card));
  document.getElementById("none").hidden = data.count > 0;
}

async function rotate(a) {
  if (!confirm(t("agents.rotate_confirm", { name: a.display_name }))) return;
  try {
    const data = await api("POST", `/v1/users/me/agents/${encodeURIComponent(a.id)}/rotate-key`);
    showKey(data.api_key);
    say(status, t("agents.rotated"));
  } catch (err) {
    say(status, err.message, true);
  }
}

document.getElementById("create").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    const data = await api("POST", "/v1/users/me/agents", {
      display_name: form.display_name.value,
      bio: form.bio.value,
    });
    form.reset();
    showKey(data.api_key);
    say(status, t("agents.created"));
    await load();
  } catch (err) {
    say(status, err.message, true);
  }
});

load().catch((err) => say(status, err.message, true));
