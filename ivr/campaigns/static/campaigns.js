"use strict";
// Survey campaigns for supervisors: upload a list, start, pause, resume; progress pushed by the server (SSE).
const STATUSES = { ready: "待启动", running: "进行中", paused: "已暂停", finished: "已完成", cancelled: "已取消" };
const SURVEY_STATUSES = { due: "待联系", calling: "通话中", waiting_reply: "待回复", answered: "已回答",
  unreachable: "联系不上", quota_met: "已满额", cancelled: "已取消" };
const ANSWERS = { yes: "已解决", no: "未解决", very_satisfied: "非常满意", satisfied: "满意",
  basically_satisfied: "基本满意", dissatisfied: "不满意", very_dissatisfied: "非常不满意" };
// What each button needs the campaign to be in (routing/campaigns.py MOVES).
const ALLOWED = { start: ["ready", "paused"], pause: ["running"], resume: ["paused"],
  cancel: ["ready", "running", "paused"] };
let choices = { scripts: [], units: [], channels: [] }, current = null, stream = null;

const percent = (rate) => rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`;
const problemItem = (p) => element("li", `第 ${p.line} 行：${p.problem}`);

// The upload form

function addQuotaRow() {
  const row = element("div", undefined, "quota");
  const unit = document.createElement("select");
  unit.className = "quota-unit";
  unit.append(...choices.units.map((u) => new Option(`${u.code} ${u.name}`, u.code)));
  const count = document.createElement("input");
  Object.assign(count, { type: "number", min: 1, step: 1, className: "quota-count", placeholder: "回答数" });
  const remove = element("button", "删除");
  remove.type = "button";
  remove.addEventListener("click", () => row.remove());
  row.append(unit, " 配额 ", count, " ", remove);
  $("quotas").append(row);
}

function quotas() {
  const found = {};
  for (const row of $("quotas").querySelectorAll(".quota")) {
    const count = row.querySelector(".quota-count").value.trim();
    if (count) found[row.querySelector(".quota-unit").value] = Number(count);
  }
  return found;
}

$("add-quota").addEventListener("click", addQuotaRow);
$("create").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("create-error").textContent = "";
  $("create-result").textContent = "";
  $("problems").replaceChildren();
  const form = new FormData();
  form.append("name", $("c-name").value);
  form.append("script", $("c-script").value);
  form.append("channels", $("c-channels").value);
  form.append("quotas", JSON.stringify(quotas()));
  form.append("file", $("c-file").files[0]);
  $("c-submit").disabled = true;
  try {
    const created = await api("POST", "/api/campaigns", form, true);
    $("create-result").textContent = `活动 ${created.campaign.id}「${created.campaign.name}」已导入 ` +
      `${created.imported} 个号码` + (created.problems.length ? `，${created.problems.length} 行有问题未导入：` : "。");
    $("create-result").dataset.campaignId = created.campaign.id;
    $("problems").replaceChildren(...created.problems.map(problemItem));
    await showList();
    await open(created.campaign.id);
  } catch (error) {
    $("create-error").textContent = error.message;
  } finally {
    $("c-submit").disabled = false;
  }
});

// The list

async function showList() {
  const data = await api("GET", "/api/campaigns");
  choices = data;
  $("campaigns").tBodies[0].replaceChildren(...data.campaigns.map((c) => {
    const row = document.createElement("tr");
    row.dataset.id = c.id;
    row.dataset.status = c.status;
    if (current && current.id === c.id) row.className = "open";
    row.append(cell(c.id), cell(c.name), cell(c.script_title), cell(channelLabel(c.channels)),
               cell(STATUSES[c.status] || c.status), cell(c.numbers, "number"), cell(c.answered, "number"),
               cell(when(c.created_at)));
    row.addEventListener("click", () => open(c.id).catch(showError));
    return row;
  }));
}

function channelLabel(value) {
  const found = choices.channels.find((c) => c.value === value);
  return found ? found.label : value;
}

// One campaign, kept up to date by its event stream

async function open(campaignId) {
  const detail = await api("GET", `/api/campaigns/${campaignId}`);
  current = detail.campaign;
  $("detail").hidden = false;
  $("d-error").textContent = "";
  $("d-problems").replaceChildren(...detail.problems.map(problemItem));
  $("d-problem-box").hidden = detail.problems.length === 0;
  $("export-results").href = `/api/campaigns/${campaignId}/results.csv`;
  $("export-answers").href = `/api/campaigns/${campaignId}/answers.csv`;
  for (const row of $("campaigns").tBodies[0].rows) row.classList.toggle("open", row.dataset.id === String(campaignId));
  render(detail);
  listen(campaignId);
}

function listen(campaignId) {
  if (stream) stream.close();
  stream = new EventSource(`/api/campaigns/${campaignId}/events`);
  stream.addEventListener("progress", (event) => {
    const snapshot = JSON.parse(event.data);
    if (!current || snapshot.campaign.id !== current.id) return;
    const before = current.status;
    render(snapshot);
    $("d-live").textContent = `实时更新 ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`;
    if (snapshot.campaign.status !== before) showList().catch(showError);
  });
  stream.addEventListener("error", () => { $("d-live").textContent = "连接中断，正在重连…"; });
}

function render(snapshot) {
  const campaign = snapshot.campaign;
  current = campaign;
  $("d-name").textContent = `活动 ${campaign.id}「${campaign.name}」`;
  $("d-status").textContent = STATUSES[campaign.status] || campaign.status;
  $("d-status").dataset.status = campaign.status;
  $("d-summary").textContent = `${campaign.script_title} · ${channelLabel(campaign.channels)} · ` +
    `导入 ${when(campaign.created_at)} · 开始 ${when(campaign.started_at)} · 结束 ${when(campaign.finished_at)} · ` +
    `创建人 ${campaign.created_by}`;
  for (const [action, allowed] of Object.entries(ALLOWED)) $(action).disabled = !allowed.includes(campaign.status);
  $("units").replaceChildren(...snapshot.units.map((u) => unitRow(u, false)), unitRow(snapshot.total, true));
  renderResults(campaign, snapshot.results, snapshot.units);
}

function unitRow(unit, total) {
  const row = element("div", undefined, total ? "unit total" : "unit");
  row.dataset.unit = unit.unit;
  row.dataset.answered = unit.answered;
  row.dataset.target = unit.target;
  const bar = document.createElement("progress");
  bar.max = Math.max(unit.target, 1);
  bar.value = Math.min(unit.answered, bar.max);
  const statuses = Object.entries(unit.statuses).map(([s, n]) => `${SURVEY_STATUSES[s] || s} ${n}`).join("，");
  row.append(element("span", total ? "全部单位" : `${unit.unit} ${unit.name}`), bar,
             element("span", `已回答 ${unit.answered} / ${unit.quota === null ? "全部" : "配额"} ${unit.target}` +
                     ` · 已联系 ${unit.asked} / ${unit.numbers} · 满意率 ${percent(unit.satisfaction)}` +
                     (statuses ? ` · ${statuses}` : ""), "counts"));
  return row;
}

function renderResults(campaign, results, units) {
  const script = choices.scripts.find((s) => s.name === campaign.script);
  if (!script) return;
  const columns = [...new Set(script.questions.flatMap((q) => Object.values(q.choices)))];
  const head = document.createElement("tr");
  head.append(...["单位", "问题", "回答数", ...columns.map((a) => ANSWERS[a] || a), "满意率"].map((t) => element("th", t)));
  $("results").tHead.replaceChildren(head);
  const names = Object.fromEntries(units.map((u) => [u.unit, u.name]));
  $("results").tBodies[0].replaceChildren(...results.map((r) => {
    const row = document.createElement("tr");
    row.dataset.unit = r.unit;
    row.dataset.question = r.question;
    const question = script.questions.find((q) => q.key === r.question);
    row.append(cell(r.unit ? `${r.unit} ${names[r.unit] || ""}` : "全部单位"), cell(question ? question.label : r.question),
               cell(r.answers, "number"), ...columns.map((a) => cell(a in r.counts ? r.counts[a] : "", "number")),
               cell(percent(r.satisfaction), "number"));
    return row;
  }));
}

for (const action of Object.keys(ALLOWED)) {
  $(action).addEventListener("click", async () => {
    if (!current) return;
    if (action === "cancel" && !confirm("取消后未回答的号码不再联系，确定取消？")) return;
    $("d-error").textContent = "";
    try {
      await api("POST", `/api/campaigns/${current.id}/${action}`);
      await showList();
    } catch (error) { $("d-error").textContent = error.message; }
  });
}

function showError(error) { $("error").textContent = error.message; }

async function start() {
  if (!(await openPage("campaigns-page", showList))) return;
  $("c-script").replaceChildren(...choices.scripts.map((s) => new Option(s.title, s.name)));
  $("c-channels").replaceChildren(...choices.channels.map((c) => new Option(c.label, c.value)));
}

wireLogin(start);
$("logout").addEventListener("click", async () => {
  if (stream) stream.close();
  await api("DELETE", "/api/portal/session");
  location.reload();
});
start();
