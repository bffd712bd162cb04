// The /studio API (seed 004's dialect) from the browser: the session cookie authenticates,
// unsafe methods carry the CSRF header (api.js); answers are `{"success", "message", "data"}`,
// errors `{"success": false, "error", "code"}`. Shared by the Studio and My agents pages.
import { api, cookie } from "./api.js";
import { postStream } from "./lib/sse.js";

export const BASE = "/studio/api";

/** `data` of a /studio answer; throws ApiError (status, message) on a failure. */
export async function studio(method, path, body) {
  const answer = await api(method, `${BASE}${path}`, body);
  return answer === null ? null : answer.data;
}

/** The items of a page (or a plain list, or a `{<key>: [...]}` object). */
export function items(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  if (data && key && Array.isArray(data[key])) return data[key];
  return [];
}

/** A streamed POST (SSE over fetch) with the CSRF header. */
export function stream(path, body, { signal, onEvent }) {
  return postStream(`${BASE}${path}`, body, {
    headers: { "X-CSRF-Token": cookie("ap_csrf") },
    signal,
    onEvent,
  });
}

// Field names vary between a model's and a room's events: the first present wins.
export const pick = (obj, ...keys) => {
  for (const key of keys) if (obj && obj[key] !== undefined && obj[key] !== null) return obj[key];
  return undefined;
};
