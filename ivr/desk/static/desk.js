"use strict";
// The agents' desk: log in, take a seat, pause and resume; the server pushes the screen-pop and seat state.
const TEXT = {
  zh: { title: "12345 坐席工作台", agentId: "工号", pin: "密码", logIn: "登录", agent: "坐席", logOut: "退出",
        seat: "分机", takeSeat: "签入", leaveSeat: "签出", pauseReason: "小休原因", pause: "示忙", resume: "示闲",
        incoming: "来电", handOff: "紧急转接", handedOff: "已转接", caller: "来电号码", waited: "排队", seconds: "秒", earlier: "历史来电", noEarlier: "首次来电",
        orders: "工单", orderContent: "诉求内容", takeOrder: "登记工单", orderTaken: "已登记工单",
        conference: "三方通话（坐席不挂机）", other: "English",
        states: { not_in_use: "空闲", in_use: "通话中", busy: "忙", ringing: "振铃", ringinuse: "振铃",
                  on_hold: "保持", unavailable: "话机未注册", invalid: "无效", unknown: "未知", paused: "示忙" },
        outcomes: { answered: "已接听", abandoned: "放弃", timed_out: "超时", hung_up_before_queue: "未排队挂机",
                    refused: "拒绝", in_progress: "进行中" } },
  en: { title: "12345 agent desk", agentId: "Agent id", pin: "PIN", logIn: "Log in", agent: "Agent", logOut: "Log out",
        seat: "Seat", takeSeat: "Take seat", leaveSeat: "Leave seat", pauseReason: "Pause reason", pause: "Pause",
        resume: "Resume", incoming: "Incoming call", handOff: "Emergency hand-off", handedOff: "Handed to", caller: "Caller", waited: "waited", seconds: "s",
        earlier: "Earlier calls", noEarlier: "First call", orders: "Work orders", orderContent: "Request",
        takeOrder: "Take order", orderTaken: "Order taken", conference: "three-way (stay on the line)",
        other: "中文",
        states: { not_in_use: "free", in_use: "on a call", busy: "busy", ringing: "ringing", ringinuse: "ringing",
                  on_hold: "on hold", unavailable: "phone not registered", invalid: "invalid", unknown: "unknown",
                  paused: "paused" },
        outcomes: { answered: "answered", abandoned: "abandoned", timed_out: "timed out",
                    hung_up_before_queue: "hung up before queue", refused: "refused", in_progress: "in progress" } },
};
const REASONS_EN = { break: "break", training: "training", after_call_work: "after-call work", meeting: "meeting" };
let locale = localStorage.getItem("desk-locale") || "zh";
let state = null;
let socket = null;
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[locale][key];

function applyLocale() {
  document.documentElement.lang = locale === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });
  $("locale").textContent = t("other");
  if (state) render(state);
}

// The session's CSRF token, which the server set in a cookie this page (and only this site) can read.
function csrfToken() {
  const found = document.cookie.split("; ").find((item) => item.startsWith("hotline_csrf="));
  return found ? decodeURIComponent(found.slice("hotline_csrf=".length)) : "";
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method, credentials: "same-origin",
    headers: { ...(body ? { "Content-Type": "application/json" } : {}), "X-CSRF-Token": csrfToken() },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.message || data.error_id);
  return data;
}

function render(next) {
  state = next;
  $("login").hidden = true;
  $("desk").hidden = false;
  $("agent-name").textContent = next.agent.name;
  $("agent-number").textContent = next.agent.id;
  const seat = next.seat;
  $("no-seat").hidden = Boolean(seat);
  $("on-seat").hidden = !seat;
  $("seat-choice").replaceChildren(...next.free_seats.map((number) => new Option(number, number)));
  $("pause-reason").replaceChildren(...Object.entries(next.pause_reasons).map(
    ([key, label]) => new Option(locale === "zh" ? label : REASONS_EN[key] || key, key)));
  if (seat) {
    $("seat-number").textContent = seat.number;
    const shown = seat.paused ? "paused" : seat.phone;
    const reason = seat.paused && seat.reason ? ` (${locale === "zh" ? next.pause_reasons[seat.reason] : REASONS_EN[seat.reason]})` : "";
    $("seat-state").textContent = (TEXT[locale].states[shown] || shown) + reason;
    $("seat-state").className = "state " + shown;
    $("seat-state").dataset.state = shown;
    $("pause").hidden = seat.paused;
    $("resume").hidden = !seat.paused;
  }
}

async function takeOrder(event) {
  event.preventDefault();
  try {
    const order = await api("POST", "/api/workorders",
                            { content: $("order-content").value, call: $("screen-pop").dataset.uniqueid });
    $("order-done").textContent = `${t("orderTaken")} #${order.id}`;
    $("order-content").value = "";
  } catch (error) { $("desk-error").textContent = error.message; }
}

function showScreenPop(pop) {
  $("pop-caller").textContent = pop.caller;
  $("pop-waited").textContent = pop.waited ?? "0";
  $("pop-history").replaceChildren(...pop.earlier_calls.map((call) => {
    const item = document.createElement("li");
    const when = call.at ? new Date(call.at).toLocaleString(locale === "zh" ? "zh-CN" : "en-GB") : "";
    item.textContent = `${when} · ${TEXT[locale].outcomes[call.outcome] || call.outcome}` +
      (call.agent ? ` · ${call.agent}` : "");
    return item;
  }));
  $("pop-none").hidden = pop.earlier_calls.length > 0;
  $("pop-orders").replaceChildren(...(pop.work_orders || []).map((order) => {
    const item = document.createElement("li");
    item.textContent = `#${order.id} · ${order.status}` + (order.agent ? ` · ${order.agent}` : "") +
      (order.content ? ` · ${order.content}` : "");
    return item;
  }));
  $("order-done").textContent = "";
  $("handoff-done").textContent = "";
  $("handoff-buttons").replaceChildren(...state.emergency_numbers.map((number) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = number;
    button.dataset.number = number;
    button.addEventListener("click", async () => {
      try {
        const mode = $("handoff-conference").checked ? "conference" : "transfer";
        await api("POST", "/api/call/handoff", { number, mode });
        $("handoff-done").textContent = `${t("handedOff")} ${number}`;
      } catch (error) { $("desk-error").textContent = error.message; }
    });
    return button;
  }));
  const panel = $("screen-pop");
  panel.hidden = false;
  panel.dataset.uniqueid = pop.uniqueid;
  panel.dataset.shownAt = String(Date.now());  // the tests compare this with the AMI event's time
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onmessage = async (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "screen-pop") showScreenPop(message);
    else if (message.type === "state") render(message);
    else if (message.type === "seat") render(await api("GET", "/api/me"));
  };
  socket.onclose = () => { if (state) setTimeout(connect, 1000); };
  socket.onopen = () => { document.body.dataset.connected = "yes"; };
}

async function act(method, path, body) {
  $("desk-error").textContent = "";
  try { render(await api(method, path, body)); } catch (error) { $("desk-error").textContent = error.message; }
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    await api("POST", "/api/session", { agent_id: $("agent-id").value, pin: $("pin").value });
    render(await api("GET", "/api/me"));
    connect();
  } catch (error) { $("login-error").textContent = error.message; }
});
$("order-form").addEventListener("submit", takeOrder);
$("seat-login").addEventListener("click", () => act("POST", "/api/seat", { seat: $("seat-choice").value }));
$("seat-logout").addEventListener("click", () => act("DELETE", "/api/seat"));
$("pause").addEventListener("click", () => act("POST", "/api/seat/pause", { reason: $("pause-reason").value }));
$("resume").addEventListener("click", () => act("POST", "/api/seat/resume"));
$("logout").addEventListener("click", async () => {
  state = null;
  if (socket) socket.close();
  await api("DELETE", "/api/session");
  location.reload();
});
$("locale").addEventListener("click", () => {
  locale = locale === "zh" ? "en" : "zh";
  localStorage.setItem("desk-locale", locale);
  applyLocale();
});

applyLocale();
api("GET", "/api/me").then((me) => { render(me); connect(); }).catch(() => { /* not logged in yet */ });
