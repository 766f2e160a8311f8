"use strict";
// The agents' desk: log in, take a seat, pause and resume; the server pushes the screen-pop and seat state.
const TEXT = {
  zh: { title: "12345 坐席工作台", agentId: "工号", pin: "密码", logIn: "登录", agent: "坐席", logOut: "退出",
        seat: "分机", takeSeat: "签入", leaveSeat: "签出", pauseReason: "小休原因", pause: "示忙", resume: "示闲",
        incoming: "来电", handOff: "紧急转接", handedOff: "已转接", caller: "来电号码", waited: "排队", seconds: "秒", earlier: "历史来电", noEarlier: "首次来电",
        orders: "工单", orderContent: "诉求内容", takeOrder: "登记工单", orderTaken: "已登记工单",
        address: "地址", citizenName: "市民姓名", confidential: "保密", orderType: "类型", topic: "事项",
        department: "承办单位", knowledge: "知识库", search: "搜索", answer: "答复（直接办结）", thenDispatch: "登记并派单",
        thenClose: "直接答复办结", thenLater: "仅登记", allOrders: "工单管理", suggested: "建议", duplicate: "可能重复",
        use: "采用", stale: "待复核",
        conference: "三方通话（坐席不挂机）", other: "English",
        states: { not_in_use: "空闲", in_use: "通话中", busy: "忙", ringing: "振铃", ringinuse: "振铃",
                  on_hold: "保持", unavailable: "话机未注册", invalid: "无效", unknown: "未知", paused: "示忙" },
        outcomes: { answered: "已接听", abandoned: "放弃", timed_out: "超时", hung_up_before_queue: "未排队挂机",
                    refused: "拒绝", in_progress: "进行中" },
        orderStates: { draft: "待受理", accepted: "已受理", dispatched: "已派单", signed: "已签收", returned: "退单审核中",
                       replied: "已答复", closed: "已办结", visited: "已回访", evaluated: "已评价", merged: "已并单",
                       discarded: "已作废" } },
  en: { title: "12345 agent desk", agentId: "Agent id", pin: "PIN", logIn: "Log in", agent: "Agent", logOut: "Log out",
        seat: "Seat", takeSeat: "Take seat", leaveSeat: "Leave seat", pauseReason: "Pause reason", pause: "Pause",
        resume: "Resume", incoming: "Incoming call", handOff: "Emergency hand-off", handedOff: "Handed to", caller: "Caller", waited: "waited", seconds: "s",
        earlier: "Earlier calls", noEarlier: "First call", orders: "Work orders", orderContent: "Request",
        takeOrder: "Take order", orderTaken: "Order taken",
        address: "Address", citizenName: "Citizen", confidential: "confidential", orderType: "Type", topic: "Topic",
        department: "Department", knowledge: "Knowledge base", search: "Search", answer: "Answer (close now)",
        thenDispatch: "file and dispatch", thenClose: "answer and close", thenLater: "file only",
        allOrders: "All orders", suggested: "Suggested", duplicate: "possible duplicate", use: "use", stale: "review due", conference: "three-way (stay on the line)",
        other: "中文",
        states: { not_in_use: "free", in_use: "on a call", busy: "busy", ringing: "ringing", ringinuse: "ringing",
                  on_hold: "on hold", unavailable: "phone not registered", invalid: "invalid", unknown: "unknown",
                  paused: "paused" },
        orderStates: {},
        outcomes: { answered: "answered", abandoned: "abandoned", timed_out: "timed out",
                    hung_up_before_queue: "hung up before queue", refused: "refused", in_progress: "in progress" } },
};
const REASONS_EN = { break: "break", training: "training", after_call_work: "after-call work", meeting: "meeting" };
let locale = localStorage.getItem("desk-locale") || "zh";
let state = null;
let socket = null;
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[locale][key];
const orderState = (state) => TEXT[locale].orderStates[state] || state;

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
  const then = document.querySelector("input[name=order-then]:checked").value;
  try {
    const order = await api("POST", "/api/orders", {
      call: $("screen-pop").dataset.uniqueid, content: $("order-content").value, address: $("order-address").value,
      citizen_name: $("order-name").value, confidential: $("order-confidential").checked,
      type: $("order-type").value, topic: $("order-topic").value || null, then: then || null,
      department: $("order-department").value, reply: $("order-reply").value,
      knowledge_entry: $("order-reply").dataset.entry ? Number($("order-reply").dataset.entry) : null,
    });
    $("order-done").textContent = `${t("orderTaken")} ${order.number} · ${orderState(order.status)}`;
    $("order-done").dataset.state = order.status;
    $("order-form").reset();
    $("order-suggestion").textContent = "";
    $("order-duplicates").replaceChildren();
  } catch (error) { $("desk-error").textContent = error.message; }
}

let catalogue = null;
async function loadCatalogue() {
  if (catalogue) return;
  const [entries, departments] = await Promise.all([api("GET", "/api/catalogue"), api("GET", "/api/departments")]);
  catalogue = entries;
  $("order-topic").replaceChildren(new Option("—", ""), ...entries.map((e) => new Option(`${e.code} ${e.topic}`, e.code)));
  $("order-department").replaceChildren(...departments.map((d) => new Option(d.name, d.code)));
}

let suggestTimer = null;
function suggestSoon() {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(suggestNow, 400);
}

async function suggestNow() {
  const query = new URLSearchParams({ text: $("order-content").value, address: $("order-address").value,
                                      number: $("pop-caller").textContent, topic: $("order-topic").value });
  const found = await api("GET", "/api/orders/suggestion?" + query);
  const best = found.topics[0];
  if (best && !$("order-topic").dataset.chosen) {
    $("order-topic").value = best.code;
    $("order-department").value = best.department;
  }
  if (!$("order-type").dataset.chosen) $("order-type").value = found.type;
  $("order-suggestion").textContent = best ? `${t("suggested")}: ${best.code} ${best.topic} (${best.matched.join("、")})` : "";
  $("order-duplicates").replaceChildren(...found.duplicates.map((d) => {
    const item = document.createElement("li");
    item.textContent = `${t("duplicate")}: ${d.number} · ${orderState(d.status)} · ${d.address || ""} ${d.content}`;
    return item;
  }));
}

async function searchKnowledge() {
  const found = await api("GET", "/api/knowledge?" + new URLSearchParams({ q: $("kb-query").value }));
  $("kb-results").replaceChildren(...found.entries.map((entry) => {
    const item = document.createElement("li");
    const use = document.createElement("button");
    use.type = "button";
    use.textContent = t("use");
    use.addEventListener("click", async () => {
      const full = await api("GET", `/api/knowledge/${entry.id}`);
      $("order-reply").value = full.body || entry.snippet;
      $("order-reply").dataset.entry = String(entry.id);
      document.querySelector("input[name=order-then][value=close_at_intake]").checked = true;
      await api("POST", `/api/knowledge/${entry.id}/use`, { call: $("screen-pop").dataset.uniqueid });
    });
    item.append(`${entry.title}${entry.stale ? ` (${t("stale")})` : ""} · ${entry.department || ""} — ` +
                `${entry.snippet || ""} (${entry.uses}) `, use);
    return item;
  }));
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
    item.textContent = `${order.number || "#" + order.id} · ${orderState(order.status)}` + (order.agent ? ` · ${order.agent}` : "") +
      (order.content ? ` · ${order.content}` : "");
    return item;
  }));
  $("order-done").textContent = "";
  $("handoff-done").textContent = "";
  loadCatalogue().catch((error) => { $("desk-error").textContent = error.message; });
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
$("order-content").addEventListener("input", suggestSoon);
$("order-address").addEventListener("input", suggestSoon);
$("order-topic").addEventListener("change", () => {
  $("order-topic").dataset.chosen = "yes";
  const entry = (catalogue || []).find((e) => e.code === $("order-topic").value);
  if (entry) $("order-department").value = entry.department;
  suggestSoon();
});
$("order-type").addEventListener("change", () => { $("order-type").dataset.chosen = "yes"; });
$("order-form").addEventListener("reset", () => {
  delete $("order-topic").dataset.chosen;
  delete $("order-type").dataset.chosen;
  delete $("order-reply").dataset.entry;
});
$("kb-search").addEventListener("click", () => searchKnowledge().catch((error) => { $("desk-error").textContent = error.message; }));
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
