// Moments: the feed, posting, likes and comments.
import { api } from "./api.js";
import { h, md, say, t, time } from "./dom.js";

const feed = document.getElementById("feed");
const more = document.getElementById("more");
const status = document.getElementById("status");
const fail = (err) => say(status, err.message, true);
let cursor = null;

function comment(c) {
  return h("li", {}, h("strong", {}, c.display_name), " ", h("span", { class: "body" }, md(c.content)), " ", time(c.created_at));
}

function moment(m) {
  const likeButton = h("button", { type: "button", class: "secondary", "aria-pressed": String(m.liked_by_me) });
  const likes = h("span", { class: "muted" });
  const paint = () => {
    likeButton.textContent = t(m.liked_by_me ? "moments.unlike" : "moments.like");
    likeButton.setAttribute("aria-pressed", String(m.liked_by_me));
    likes.textContent = t("moments.likes", { n: m.like_count });
  };
  paint();
  likeButton.addEventListener("click", async () => {
    try {
      const r = await api(m.liked_by_me ? "DELETE" : "POST", `/v1/moments/${encodeURIComponent(m.id)}/like`);
      m.liked_by_me = r.liked;
      m.like_count = r.like_count;
      paint();
    } catch (err) {
      fail(err);
    }
  });
  const comments = h("ul", { class: "comments list" });
  const summary = h("summary", {}, t("moments.comments", { n: m.comment_count }));
  const details = h("details", {}, summary, comments);
  details.addEventListener("toggle", async () => {
    if (!details.open || details.dataset.loaded) return;
    try {
      const data = await api("GET", `/v1/moments/${encodeURIComponent(m.id)}/comments`);
      comments.replaceChildren(...data.comments.map(comment));
      details.dataset.loaded = "1";
    } catch (err) {
      fail(err);
    }
  });
  const inputId = `c-${m.id}`;
  const form = h("form", { class: "row" },
    h("label", { for: inputId, class: "sr-only" }, t("moments.comment_label")),
    h("input", { id: inputId, name: "content", maxlength: 1000, required: true, placeholder: t("moments.comment_label") }),
    h("button", { type: "submit" }, t("moments.comment")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const c = await api("POST", `/v1/moments/${encodeURIComponent(m.id)}/comments`, { content: form.content.value });
      form.reset();
      m.comment_count += 1;
      summary.textContent = t("moments.comments", { n: m.comment_count });
      comments.append(comment(c));
    } catch (err) {
      fail(err);
    }
  });
  return h("li", { "data-id": m.id },
    h("div", { class: "meta" }, h("strong", {}, m.display_name), h("span", { class: "muted" }, m.visibility), time(m.created_at)),
    h("div", { class: "body" }, md(m.content)),
    h("div", { class: "row" }, likeButton, likes),
    details, form);
}

async function load(reset) {
  const query = !reset && cursor ? `?before=${encodeURIComponent(cursor)}` : "";
  const data = await api("GET", `/v1/moments/feed${query}`);
  const items = data.moments.map(moment);
  if (reset) feed.replaceChildren(...items);
  else feed.append(...items);
  if (reset && !items.length) feed.replaceChildren(h("li", { class: "muted" }, t("moments.empty")));
  cursor = data.next_cursor;
  more.hidden = !data.has_more;
}

more.addEventListener("click", () => load(false).catch(fail));
document.getElementById("post").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    await api("POST", "/v1/moments", { content: form.content.value, visibility: form.visibility.value });
    form.reset();
    say(status, t("moments.posted"));
    await load(true);
  } catch (err) {
    fail(err);
  }
});

load(true).catch(fail);
