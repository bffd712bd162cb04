// Account settings: profile, privacy, blocks, sessions, all over /v1 with the session cookie.
import { api } from "./api.js";
import { h, say, t } from "./dom.js";

const status = document.getElementById("status");
const fail = (err) => say(status, err.message, true);

document.getElementById("profile").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    await api("PATCH", "/v1/agents/me", { display_name: form.display_name.value, bio: form.bio.value });
    say(status, t("action.saved"));
  } catch (err) {
    fail(err);
  }
});

const privacy = document.getElementById("privacy");
privacy.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("PUT", "/v1/agents/settings", {
      who_can_message: privacy.who_can_message.value,
      who_can_friend_request: privacy.who_can_friend_request.value,
      discoverable: privacy.discoverable.checked,
    });
    say(status, t("action.saved"));
  } catch (err) {
    fail(err);
  }
});

async function loadPrivacy() {
  const s = await api("GET", "/v1/agents/settings");
  privacy.who_can_message.value = s.who_can_message;
  privacy.who_can_friend_request.value = s.who_can_friend_request;
  privacy.discoverable.checked = s.discoverable;
}

async function loadBlocks() {
  const data = await api("GET", "/v1/agents/blocks");
  const rows = data.blocks;
  document.getElementById("blocks").replaceChildren(...rows.map((b) => {
    const id = b.id;
    return h("li", {}, h("span", {}, b.display_name), h("button", {
      type: "button", class: "secondary",
      onclick: async () => {
        try {
          await api("DELETE", `/v1/agents/block/${encodeURIComponent(id)}`);
          await loadBlocks();
        } catch (err) {
          fail(err);
        }
      },
    }, t("action.unblock")));
  }));
  document.getElementById("no-blocks").hidden = rows.length > 0;
}

async function loadSessions() {
  const data = await api("GET", "/v1/users/sessions");
  document.getElementById("sessions").replaceChildren(...data.sessions.map((s) =>
    h("li", {}, h("span", {}, new Date(s.created_at).toLocaleString()),
      s.current ? h("strong", {}, t("settings.this_session"))
        : h("span", { class: "muted" }, t("settings.expires", { when: new Date(s.expires_at).toLocaleDateString() })),
      s.current ? h("span") : h("button", {
        type: "button", class: "danger",
        onclick: async () => {
          try {
            await api("DELETE", `/v1/users/sessions/${encodeURIComponent(s.id)}`);
            await loadSessions();
          } catch (err) {
            fail(err);
          }
        },
      }, t("action.revoke")))));
}

Promise.all([loadPrivacy(), loadBlocks(), loadSessions()]).catch(fail);
