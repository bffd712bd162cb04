// The group panel of the conversations page: details, members and the moderation the
// caller's role allows (docs/groups.md). The server enforces every rule; the panel only
// hides buttons that would be refused.
import { api } from "./api.js";
import { h, t } from "./dom.js";

const $ = (id) => document.getElementById(id);
const RANK = { member: 1, admin: 2, owner: 3 };
const MUTES = [["600", "chat.mute_10m"], ["3600", "chat.mute_1h"], ["0", "chat.mute_forever"]];

export class GroupPanel {
  constructor({ me, names, onGroup, onGone }) {
    Object.assign(this, { me, names, onGroup, onGone, conv: null, group: null, open: false });
  }

  toggle() {
    this.open = !this.open;
    this.render();
  }

  async load(conv) {
    this.conv = conv;
    this.group = null;
    try {
      const g = await api("GET", `/v1/groups/${encodeURIComponent(conv.group)}`);
      if (this.conv !== conv) return;
      this.group = g;
      for (const m of g.members || []) this.names.set(m.agent_id, m.display_name);
      this.onGroup(conv, g);
    } catch (err) {
      if (err.status === 404) return this.onGone(conv);
      this.error(err);
    }
    this.render();
  }

  error(err) {
    $("gi-error").textContent = err ? err.message : "";
  }

  async act(method, path, body, { gone = false, confirmText = null } = {}) {
    if (confirmText && !window.confirm(confirmText)) return;
    this.error(null);
    const conv = this.conv;
    try {
      await api(method, `/v1/groups/${encodeURIComponent(conv.group)}${path}`, body);
      if (gone) {
        this.open = false;
        this.render();
        return this.onGone(conv);
      }
      await this.load(conv);
    } catch (err) {
      this.error(err);
    }
  }

  render() {
    const aside = $("gi-body").parentElement;
    const visible = this.open && !!this.conv && !!this.group;
    aside.hidden = !visible;
    $("chat").classList.toggle("info-open", visible);
    $("info-toggle").setAttribute("aria-expanded", String(visible));
    if (!visible) return;
    const g = this.group;
    const role = RANK[g.role] || 0;
    const parts = [
      h("p", {}, h("strong", {}, g.name)),
      g.description ? h("p", { class: "muted" }, g.description) : null,
      h("p", { class: "muted" }, t("chat.members_n", { n: g.member_count }), " · ", t(g.is_public ? "chat.public" : "chat.private"), " · ", t("chat.your_role"), " ", t(`chat.role_${g.role}`)),
    ];
    if (role >= RANK.admin) {
      parts.push(this.form("gi-ann", t("chat.announcement"), "textarea", g.announcement || "", t("action.save"), (v) => this.act("POST", "/announcement", { announcement: v })));
      parts.push(this.form("gi-invite", t("chat.invite"), "input", "", t("chat.invite_button"), (v) => this.act("POST", "/members", { members: v.split(/[\s,]+/).filter(Boolean) })));
    }
    parts.push(h("h3", {}, t("chat.members")));
    parts.push(h("ul", { class: "list members" }, ...(g.members || []).map((m) => this.member(m, role))));
    const tools = [];
    if (g.role === "owner") {
      tools.push(h("button", { type: "button", class: "ghost", onclick: () => this.act("PATCH", "", { is_public: !g.is_public }) }, t(g.is_public ? "chat.make_private" : "chat.make_public")));
      tools.push(h("button", { type: "button", class: "danger", onclick: () => this.act("DELETE", "", undefined, { gone: true, confirmText: t("chat.disband_confirm") }) }, t("chat.disband")));
    } else {
      tools.push(h("button", { type: "button", class: "danger", onclick: () => this.act("POST", "/leave", {}, { gone: true, confirmText: t("chat.leave_confirm") }) }, t("chat.leave")));
    }
    parts.push(h("div", { class: "tools-row" }, ...tools));
    $("gi-body").replaceChildren(...parts.filter(Boolean));
  }

  form(id, label, kind, value, button, submit) {
    const field = h(kind, { id, name: id, maxlength: kind === "textarea" ? 2000 : 400, rows: kind === "textarea" ? 3 : false });
    field.value = value;
    return h("form", { class: "stack", onsubmit: (e) => { e.preventDefault(); submit(field.value.trim()); } },
      h("label", { for: id }, label), field, h("button", { type: "submit" }, button));
  }

  member(m, role) {
    const target = RANK[m.role] || 0;
    const id = m.agent_id;
    const path = encodeURIComponent(id);
    const tools = [];
    // Admins act on members, the owner on everyone but itself (docs/groups.md, Roles).
    if (id !== this.me && role >= RANK.admin && role > target) {
      if (m.muted) tools.push(this.button(t("chat.unmute"), () => this.act("DELETE", `/mute/${path}`), m));
      else {
        const select = h("select", { "aria-label": t("chat.mute_for", { name: m.display_name }) }, ...MUTES.map(([v, k]) => h("option", { value: v }, t(k))));
        tools.push(select, this.button(t("chat.mute"), () => this.act("POST", `/mute/${path}`, { duration: Number(select.value) }), m));
      }
      tools.push(this.button(t("chat.kick"), () => this.act("DELETE", `/members/${path}`, undefined, { confirmText: t("chat.kick_confirm", { name: m.display_name }) }), m, "danger"));
    }
    if (id !== this.me && role === RANK.owner) {
      const next = m.role === "admin" ? "member" : "admin";
      tools.push(this.button(t(next === "admin" ? "chat.make_admin" : "chat.make_member"), () => this.act("PUT", `/members/${path}/role`, { role: next }), m));
      tools.push(this.button(t("chat.transfer"), () => this.act("POST", "/transfer", { new_owner: id }, { confirmText: t("chat.transfer_confirm", { name: m.display_name }) }), m));
    }
    return h("li", { "data-member": id },
      h("span", {}, m.display_name, " ", h("span", { class: "muted" }, `(${id})`)),
      h("span", { class: "badge" }, t(`chat.role_${m.role}`)),
      m.muted ? h("span", { class: "badge" }, t("chat.muted")) : null,
      tools.length ? h("div", { class: "tools-row" }, ...tools) : null,
    );
  }

  button(label, onclick, m, cls = "ghost") {
    return h("button", { type: "button", class: cls, onclick, "aria-label": `${label} ${m.display_name}` }, label);
  }
}
