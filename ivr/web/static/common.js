"use strict";
// What the pages share (/desk, /campaigns, /orders, /reports), loaded before each page's own script: the session's CSRF token,
// the API call, a time as shown, and table cells.
const $ = (id) => document.getElementById(id);

// The session's CSRF token, which the server set in a cookie this page (and only this site) can read.
function csrfToken() {
  const found = document.cookie.split("; ").find((item) => item.startsWith("hotline_csrf="));
  return found ? decodeURIComponent(found.slice("hotline_csrf=".length)) : "";
}

// JSON in and out; `raw`: the body (a FormData) is sent as it is. A refusal throws its message and status.
async function api(method, path, body, raw) {
  const headers = { "X-CSRF-Token": csrfToken() };
  if (body && !raw) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, credentials: "same-origin", headers,
                                       body: raw ? body : body ? JSON.stringify(body) : undefined });
  const data = await response.json();
  if (!response.ok) throw Object.assign(new Error(data.message || data.error_id), { status: response.status });
  return data;
}

const when = (iso) => iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "—";
function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}
function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined && text !== null) made.textContent = String(text);
  if (className) made.className = className;
  return made;
}

// The web users' log-in form (#login, #user, #password, #login-error) of a page: `start` runs once signed in.
function wireLogin(start) {
  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    try {
      await api("POST", "/api/portal/session", { user: $("user").value, password: $("password").value });
      await start();
    } catch (error) { $("login-error").textContent = error.message; }
  });
}

// Who is signed in (a web user, or an agent from the desk), or null after showing the log-in form.
async function signedIn() {
  try {
    return await api("GET", "/api/portal/me");
  } catch (error) {
    $("login").hidden = false;
    return null;
  }
}

// A supervisors' page once signed in: `load` reads what it shows; a refusal (not this role) puts the log-in form
// back with the reason. The signed-in person, or null.
async function openPage(pageId, load) {
  const me = await signedIn();
  if (!me) return null;
  $("login").hidden = true;
  $("who").textContent = `${me.id} · ${me.role}`;
  try {
    await load();
  } catch (error) {
    $("login").hidden = false;
    $("login-error").textContent = error.message;
    return null;
  }
  $(pageId).hidden = false;
  return me;
}
