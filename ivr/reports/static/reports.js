"use strict";
// Reports for supervisors: any period on screen, as files on demand, and the archive the schedule fills.
const KINDS = { daily: "日报", weekly: "周报", monthly: "月报", special: "专题" };
const HINTS = { daily: "如 2026-10-05", weekly: "如 2026-W41", monthly: "如 2026-10",
  special: "首日_末日，如 2026-10-01_2026-10-07" };
const STATUSES = { running: "生成中", done: "已完成", failed: "失败" };
const charts = {};

function query() {
  const parameters = new URLSearchParams({ kind: $("kind").value });
  if ($("period").value.trim()) parameters.set("period", $("period").value.trim());
  return parameters;
}

function table(columns, rows, surges) {
  const made = element("table");
  const head = element("tr");
  head.append(...columns.map((name) => element("th", name)));
  made.append(head);
  rows.forEach((row, index) => {
    const line = element("tr", undefined, surges && surges[index] ? "surge" : undefined);
    line.append(...row.map((value, column) => cell(value, column === 0 ? "name" : undefined)));
    made.append(line);
  });
  return made;
}

function chart(id, config) {
  if (typeof Chart === "undefined") return;  // the page works without its charts
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), config);
}

function showReport(report) {
  $("title").textContent = report.view.title;
  $("generated").textContent = `对比：${report.previous.label}；生成于 ${when(report.generated_at)}`;
  $("figures").tBodies[0].replaceChildren(...report.view.figures.map((row) => {
    const line = element("tr");
    line.append(...row.map((value, column) => cell(value, column < 2 ? "name" : undefined)));
    return line;
  }));
  $("sections").replaceChildren(...report.view.sections.flatMap((section) => [
    element("h3", section.title), section.rows.length ? table(section.columns, section.rows, section.surges)
      : element("p", "（无）", "hint")]));
  chart("trend", { type: "line", data: { labels: report.days.map((day) => day.day.slice(5)), datasets: [
    { label: "呼入", data: report.days.map((day) => day.offered) },
    { label: "接通", data: report.days.map((day) => day.answered) },
    { label: "受理工单", data: report.days.map((day) => day.received) }] } });
  chart("types", { type: "bar", data: { labels: report.by_type.map((row) => row.name), datasets: [
    { label: "本期", data: report.by_type.map((row) => row.received) },
    { label: "上期", data: report.by_type.map((row) => row.previous) }] } });
  $("report").hidden = false;
}

async function showRuns() {
  const { runs } = await api("GET", "/api/reports/runs");
  $("runs").tBodies[0].replaceChildren(...runs.map((run) => {
    const line = element("tr");
    const files = cell("");
    for (const name of run.files) {
      const link = element("a", name.split(".").pop().toUpperCase());
      link.href = `/api/reports/runs/${run.id}/${encodeURIComponent(name)}`;
      files.append(link, " ");
    }
    if (run.error) files.append(element("span", run.error, "error"));
    line.append(cell(run.id), cell(KINDS[run.kind] || run.kind), cell(run.label, "name"),
                cell(STATUSES[run.status] || run.status), cell(run.requested_by === "schedule" ? "定时" : run.requested_by),
                files);
    return line;
  }));
  if (runs.some((run) => run.status === "running")) setTimeout(showRuns, 1000);
}

$("kind").addEventListener("change", () => { $("period-hint").textContent = HINTS[$("kind").value]; });
$("choose").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("error").textContent = "";
  $("show").disabled = true;
  try {
    showReport(await api("GET", `/api/reports?${query()}`));
  } catch (error) { $("error").textContent = error.message; }
  $("show").disabled = false;
});
for (const button of document.querySelectorAll(".download")) {
  button.addEventListener("click", () => {
    const parameters = query();
    parameters.set("format", button.dataset.format);
    location.href = `/api/reports/file?${parameters}`;
  });
}
$("archive").addEventListener("click", async () => {
  $("error").textContent = "";
  const body = { kind: $("kind").value };
  if ($("period").value.trim()) body.period = $("period").value.trim();
  try {
    await api("POST", "/api/reports/runs", body);
    await showRuns();
  } catch (error) { $("error").textContent = error.message; }
});

async function start() {
  let me;
  try {
    me = await api("GET", "/api/portal/me");
  } catch (error) {
    $("login").hidden = false;
    return;
  }
  $("login").hidden = true;
  $("who").textContent = `${me.id} · ${me.role}`;
  try {
    await showRuns();
  } catch (error) {
    $("login").hidden = false;
    $("login-error").textContent = error.message;  // not a supervisor
    return;
  }
  $("reports-page").hidden = false;
  $("period-hint").textContent = HINTS[$("kind").value];
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    await api("POST", "/api/portal/session", { user: $("user").value, password: $("password").value });
    await start();
  } catch (error) { $("login-error").textContent = error.message; }
});
$("logout").addEventListener("click", async () => {
  await api("DELETE", "/api/portal/session");
  location.reload();
});
start();
