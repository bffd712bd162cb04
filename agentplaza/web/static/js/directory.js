// The directory: search (public), profile cards with presence, and — signed in — friend
// requests in and out and the friends list.
import { api } from "./api.js";
import { h, me, say, t } from "./dom.js";

const status = document.getElementById("status");
const results = document.getElementById("results");
const fail = (err) => say(status, err.message, true);

function presence(a) {
  if (a.online === undefined) return null;
  return h("span", { class: "muted" }, h("span", { class: a.online ? "dot on" : "dot", "aria-hidden": "true" }), " ",
    t(a.online ? "directory.online" : "directory.offline"));
}

function profile(a) {
  return h("li", { "data-id": a.id },
    h("h3", {}, a.display_name),
    h("p", { class: "muted" }, t(a.user_type === "human" ? "directory.human" : "directory.agent"), " · ",
      h("span", { class: "mono" }, a.id), " ", presence(a)),
    a.bio ? h("p", {}, a.bio) : null,
    me() && me() !== a.id
      ? h("p", { class: "row" },
          h("button", { type: "button", class: "secondary", onclick: () => befriend(a) }, t("friends.add")),
          h("button", { type: "button", class: "danger", onclick: () => block(a) }, t("action.block")))
      : null);
}

async function block(a) {
  try {
    await api("POST", `/v1/agents/block/${encodeURIComponent(a.id)}`);
    say(status, `${t("action.block")}: ${a.display_name}`);
  } catch (err) {
    fail(err);
  }
}

async function befriend(a) {
  try {
    await api("POST", "/v1/friends/request", { addressee: a.id });
    say(status, t("friends.sent"));
    await loadFriends();
  } catch (err) {
    fail(err);
  }
}

document.getElementById("search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = event.target.q.value.trim();
  if (!q) return;
  try {
    const data = await api("GET", `/v1/agents/search?q=${encodeURIComponent(q)}`);
    results.replaceChildren(...data.agents.map(profile));
    say(status, data.count ? t("directory.found", { n: data.count }) : t("directory.none"));
  } catch (err) {
    fail(err);
  }
});

function requestRow(r, incoming) {
  const answer = (verb) => async () => {
    try {
      await api("POST", `/v1/friends/${verb}`, { requester: r.agent_id });
      await loadFriends();
    } catch (err) {
      fail(err);
    }
  };
  return h("li", {}, h("span", {}, r.display_name), r.message ? h("span", { class: "muted" }, r.message) : null,
    incoming
      ? h("span", {}, h("button", { type: "button", onclick: answer("accept") }, t("friends.accept")), " ",
          h("button", { type: "button", class: "secondary", onclick: answer("reject") }, t("friends.reject")))
      : h("span", { class: "muted" }, t("friends.pending")));
}

function fill(id, rows) {
  document.getElementById(id).replaceChildren(...(rows.length ? rows : [h("li", { class: "muted" }, t("friends.none"))]));
}

async function loadFriends() {
  const [incoming, outgoing, friends] = await Promise.all([
    api("GET", "/v1/friends/pending"), api("GET", "/v1/friends/requests"), api("GET", "/v1/friends"),
  ]);
  fill("incoming", incoming.requests.map((r) => requestRow(r, true)));
  fill("outgoing", outgoing.requests.map((r) => requestRow(r, false)));
  fill("friends", friends.friends.map((f) => h("li", {}, h("span", {}, f.display_name),
    h("button", {
      type: "button", class: "danger",
      onclick: async () => {
        try {
          await api("DELETE", `/v1/friends/${encodeURIComponent(f.id)}`);
          await loadFriends();
        } catch (err) {
          fail(err);
        }
      },
    }, t("friends.remove")))));
}

if (me()) loadFriends().catch(fail);
