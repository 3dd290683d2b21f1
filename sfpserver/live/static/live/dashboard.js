// The dashboard: runs list, run detail (DAG, progress, log, retry history), workers and queues, all live.
// Reads the REST API (/sfp/api/) and the live feed (/ws/runs/) with a token kept in this tab's
// sessionStorage. No build step: plain DOM code. Text from runs is always set as text, never as HTML.
"use strict";
(() => {
  const TOKEN_KEY = "sfp.dashboard.token";
  const POLL_MS = 2000;
  const LOG_LINES = 500;
  const ACTIVE = ["QUEUED", "RUNNING"];
  const RETRYABLE = ["FAILED", "CANCELLED"];
  const $ = (id) => document.getElementById(id);
  const demoTask = JSON.parse($("demo-task").textContent);

  let token = null;
  const runs = new Map();
  let listFeed = null, detailFeed = null, selected = null, detail = null, log = [], pollTimer = null;

  // --- elements ------------------------------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value; else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }
  const badge = (status) => el("span", { class: `badge ${status}`, text: status.toLowerCase() });
  function bar(percent, done) {
    const fill = el("div"); fill.style.width = `${percent}%`;
    return el("div", { class: done ? "bar done" : "bar", title: `${percent}%`, "data-percent": String(percent) }, fill);
  }
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");

  // --- REST API ------------------------------------------------------------------------------------------
  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const detailText = data && data.detail !== undefined ? data.detail : `HTTP ${response.status}`;
      const error = new Error(typeof detailText === "string" ? detailText : JSON.stringify(detailText));
      error.status = response.status;
      throw error;
    }
    return data;
  }
  function notify(text) {
    const notice = $("notice");
    notice.textContent = text; notice.hidden = !text;
  }

  // --- live feed -----------------------------------------------------------------------------------------
  // The token travels as a subprotocol (a header), never in the URL, which proxies log; the server answers
  // with "sfp.v1" only. Close code 4401: the token was revoked or has expired since.
  const PROTOCOL = "sfp.v1", UNAUTHORIZED = 4401;
  function openFeed(path, onMessage, onOpenChange) {
    let socket = null, closed = false, delay = 500;
    const connect = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      try {
        socket = new WebSocket(`${scheme}://${location.host}${path}`, [PROTOCOL, `bearer.${token}`]);
      } catch (_) {  // a SyntaxError: characters no token has
        return signOut("That token cannot be used: the token is not valid");
      }
      socket.onopen = () => { delay = 500; onOpenChange(true); };
      socket.onmessage = (message) => onMessage(JSON.parse(message.data));
      socket.onclose = (event) => {
        onOpenChange(false);
        if (event.code === UNAUTHORIZED) return signOut("The token was revoked or has expired.");
        if (!closed) { setTimeout(connect, delay); delay = Math.min(delay * 2, 10000); } // the snapshot resyncs
      };
    };
    connect();
    return { close() { closed = true; if (socket) socket.close(); } };
  }

  function progressOf(run) {  // sfpserver/live/state.py's formula
    if (run.status === "COMPLETED") return 100;
    const counted = run.steps.filter((s) => s.kind !== "ON_FAILURE");
    if (!counted.length) return 0;
    let done = 0;
    for (const s of counted) {
      if (s.status === "COMPLETED") done += 1; else if (s.status === "RUNNING") done += s.percent / 100;
    }
    return Math.min(100, Math.max(0, Math.floor((100 * done) / counted.length)));
  }
  function applyProgress(run, event) {
    const step = run.steps.find((s) => s.id === event.step_id);
    const percent = event.data && typeof event.data.percent === "number" ? event.data.percent : null;
    if (!step || percent === null || step.attempt !== event.attempt) return false;
    step.percent = Math.min(100, Math.max(0, percent));
    run.progress = progressOf(run);
    return true;
  }

  function onListMessage(message) {
    if (message.type === "snapshot") {
      runs.clear();
      for (const run of message.runs) runs.set(run.id, run);
    } else if (message.type === "run" || message.type === "step") {
      runs.set(message.run.id, message.run);
    } else if (message.type === "event" && message.event.kind === "PROGRESS") {
      const run = runs.get(message.event.run_id);
      if (!run || !applyProgress(run, message.event)) return;
    } else return;
    renderRuns();
  }

  function onDetailMessage(message) {
    if (message.type === "snapshot") {
      detail = message.run; log = [];
      for (const event of message.events) addLog(event);
    } else if (message.type === "run" || message.type === "step") {
      detail = message.run;
    } else if (message.type === "event") {
      if (message.event.kind === "PROGRESS") applyProgress(detail, message.event);
      addLog(message.event);
    }
    renderDetail();
  }

  function addLog(event) {
    if (event.kind === "PROGRESS" && !event.message) return;
    const step = detail && detail.steps.find((s) => s.id === event.step_id);
    const where = step ? `${step.name}#${event.attempt + 1}` : "run";
    log.push(`${time(event.created_at)} ${where.padEnd(18)} ${event.message}`);
    if (log.length > LOG_LINES) log.splice(0, log.length - LOG_LINES);
  }

  // --- rendering -----------------------------------------------------------------------------------------
  function renderRuns() {
    const body = $("runs").tBodies[0];
    const shown = [...runs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    body.replaceChildren(...shown.map((run) => {
      const row = el("tr", { "data-run": run.id, class: run.id === selected ? "selected" : "" },
        el("td", { text: run.workflow }), el("td", {}, badge(run.status)),
        el("td", {}, bar(run.progress, run.status === "COMPLETED")), el("td", { text: time(run.created_at) }));
      row.addEventListener("click", () => selectRun(run.id));
      return row;
    }));
    $("no-runs").hidden = shown.length > 0;
  }

  function renderDetail() {
    if (!detail) return;
    $("no-selection").hidden = true; $("run-detail").hidden = false;
    $("run-title").textContent = `${detail.workflow} · ${detail.id.slice(0, 8)}`;
    $("run-status").replaceWith(Object.assign(badge(detail.status), { id: "run-status" }));
    $("run-progress").style.width = `${detail.progress}%`;
    $("run-progress").parentElement.className = detail.status === "COMPLETED" ? "bar big done" : "bar big";
    $("run-progress-text").textContent = `${detail.progress}%`;
    $("run-detail").dataset.status = detail.status;
    $("run-detail").dataset.progress = String(detail.progress);
    $("run-error").textContent = detail.error || "";
    $("cancel-button").disabled = !ACTIVE.includes(detail.status);
    $("retry-button").disabled = !RETRYABLE.includes(detail.status);
    renderDag(detail.steps);
    $("steps").tBodies[0].replaceChildren(...detail.steps.map((s) => el("tr", { "data-step": s.name },
      el("td", { text: s.name }), el("td", {}, badge(s.status)),
      el("td", {}, bar(s.status === "COMPLETED" ? 100 : Math.round(s.percent), s.status === "COMPLETED")),
      el("td", { text: s.worker || "" }),
      el("td", {}, ...(s.attempts || []).map((a) => el("span", {
        class: `attempt ${a.outcome}`, title: a.error_message || a.outcome,
        text: `#${a.number + 1} ${a.outcome.toLowerCase()}${a.error_message ? ": " + a.error_message : ""}`,
      }))))));
    const pre = $("log"), atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = log.join("\n");
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  const COLORS = { PENDING: "#9ca3af", QUEUED: "#9ca3af", RUNNING: "#2563eb", COMPLETED: "#16a34a",
    FAILED: "#dc2626", CANCELLED: "#a16207" };
  function renderDag(steps) {
    const NS = "http://www.w3.org/2000/svg", W = 150, H = 44, GX = 46, GY = 14;
    const byName = new Map(steps.map((s) => [s.name, s])), depth = new Map();
    const depthOf = (s) => {
      if (depth.has(s.name)) return depth.get(s.name);
      depth.set(s.name, 0);
      const parents = s.parents.filter((p) => byName.has(p));
      const value = parents.length ? 1 + Math.max(...parents.map((p) => depthOf(byName.get(p)))) : 0;
      depth.set(s.name, value);
      return value;
    };
    steps.forEach(depthOf);
    const last = Math.max(0, ...depth.values());
    for (const s of steps) if (s.kind === "ON_FAILURE") depth.set(s.name, last + 1);
    const columns = [], at = new Map();
    for (const s of steps) (columns[depth.get(s.name)] ||= []).push(s);
    columns.forEach((column, x) => (column || []).forEach((s, y) => at.set(s.name, { x: x * (W + GX), y: y * (H + GY) })));
    const rows = Math.max(1, ...columns.map((c) => (c ? c.length : 0)));
    const svg = document.createElementNS(NS, "svg");
    const svgEl = (tag, attrs, parent) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      parent.append(node);
      return node;
    };
    svg.setAttribute("width", columns.length * (W + GX)); svg.setAttribute("height", rows * (H + GY));
    for (const s of steps) for (const p of s.parents) {
      const from = at.get(p), to = at.get(s.name);
      if (!from || !to) continue;
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2;
      svgEl("path", { d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`, fill: "none",
        stroke: "#94a3b8", "stroke-width": 1.5 }, svg);
    }
    for (const s of steps) {
      const { x, y } = at.get(s.name), color = COLORS[s.status] || "#9ca3af";
      const g = svgEl("g", { class: "node", "data-step": s.name, "data-status": s.status }, svg);
      svgEl("rect", { x: x + 1, y: y + 1, width: W - 2, height: H - 2, rx: 6, fill: "#fff", stroke: color }, g);
      svgEl("text", { x: x + 10, y: y + 17, "font-weight": 600 }, g).textContent = s.name;
      const tries = s.attempt > 0 ? ` · try ${s.attempt + 1}` : "";
      svgEl("text", { x: x + 10, y: y + 32, fill: color }, g).textContent = s.status.toLowerCase() + tries;
      const percent = s.status === "COMPLETED" ? 100 : s.status === "RUNNING" ? s.percent : 0;
      svgEl("rect", { x: x + 1, y: y + H - 5, width: ((W - 2) * percent) / 100, height: 4, fill: color }, g);
    }
    $("dag").replaceChildren(svg);
  }

  async function poll() {
    try {
      const [workers, queues] = await Promise.all([api("GET", "/sfp/api/workers"), api("GET", "/dashboard/queues")]);
      $("workers").tBodies[0].replaceChildren(...workers.map((w) => el("tr", {},
        el("td", { text: w.name }), el("td", { text: w.pool }),
        el("td", {}, el("span", { class: `badge ${w.live ? "COMPLETED" : "FAILED"}`, text: w.live ? "live" : "silent" }),
          " ", w.status.toLowerCase()),
        el("td", { text: `${w.heartbeat_age_seconds.toFixed(1)} s ago` }),
        el("td", { text: w.running_steps.map((r) => r.step).join(", ") }))));
      $("queues").tBodies[0].replaceChildren(...queues.queues.map((q) => el("tr", {},
        el("td", { text: q.queue }), el("td", { text: q.pool }), el("td", { text: String(q.queued) }),
        el("td", { text: String(q.waiting) }), el("td", { text: q.in_broker === null ? "?" : String(q.in_broker) }))));
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
    }
  }

  // --- actions -------------------------------------------------------------------------------------------
  function selectRun(runId) {
    if (detailFeed) detailFeed.close();
    selected = runId; detail = null; log = [];
    renderRuns();
    detailFeed = openFeed(`/ws/runs/${runId}/`, onDetailMessage, () => {});
  }
  async function act(path, body) {
    try { notify(""); return await api("POST", path, body); } catch (error) { notify(error.message); return null; }
  }
  async function startDemo() {
    const created = await act("/sfp/api/tasks", demoTask);
    if (created) selectRun(created.operationId);
  }

  // --- signing in and out --------------------------------------------------------------------------------
  async function start(candidate) {
    token = candidate;
    try {
      await api("GET", "/sfp/api/runs?page_size=1");
    } catch (error) {
      if (error.status === 401 || error.status === 403) return signOut(`That token cannot be used: ${error.message}`);
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $("sign-in").hidden = true; $("app").hidden = false; $("demo-button").hidden = false; $("sign-out").hidden = false;
    listFeed = openFeed("/ws/runs/", onListMessage, (open) => {
      $("connection").className = open ? "dot online" : "dot offline";
      $("connection").textContent = open ? "live" : "offline";
    });
    poll();
    pollTimer = setInterval(poll, POLL_MS);
  }
  function signOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    for (const feed of [listFeed, detailFeed]) if (feed) feed.close();
    listFeed = detailFeed = null; token = null;
    clearInterval(pollTimer);
    $("app").hidden = true; $("demo-button").hidden = true; $("sign-out").hidden = true; $("sign-in").hidden = false;
    $("sign-in-error").textContent = reason || "";
  }

  $("sign-in-form").addEventListener("submit", (e) => { e.preventDefault(); start($("token-input").value.trim()); });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("demo-button").addEventListener("click", startDemo);
  if ($("demo-banner-button")) $("demo-banner-button").addEventListener("click", startDemo);
  $("cancel-button").addEventListener("click", () => act(`/sfp/api/runs/${selected}/cancel`));
  $("retry-button").addEventListener("click", () => act(`/sfp/api/runs/${selected}/retry-failed`));

  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {  // `make run` prints /dashboard/#token=…; the fragment never reaches a server
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) start(saved); else signOut("");
})();
