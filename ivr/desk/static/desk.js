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
        voicemail: "语音留言", vmQueued: "待转写", vmRunning: "转写中", vmFailed: "转写失败", vmWaitingDb: "待入库",
        vmModel: "识别模型", vmNone: "暂无待处理的语音留言", vmReview: "留言处理", vmNoAudio: "录音已不在",
        vmTranscript: "转写文本", vmConfidence: "置信度", vmDispatch: "受理并派单", vmAccept: "仅受理",
        vmDiscard: "作废", vmDiscardSure: "确认作废？", vmClose: "关闭", vmRetry: "重新转写", vmRetryAt: "重试于",
        vmAttempts: "已尝试", vmSilence: "（未听出语音）", vmNoTranscript: "（尚未转写）", vmPhone: "电话",
        vmFiled: "已处理工单", vmGone: "这条留言已不在待处理列表（可能已由他人处理）", vmNeedDepartment: "请选择承办单位",
        vmNeedContent: "请填写诉求内容",
        callbacks: "今日回拨", cbNone: "今日暂无回拨", cbAttempts: "已拨", cbAgent: "坐席",
        cbReasons: { missed: "漏接", requested: "预约回拨" },
        cbStates: { pending: "待回拨", dialling: "回拨中", answered: "已接通", given_up: "未接通，已放弃",
                    unknown: "结果未知", not_dialled: "不予回拨" },
        numberKinds: { mobile: "手机", city_fixed: "本地固话", other_fixed: "外地固话", emergency: "紧急号码",
                       service: "服务短号", premium: "声讯/付费号码", international: "国际号码", malformed: "号码无效" },
        jobStates: { queued: "待转写", running: "转写中", done: "已转写", failed: "转写失败" },
        types: { consultation: "咨询", help: "求助", complaint: "投诉", report: "举报", suggestion: "建议",
                 praise: "表扬" },
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
        voicemail: "Voicemail", vmQueued: "to transcribe", vmRunning: "transcribing", vmFailed: "failed",
        vmWaitingDb: "waiting for the database", vmModel: "speech model", vmNone: "No voicemail waiting",
        vmReview: "Voicemail", vmNoAudio: "the recording is no longer there", vmTranscript: "Transcript",
        vmConfidence: "confidence", vmDispatch: "Accept and dispatch", vmAccept: "Accept only", vmDiscard: "Discard",
        vmDiscardSure: "Really discard?", vmClose: "Close", vmRetry: "Transcribe again", vmRetryAt: "retry at",
        vmAttempts: "attempts", vmSilence: "(no speech heard)", vmNoTranscript: "(not transcribed yet)",
        vmPhone: "Phone", vmFiled: "Order", vmGone: "This voicemail is no longer waiting (someone may have dealt with it)",
        vmNeedDepartment: "Choose a department", vmNeedContent: "Write down the request",
        callbacks: "Today's callbacks", cbNone: "No callbacks today", cbAttempts: "dialled", cbAgent: "agent",
        cbReasons: { missed: "missed call", requested: "asked for" },
        cbStates: { pending: "to call back", dialling: "dialling", answered: "connected", given_up: "given up",
                    unknown: "result unknown", not_dialled: "not dialled" },
        numberKinds: { mobile: "mobile", city_fixed: "city line", other_fixed: "other city", emergency: "emergency number",
                       service: "service code", premium: "premium rate", international: "international",
                       malformed: "not a number" },
        jobStates: { queued: "to transcribe", running: "transcribing", done: "transcribed", failed: "transcription failed" },
        types: { consultation: "consultation", help: "help", complaint: "complaint", report: "report",
                 suggestion: "suggestion", praise: "praise" },
        states: { not_in_use: "free", in_use: "on a call", busy: "busy", ringing: "ringing", ringinuse: "ringing",
                  on_hold: "on hold", unavailable: "phone not registered", invalid: "invalid", unknown: "unknown",
                  paused: "paused" },
        orderStates: { draft: "draft", accepted: "accepted", dispatched: "dispatched", signed: "signed",
                       returned: "return under review", replied: "replied", closed: "closed", visited: "visited",
                       evaluated: "evaluated", merged: "merged", discarded: "discarded" },
        outcomes: { answered: "answered", abandoned: "abandoned", timed_out: "timed out",
                    hung_up_before_queue: "hung up before queue", refused: "refused", in_progress: "in progress" } },
};
const REASONS_EN = { break: "break", training: "training", after_call_work: "after-call work", meeting: "meeting" };
let locale = localStorage.getItem("desk-locale") || "zh";
let state = null;
let socket = null;
const t = (key) => TEXT[locale][key];
const orderState = (state) => TEXT[locale].orderStates[state] || state;

function applyLocale() {
  document.documentElement.lang = locale === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });
  $("locale").textContent = t("other");
  delete $("vm-discard").dataset.armed;
  fillTypes();
  if (state) render(state);
  renderVoicemails();
  renderCallbacks();
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
let catalogueLoading = null;
// The catalogue and the departments, fetched once for the intake form and the voicemail review.
function loadCatalogue() {
  if (!catalogueLoading) {
    catalogueLoading = Promise.all([api("GET", "/api/catalogue"), api("GET", "/api/departments")])
      .then(([entries, departments]) => {
        catalogue = entries;
        const topics = () => [new Option("—", ""), ...entries.map((e) => new Option(`${e.code} ${e.topic}`, e.code))];
        $("order-topic").replaceChildren(...topics());
        $("order-department").replaceChildren(...departments.map((d) => new Option(d.name, d.code)));
        $("vm-topic").replaceChildren(...topics());
        $("vm-department").replaceChildren(new Option("—", ""), ...departments.map((d) => new Option(d.name, d.code)));
      })
      .catch((error) => { catalogueLoading = null; throw error; });
  }
  return catalogueLoading;
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

// Voicemail: the drafts from voicemail no agent has dealt with, their transcription, and the review of one
// (listen beside the transcript, correct, then accept and dispatch, accept only, or discard).
let voicemails = null;  // the last answer of /api/voicemails
let vmOpen = null;  // the id of the draft under review
let vmTouched = false;  // the agent changed the review form: a refresh no longer overwrites it
let vmBusy = false;  // an action on the open draft is under way
let vmAsked = 0;  // the latest request for the list: an older answer arriving late is dropped
// The desk speaks two languages: its times follow the chosen one (common.js's `when` is Chinese only).
const localTime = (iso) => iso ? new Date(iso).toLocaleString(locale === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "";
const jobState = (name) => TEXT[locale].jobStates[name] || name;

function firstWords(text, most = 36) {
  const words = (text || "").trim();
  return words.length > most ? words.slice(0, most) + "…" : words;
}

function fillTypes() {
  const select = $("vm-type");
  const chosen = select.value;
  select.replaceChildren(...Object.entries(TEXT[locale].types).map(([code, label]) => new Option(label, code)));
  if (chosen) select.value = chosen;
}

async function refreshVoicemails() {
  const asked = ++vmAsked;
  let found;
  try {
    found = await api("GET", "/api/voicemails");
  } catch (error) {
    if (asked === vmAsked) $("vm-problem").textContent = error.message;
    return;
  }
  if (asked !== vmAsked) return;
  voicemails = found;
  renderVoicemails();
}

function renderVoicemails() {
  const found = voicemails;
  if (!found) return;
  $("vm-queued").textContent = found.counts.queued ?? 0;
  $("vm-running").textContent = found.counts.running ?? 0;
  $("vm-failed").textContent = found.counts.failed ?? 0;
  $("vm-waiting").hidden = !found.waiting_for_database;
  $("vm-waiting-count").textContent = found.waiting_for_database || 0;
  $("vm-model").textContent = found.model ? `${t("vmModel")}: ${found.model}` : "";
  $("vm-problem").textContent = found.problem || "";
  $("vm-none").hidden = found.items.length > 0;
  $("vm-list").replaceChildren(...found.items.map(voicemailItem));
  if (vmOpen === null) return;
  const open = found.items.find((item) => item.id === vmOpen);
  if (open) showReview(open, false);
  else if (!vmBusy) goneFromList();
}

function jobText(job) {
  let text = jobState(job.state);
  if (job.state === "queued" && job.retry_at) {
    text += ` (${t("vmAttempts")} ${job.attempts}, ${t("vmRetryAt")} ${localTime(job.retry_at)})`;
  }
  return text;
}

function voicemailItem(item) {
  const row = element("li", null, "vm-item" + (item.id === vmOpen ? " open" : ""));
  row.dataset.orderId = String(item.id);
  row.dataset.state = item.job.state;
  row.tabIndex = 0;
  const job = element("span", null, "vm-state");
  job.append(element("span", jobText(item.job), "vm-job " + item.job.state));
  if (item.job.state === "failed") {
    if (item.job.reason) job.append(" ", element("span", item.job.reason, "vm-reason"));
    const retry = element("button", t("vmRetry"), "vm-retry");
    retry.type = "button";
    retry.addEventListener("click", (event) => {
      event.stopPropagation();
      retry.disabled = true;
      api("POST", `/api/voicemails/${item.id}/retry`, {})
        .then(refreshVoicemails)
        .catch((error) => { $("vm-problem").textContent = error.message; retry.disabled = false; });
    });
    job.append(retry);
  }
  const words = item.transcript ? firstWords(item.transcript.text) || t("vmSilence") : "";
  row.append(element("span", localTime(item.at), "vm-at"), element("span", item.caller_number || "—", "vm-caller"), job,
             element("span", words, "vm-words"));
  row.addEventListener("click", () => openVoicemail(item.id));
  row.addEventListener("keydown", (event) => { if (event.key === "Enter") openVoicemail(item.id); });
  return row;
}

async function openVoicemail(id) {
  const item = voicemails && voicemails.items.find((found) => found.id === id);
  if (!item) return;
  vmOpen = id;
  vmTouched = false;
  delete $("vm-discard").dataset.armed;
  $("vm-discard").textContent = t("vmDiscard");
  $("vm-done").textContent = "";
  $("vm-error").textContent = "";
  setVoicemailButtons(true);
  document.querySelectorAll("#vm-list li").forEach((row) => {
    row.classList.toggle("open", row.dataset.orderId === String(id));
  });
  try { await loadCatalogue(); } catch (error) { $("vm-error").textContent = error.message; }
  if (vmOpen !== id) return;  // another one was opened meanwhile
  const current = voicemails.items.find((found) => found.id === id) || item;
  showReview(current, true);
}

function showReview(item, fresh) {
  const review = $("vm-review");
  review.hidden = false;
  review.dataset.orderId = String(item.id);
  review.dataset.state = item.job.state;
  $("vm-number").textContent = item.number || `#${item.id}`;
  $("vm-caller").textContent = item.caller_number || "—";
  $("vm-at").textContent = localTime(item.at);

  const audio = $("vm-audio");
  const source = item.recording ? `/api/orders/${item.id}/attachments/${item.recording}` : "";
  if (audio.getAttribute("src") !== source) {  // a refresh does not interrupt the agent's listening
    if (source) audio.setAttribute("src", source);
    else { audio.pause(); audio.removeAttribute("src"); audio.load(); }
  }
  audio.hidden = !source;
  $("vm-no-audio").hidden = Boolean(source);

  const heard = item.transcript;
  $("vm-transcript").textContent = heard ? heard.text : "";
  $("vm-confidence").textContent = heard && heard.confidence !== null && heard.confidence !== undefined
    ? `${t("vmConfidence")} ${Math.round(heard.confidence * 100)}%` : "";
  let status = "";
  if (!heard) status = item.job.state === "failed" ? `${jobState("failed")}: ${item.job.reason || ""}`
                                                  : `${jobText(item.job)} ${t("vmNoTranscript")}`;
  else if (!heard.text) status = t("vmSilence");
  else status = `${heard.model || ""} · ${heard.seconds ?? ""} ${t("seconds")}`;
  $("vm-job").textContent = status;
  const findings = (heard && heard.findings) || {};
  $("vm-findings").replaceChildren(
    ...(findings.phones || []).map((phone) => element("li", `${t("vmPhone")}: ${phone}`, "vm-phone")),
    ...(findings.addresses || []).map((place) => element("li", `${t("address")}: ${place}`, "vm-place")));
  const best = (findings.topics || [])[0];
  $("vm-suggestion").textContent = best
    ? `${t("suggested")}: ${best.code} ${best.topic}` + (best.matched && best.matched.length ? ` (${best.matched.join("、")})` : "")
    : "";

  if (fresh || !vmTouched) {
    $("vm-content").value = item.content || "";
    $("vm-type").value = item.type || "consultation";
    $("vm-topic").value = item.topic || "";
    if ($("vm-topic").value !== (item.topic || "")) $("vm-topic").value = "";  // not in the catalogue (any more)
    $("vm-department").value = departmentOf($("vm-topic").value);
    $("vm-address").value = item.address || "";
  }
}

function departmentOf(topic) {
  const entry = (catalogue || []).find((e) => e.code === topic);
  return entry ? entry.department : "";
}

function setVoicemailButtons(enabled) {
  for (const id of ["vm-dispatch", "vm-accept", "vm-discard"]) $(id).disabled = !enabled;
}

function goneFromList() {
  setVoicemailButtons(false);
  if (!$("vm-error").textContent) $("vm-error").textContent = t("vmGone");
}

function closeReview() {
  vmOpen = null;
  vmTouched = false;
  const audio = $("vm-audio");
  audio.pause();
  audio.removeAttribute("src");
  audio.load();
  $("vm-review").hidden = true;
  delete $("vm-review").dataset.orderId;
  document.querySelectorAll("#vm-list li.open").forEach((row) => row.classList.remove("open"));
}

// The draft corrected (PATCH), then accepted, then dispatched: each step only if the order is still before it,
// so that trying again after a refused dispatch does not accept twice.
async function finishVoicemail(then) {
  const id = vmOpen;
  if (id === null || vmBusy) return;
  $("vm-error").textContent = "";
  const department = $("vm-department").value;
  if (then !== "discard" && !$("vm-content").value.trim()) { $("vm-error").textContent = t("vmNeedContent"); return; }
  if (then === "dispatch" && !department) { $("vm-error").textContent = t("vmNeedDepartment"); return; }
  vmBusy = true;
  setVoicemailButtons(false);
  let order = null;
  try {
    if (then === "discard") {
      order = await api("POST", `/api/orders/${id}/actions/discard`, {});
    } else {
      order = await api("PATCH", `/api/orders/${id}`, {
        type: $("vm-type").value, topic: $("vm-topic").value || null, address: $("vm-address").value,
        content: $("vm-content").value });
      if (order.status === "draft") order = await api("POST", `/api/orders/${id}/actions/accept`, {});
      if (then === "dispatch" && order.status === "accepted") {
        order = await api("POST", `/api/orders/${id}/actions/dispatch`, { department, assisting: [], note: null });
      }
    }
    closeReview();
  } catch (error) {
    $("vm-error").textContent = error.message;
    if (!order || order.status === "draft") setVoicemailButtons(true);
  } finally {
    vmBusy = false;
  }
  if (order && order.status !== "draft") {
    const done = $("vm-done");
    done.textContent = `${t("vmFiled")} ${order.number} · ${orderState(order.status)}`;
    done.dataset.orderId = String(order.id);
    done.dataset.number = order.number;
    done.dataset.state = order.status;
  }
  await refreshVoicemails();
}

// Today's callbacks: what the dialer calls back, and the numbers it never dials (abroad, premium, 110…) with why,
// for the agents to judge and call by hand.
let callbacks = null;  // the last answer of /api/callbacks

async function refreshCallbacks() {
  try {
    callbacks = await api("GET", "/api/callbacks");
    $("cb-problem").textContent = "";
  } catch (error) {
    $("cb-problem").textContent = error.message;
    return;
  }
  renderCallbacks();
}

function renderCallbacks() {
  if (!callbacks) return;
  const text = TEXT[locale];
  $("cb-none").hidden = callbacks.callbacks.length > 0;
  $("cb-list").replaceChildren(...callbacks.callbacks.map((item) => {
    const row = element("li", null, "cb-item");
    row.dataset.number = item.number;
    row.dataset.status = item.status;
    let status = text.cbStates[item.status] || item.status;
    if (item.not_dialled_because) status += ` · ${text.numberKinds[item.not_dialled_because] || item.not_dialled_because}`;
    row.append(element("span", item.number, "cb-number"), element("span", text.cbReasons[item.reason] || item.reason),
               element("span", status, "cb-status " + item.status),
               element("span", `${t("cbAttempts")} ${item.attempts}${item.agent ? ` · ${t("cbAgent")} ${item.agent}` : ""}`));
    return row;
  }));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onmessage = async (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "screen-pop") showScreenPop(message);
    else if (message.type === "state") {
      render(message);
      refreshVoicemails();  // a (re)connection: what changed while the socket was away
      refreshCallbacks();
    } else if (message.type === "seat") render(await api("GET", "/api/me"));
    else if (message.type === "voicemails") refreshVoicemails();
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
    refreshVoicemails();
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
$("vm-form").addEventListener("input", () => { vmTouched = true; });
$("vm-form").addEventListener("change", () => { vmTouched = true; });
$("vm-topic").addEventListener("change", () => { $("vm-department").value = departmentOf($("vm-topic").value); });
$("vm-form").addEventListener("submit", (event) => { event.preventDefault(); finishVoicemail("dispatch"); });
$("vm-accept").addEventListener("click", () => finishVoicemail("accept"));
$("vm-discard").addEventListener("click", () => {
  const button = $("vm-discard");
  if (!button.dataset.armed) {  // a draft discarded is gone from the list: the second click confirms
    button.dataset.armed = "yes";
    button.textContent = t("vmDiscardSure");
    return;
  }
  delete button.dataset.armed;
  button.textContent = t("vmDiscard");
  finishVoicemail("discard");
});
$("vm-close").addEventListener("click", closeReview);
$("locale").addEventListener("click", () => {
  locale = locale === "zh" ? "en" : "zh";
  localStorage.setItem("desk-locale", locale);
  applyLocale();
});

setInterval(() => { if (state) refreshCallbacks(); }, 30_000);  // the dialer's progress is not pushed
applyLocale();
api("GET", "/api/me").then((me) => { render(me); refreshVoicemails(); connect(); })
  .catch(() => { /* not logged in yet */ });
