"use strict";
// The wallboard: the snapshot at start, then every push of the server's event stream (within a second of each
// change). A hall screen opens /wallboard?key=<display key>; anyone else logs in as a supervisor or administrator.
// The longest wait ticks here every second, from the oldest waiting caller's join time and the server's clock.
// Not live (the server's AMI link down, the stream broken, no push for too long): a banner says so and the
// numbers are dimmed, never shown as if current. The page connects again by itself, after a restart too.
const KEY = new URLSearchParams(location.search).get("key");
const QUERY = KEY ? `?key=${encodeURIComponent(KEY)}` : "";
const TYPES = { consultation: "咨询", help: "求助", complaint: "投诉", report: "举报", suggestion: "建议", praise: "表扬" };
const REASONS = { break: "休息", training: "培训", after_call_work: "话后处理", meeting: "会议", other: "其他" };
const RETRY_MS = 3000;
let stream = null, chart = null, latest = null, skew = 0, watchdog = null, retry = null;

const percent = (rate) => rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`;
const clockTime = (date) => date.toLocaleTimeString("zh-CN", { hour12: false, timeZone: latest.timezone });

function duration(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const [h, m, s] = [Math.floor(whole / 3600), Math.floor(whole / 60) % 60, whole % 60];
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

function waitText(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const whole = Math.round(seconds);
  return whole < 60 ? `${whole}秒` : `${Math.floor(whole / 60)}分${String(whole % 60).padStart(2, "0")}秒`;
}

// A figure's text; when it changes, the time this page saw it change (the end-to-end test measures with it).
function setText(id, value) {
  const shown = value === null || value === undefined ? "—" : String(value);
  const target = $(id);
  if (target.textContent !== shown) {
    target.textContent = shown;
    target.dataset.changedAt = String(Date.now());
  }
}

function setLink(state, message) {
  $("status").dataset.state = state;
  $("status").textContent = { live: "实时", stale: "非实时", connecting: "连接中…" }[state];
  document.body.classList.toggle("stale", state !== "live");
  $("banner").hidden = !message;
  $("banner").textContent = message || "";
}

// Getting in

async function start() {
  clearTimeout(retry);
  let response;
  try {
    response = await fetch("/api/wallboard" + QUERY, { credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    return offline();
  }
  if (response.ok) {
    show(await response.json());
    listen();
    return;
  }
  const answer = await response.json().catch(() => ({}));
  if (response.status === 401 && !KEY) return showLogin("");
  if (response.status === 403) return KEY ? setLink("stale", "显示密钥无效：请向管理员索取正确的大屏链接") : showLogin(answer.message);
  offline();  // the server is starting, or the database is away: try again
}

function offline() {
  setLink("stale", "与服务器的连接中断，正在重连…");
  retry = setTimeout(start, RETRY_MS);
}

function showLogin(message) {
  $("board").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

wireLogin(start);

function listen() {
  if (stream) stream.close();
  stream = new EventSource("/api/wallboard/events" + QUERY);
  stream.addEventListener("snapshot", (event) => show(JSON.parse(event.data)));
  stream.addEventListener("error", () => {
    setLink("stale", "与服务器的连接中断，正在重连…");
    if (stream.readyState === EventSource.CLOSED) {  // refused, not just dropped: start over
      stream = null;
      retry = setTimeout(start, RETRY_MS);
    }
  });
}

// What it shows

function show(snapshot) {
  latest = snapshot;
  skew = Date.now() - Date.parse(snapshot.at);
  $("login").hidden = true;
  $("board").hidden = false;
  setText("waiting", snapshot.queue.waiting);
  showAgents(snapshot.agents, snapshot.staffing);
  showCalls(snapshot.today, snapshot.service_level_seconds);
  showOrders(snapshot.orders);
  showTerms(snapshot.hot_terms);
  showNote(snapshot.figures);
  if (snapshot.live) setLink("live");
  else setLink("stale", "与交换机的连接中断：排队和坐席数字不是实时的");
  clearTimeout(watchdog);
  watchdog = setTimeout(() => setLink("stale", "长时间未收到更新，正在重连…"),
                        (3 * snapshot.refresh_seconds + 5) * 1000);
  tick();
}

function showAgents(agents, staffing) {
  setText("agents-logged-in", agents.logged_in);
  for (const state of ["idle", "talking", "ringing", "paused", "offline"]) setText(`agents-${state}`, agents[state]);
  setText("paused-reasons", Object.entries(agents.paused_by_reason)
    .map(([reason, count]) => `${REASONS[reason] || reason} ${count}`).join("  "));
  setText("needed-now", staffing.needed);
  setText("staff-logged-in", staffing.logged_in);
  setText("staffing-slot", staffing.slot ? `${staffing.slot} 起半小时` : "");
}

function showCalls(today, serviceLevelSeconds) {
  const calls = today || {};
  setText("offered", calls.offered);
  setText("answered", calls.answered);
  setText("answer-rate", percent(calls.answer_rate));
  setText("sl-seconds", serviceLevelSeconds);
  setText("sl-rate", percent(calls.service_level_rate));
  setText("abandoned", calls.abandoned);
  setText("abandoned-split", today ? `短 ${calls.abandoned_short} / 长 ${calls.abandoned_long}` : "");
  setText("average-wait", waitText(calls.average_wait_seconds));
}

function showOrders(orders) {
  setText("orders-received", orders ? orders.received : null);
  setText("orders-overdue", orders ? orders.overdue : null);
  const counts = Object.keys(TYPES).map((type) => (orders && orders.by_type[type]) || 0);
  if (chart === null) chart = makeChart(counts);
  else {
    chart.data.datasets[0].data = counts;
    chart.update("none");
  }
  $("orders-chart").dataset.counts = counts.join(",");
}

function makeChart(counts) {
  Chart.defaults.color = "#cfd8e3";
  Chart.defaults.font.size = Math.round(window.innerWidth / 80);
  return new Chart($("orders-chart"), {
    type: "bar",
    data: { labels: Object.values(TYPES),
            datasets: [{ data: counts, backgroundColor: "#4fc3f7", borderRadius: 6, maxBarThickness: 90 }] },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
               plugins: { legend: { display: false }, tooltip: { enabled: false } },
               scales: { x: { grid: { display: false } },
                         y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#26344a" } } } },
  });
}

function showTerms(terms) {
  const items = terms.map((t) => {
    const item = element("li", undefined, t.surge ? "surge" : "");
    item.append(element("span", t.term, "term"), element("span", t.count, "count"));
    return item;
  });
  $("hot-terms").replaceChildren(...(items.length ? items : [element("li", "暂无", "none")]));
}

function showNote(figures) {
  const trouble = { "database unavailable": "数据库暂不可用", "figures not read": "今日数据读取失败" }[figures.error];
  if (!figures.as_of) return setText("figures-note", figures.error ? trouble || figures.error : "今日数据读取中…");
  const asOf = clockTime(new Date(figures.as_of));
  setText("figures-note", figures.error ? `${trouble || figures.error}：显示的是 ${asOf} 的数据` : `今日数据截至 ${asOf}`);
}

// Every second: the clock (the server's, in the centre's time zone) and the longest wait, counted on from the
// server's time of the snapshot.
function tick() {
  const now = Date.now();
  if (!latest) return;
  $("clock").textContent = new Date(now - skew).toLocaleString("zh-CN", { hour12: false, timeZone: latest.timezone });
  const oldest = latest.queue.oldest_since;
  const seconds = oldest ? (now - skew - Date.parse(oldest)) / 1000 : 0;
  setText("longest-wait", duration(seconds));
  for (const tile of document.querySelectorAll(".tile.queue")) {
    tile.classList.toggle("alert", seconds > latest.service_level_seconds);
  }
}

setInterval(tick, 1000);
start();
