"use strict";
// Reports for supervisors: any period on screen, as files on demand, and the archive the schedule fills.
const KINDS = { daily: "日报", weekly: "周报", monthly: "月报", special: "专题" };
const HINTS = { daily: "如 2026-10-05", weekly: "如 2026-W41", monthly: "如 2026-10",
  special: "首日_末日，如 2026-10-01_2026-10-07" };
const STATUSES = { running: "生成中", done: "已完成", failed: "失败" };
const charts = {};
const FIGURE = /^([-+]?[\d.,]+(%|个百分点)?|—)?$/;  // a value aligned right; text (a name) is aligned left

function query() {
  const parameters = new URLSearchParams({ kind: $("kind").value });
  if ($("period").value.trim()) parameters.set("period", $("period").value.trim());
  return parameters;
}

function table(columns, rows, surges) {
  const made = element("table");
  const head = element("tr");
  // A column of names is aligned left, its heading too (as its first row shows it).
  head.append(...columns.map((name, column) => element("th", name,
    rows.length && (column === 0 || !FIGURE.test(rows[0][column])) ? "name" : undefined)));
  made.append(head);
  rows.forEach((row, index) => {
    const line = element("tr", undefined, surges && surges[index] ? "surge" : undefined);
    line.append(...row.map((value, column) => cell(value, column === 0 || !FIGURE.test(value) ? "name" : undefined)));
    made.append(line);
  });
  const box = element("div", undefined, "wide");
  box.append(made);
  return box;
}

function chart(id, config) {
  if (typeof Chart === "undefined") return;  // the page works without its charts
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false,
    scales: { x: { offset: true }, y: { beginAtZero: true, ticks: { precision: 0 } } },
    plugins: { title: { display: true, text: $(id).getAttribute("aria-label") } } } });
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

let polling;  // the one timer that reads the runs again while one is being made
async function showRuns() {
  clearTimeout(polling);
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
  if (runs.some((run) => run.status === "running")) {
    polling = setTimeout(() => showRuns().catch((error) => { $("error").textContent = error.message; }), 1000);
  }
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
// The file is fetched first: a refusal (a bad period) is told on the page instead of leaving it for the error.
async function download(format) {
  const parameters = query();
  parameters.set("format", format);
  const response = await fetch(`/api/reports/file?${parameters}`, { credentials: "same-origin" });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.message || data.error_id || `${response.status}`);
  }
  const named = /filename\*=UTF-8''([^;]+)/.exec(response.headers.get("Content-Disposition") || "");
  const link = element("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = named ? decodeURIComponent(named[1]) : `report.${format}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}
for (const button of document.querySelectorAll(".download")) {
  button.addEventListener("click", async () => {
    $("error").textContent = "";
    button.disabled = true;
    try {
      await download(button.dataset.format);
    } catch (error) { $("error").textContent = error.message; }
    button.disabled = false;
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
  if (!(await openPage("reports-page", showRuns))) return;
  $("period-hint").textContent = HINTS[$("kind").value];
}

wireLogin(start);
$("logout").addEventListener("click", async () => {
  await api("DELETE", "/api/portal/session");
  location.reload();
});
start();
