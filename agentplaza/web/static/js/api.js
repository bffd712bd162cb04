// The browser's /v1 client: the session cookie authenticates; unsafe methods carry the
// double-submit CSRF token (the ap_csrf cookie's value) that the server checks.
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code || String(status));
    this.status = status;
    this.code = code;
  }
}

export function cookie(name) {
  for (const part of document.cookie.split("; ")) {
    const eq = part.indexOf("=");
    if (part.slice(0, eq) === name) return decodeURIComponent(part.slice(eq + 1));
  }
  return "";
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("ap_csrf");
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.code, data.detail || data.error);
  return data;
}
