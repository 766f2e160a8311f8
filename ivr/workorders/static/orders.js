"use strict";
// The orders page for every role: what a role may do comes from the server (`actions` on each order).
const STATES = { draft: "待受理", accepted: "已受理", dispatched: "已派单", signed: "已签收", returned: "退单审核中",
  replied: "已答复", closed: "已办结", visited: "已回访", evaluated: "已评价", merged: "已并单", discarded: "已作废" };
const TYPES = { consultation: "咨询", help: "求助", complaint: "投诉", report: "举报", suggestion: "建议", praise: "表扬" };
const ACTIONS = {
  accept: ["受理", []], discard: ["作废", []], dispatch: ["派单", [["department", "department"]]],
  close_at_intake: ["直接办结", [["reply", "text"]]], sign: ["签收", []],
  forward: ["转派下级", [["department", "unit"], ["note", "line", "说明"]]],
  return: ["退单", [["reason_code", "reason"], ["legal_basis", "line", "依据（法规/三定/权责清单条款）"], ["note", "text"]]],
  redispatch: ["改派", [["department", "department"], ["note", "line", "说明"]]],
  reject_return: ["驳回退单", [["note", "line", "理由"]]],
  request_extension: ["申请延期", [["days", "number"], ["reason", "line", "理由"]]],
  approve_extension: ["同意延期", []], refuse_extension: ["不同意延期", [["note", "line", "理由"]]],
  reply: ["答复", [["reply", "text"]]], send_back: ["退回重办", [["note", "line", "未答复的内容"]]],
  close: ["办结", []], visit: ["回访", [["satisfied", "satisfied"]]], evaluate: ["评价归档", []],
  rehandle: ["重办", []], unreachable: ["联系不上", []], merge: ["并单", [["into", "line", "并入工单号"]]],
};
const REASONS = { "not-our-duty": "不属本单位职责", "wrong-area": "不属本辖区", "duplicate": "重复工单",
  "insufficient-info": "信息不全", "legal-process": "需走法定途径" };
let me = null, departments = [], catalogue = [], current = null, box = "open";
const OPEN_STATES = ["draft", "accepted", "dispatched", "signed", "returned", "replied"];

async function showList(path) {
  $("error").textContent = "";
  const page = await api("GET", path);
  $("list").tBodies[0].replaceChildren(...page.items.map((order) => {
    const row = document.createElement("tr");
    row.dataset.number = order.number;
    if (order.due_at && new Date(order.due_at) < new Date()) row.className = "overdue";
    row.append(cell(order.number), cell(STATES[order.status] || order.status), cell(TYPES[order.type]),
               cell(order.department), cell(when(order.due_at), "due"), cell(order.caller_number),
               cell(order.content));
    row.addEventListener("click", () => open(order.id).catch(showError));
    return row;
  }));
  const notices = await api("GET", "/api/portal/notices");
  $("notices").replaceChildren(...notices.map((n) => {
    const item = document.createElement("li");
    item.textContent = `${when(n.sent_at)} · ${n.number} · ${n.step} → ${n.recipient}`;
    return item;
  }));
}

async function open(orderId) {
  current = await api("GET", `/api/orders/${orderId}`);
  render(current);
}

function render(order) {
  $("detail").hidden = false;
  $("d-number").textContent = order.number;
  $("d-status").textContent = STATES[order.status] || order.status;
  $("d-status").dataset.state = order.status;
  $("d-type").textContent = TYPES[order.type] || order.type;
  $("d-topic").textContent = order.topic || "";
  $("d-due").textContent = when(order.due_at);
  $("d-citizen").textContent = order.citizen_name || "";
  $("d-phone").textContent = order.caller_number || "";
  $("d-address").textContent = order.address || "";
  $("d-content").textContent = order.content || "";
  $("d-reply").textContent = order.reply || "";
  $("d-departments").replaceChildren(...order.departments.map((d) => {
    const item = document.createElement("li");
    item.textContent = `${d.name} · ${d.role === "lead" ? "主办" : "协办"} · 签收 ${when(d.signed_at)}` +
      ` · 答复 ${when(d.replied_at)}${d.reply ? "：" + d.reply : ""} · 期限 ${when(d.due_at)}`;
    return item;
  }));
  $("d-actions").replaceChildren(...order.actions.filter((a) => ACTIONS[a]).map(actionForm), publishButton(order));
  showEdit(order);
  $("d-attachments").replaceChildren(...order.attachments.map((file) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `/api/orders/${order.id}/attachments/${file.id}`;
    link.textContent = `${file.name} (${file.size} B)`;
    item.append(link);
    return item;
  }));
  $("d-history").replaceChildren(...order.history.map((e) => {
    const item = document.createElement("li");
    const extra = Object.entries(e.data || {}).map(([k, v]) => `${k}=${v}`).join(" ");
    item.textContent = `${when(e.at)} · ${e.actor} · ${e.action}` + (e.to ? ` → ${STATES[e.to] || e.to}` : "") +
      (e.note ? ` · ${e.note}` : "") + (extra ? ` · ${extra}` : "");
    return item;
  }));
}

// The centre shows an order on the public Open311 view (masked, under a random id) or takes it off; never a
// draft, a confidential order or a 举报 (the server refuses those too).
function publishButton(order) {
  const button = document.createElement("button");
  button.type = "button";
  button.id = "d-publish";
  button.textContent = order.published ? "取消公开" : "对外公开";
  button.title = order.published ? "不再在公开接口（Open311）上展示此工单"
    : "在公开接口（Open311）上展示此工单：电话、身份证号和姓名遮蔽，编号为随机编号";
  button.hidden = !["agent", "supervisor"].includes(me.role) || order.confidential || order.type === "report" ||
    (order.status === "draft" && !order.published);
  button.addEventListener("click", async () => {
    try {
      current = await api("POST", `/api/orders/${current.id}/publication`, { public: !current.published });
      render(current);
    } catch (error) { showError(error); }
  });
  return button;
}

// The centre corrects an open order (a draft from the web or a voicemail): type, topic, address, content.
function showEdit(order) {
  const form = $("edit");
  form.hidden = !["agent", "supervisor"].includes(me.role) || !OPEN_STATES.includes(order.status);
  if (form.hidden) return;
  form.elements.type.replaceChildren(...Object.entries(TYPES).map(([code, text]) => new Option(text, code)));
  form.elements.topic.replaceChildren(new Option("—", ""), ...catalogue.map((e) => new Option(`${e.code} ${e.topic}`, e.code)));
  form.elements.type.value = order.type;
  form.elements.topic.value = order.topic || "";
  form.elements.address.value = order.address || "";
  form.elements.content.value = order.content || "";
}

// Whether a department is the given one or one of its units, however deep (for 转派).
function within(department, ancestorCode) {
  const byCode = new Map(departments.map((d) => [d.code, d]));
  for (let d = department, steps = 0; d && steps <= departments.length; d = byCode.get(d.parent), steps++) {
    if (d.code === ancestorCode) return true;
  }
  return false;
}

function field(name, kind, label) {
  let input;
  if (kind === "text") { input = document.createElement("textarea"); input.rows = 3; }
  else if (kind === "department" || kind === "unit") {
    input = document.createElement("select");
    const shown = kind === "unit" ? departments.filter((d) => d.code !== me.department_code && within(d, me.department_code))
                                  : departments;
    input.append(...shown.map((d) => new Option(d.name, d.code)));
  } else if (kind === "reason") {
    input = document.createElement("select");
    input.append(...Object.entries(REASONS).map(([code, text]) => new Option(text, code)));
  } else if (kind === "satisfied") {
    input = document.createElement("select");
    input.append(new Option("满意", "true"), new Option("不满意", "false"));
  } else {
    input = document.createElement("input");
    if (kind === "number") { input.type = "number"; input.min = "1"; input.value = "3"; }
    if (label) input.placeholder = label;
  }
  input.name = name;
  input.dataset.kind = kind;
  return input;
}

function actionForm(action) {
  const [label, fields] = ACTIONS[action];
  const form = document.createElement("form");
  form.className = "action";
  form.dataset.action = action;
  for (const [name, kind, hint] of fields) form.append(field(name, kind, hint), " ");
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = label;
  form.append(button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const input of form.querySelectorAll("[name]")) {
      const kind = input.dataset.kind;
      body[input.name] = kind === "number" ? Number(input.value) : kind === "satisfied" ? input.value === "true" : input.value;
    }
    try {
      current = await api("POST", `/api/orders/${current.id}/actions/${action}`, body);
      render(current);
      await showList(box === "done" ? "/api/orders?box=done" : "/api/orders");
    } catch (error) { showError(error); }
  });
  return form;
}

// The department's knowledge entries whose review date has passed or is near: it owns keeping them right.
async function showReview() {
  const review = await api("GET", "/api/knowledge/review");
  $("review").hidden = review.entries.length === 0;
  $("review-entries").replaceChildren(...review.entries.map((entry) => {
    const item = document.createElement("li");
    item.textContent = `${entry.title} · 复核日期 ${entry.review_on} · ${entry.stale ? "已过期" : "即将到期"}`;
    return item;
  }));
}

function showError(error) { $("error").textContent = error.message; }

async function start() {
  me = await signedIn();
  if (!me) return;
  $("login").hidden = true;
  $("orders").hidden = false;
  $("who").textContent = `${me.id} · ${me.role}${me.department ? " · " + me.department : ""}`;
  [departments, catalogue] = await Promise.all([api("GET", "/api/departments"), api("GET", "/api/catalogue")]);
  await showList("/api/orders");
  if (me.role.startsWith("department")) await showReview();
}

wireLogin(start);
$("box-open").addEventListener("click", () => { box = "open"; showList("/api/orders").catch(showError); });
$("box-done").addEventListener("click", () => { box = "done"; showList("/api/orders?box=done").catch(showError); });
$("search").addEventListener("click", () => {
  const text = $("search-text").value.trim();
  const query = /^\d{8,}$/.test(text) ? { number: text } : { q: text };
  showList("/api/orders/search?" + new URLSearchParams(query)).catch(showError);
});
$("upload").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file || !current) return;
  const form = new FormData();
  form.append("file", file);
  try { current = await api("POST", `/api/orders/${current.id}/attachments`, form, true); render(current); }
  catch (error) { showError(error); }
});
$("edit").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = $("edit");
  try {
    current = await api("PATCH", `/api/orders/${current.id}`, {
      type: form.elements.type.value, topic: form.elements.topic.value || null,
      address: form.elements.address.value, content: form.elements.content.value });
    render(current);
  } catch (error) { showError(error); }
});
$("logout").addEventListener("click", async () => {
  await api("DELETE", "/api/portal/session");
  location.reload();
});
start();
