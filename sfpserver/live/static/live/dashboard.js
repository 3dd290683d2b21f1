// The dashboard: runs list (live, or filtered through the REST API), run detail (DAG, progress, failure with
// its traceback, log, retry history), workers and queues, all live. Reads the REST API (/sfp/api/) and the live
// feed (/ws/runs/) with a token kept in this tab's sessionStorage. A run has its own address,
// /dashboard/runs/<id>, and the filters live in the query string, so both survive a reload and can be shared.
// No build step: plain DOM code. Text from runs is always set as text, never as HTML.
"use strict";
(() => {
  const TOKEN_KEY = "sfp.dashboard.token";
  const POLL_MS = 2000;
  const LOG_LINES = 500;
  const ACTIVE = ["QUEUED", "RUNNING"];
  const RETRYABLE = ["FAILED", "CANCELLED"];
  const FINISHED = ["COMPLETED", "FAILED", "CANCELLED"];
  const RUN_PATH = /^\/dashboard\/runs\/([0-9a-f-]{36})\/?$/i;
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const FILTERS = ["status", "workflow", "after", "before", "metadata"];
  const $ = (id) => document.getElementById(id);
  const demoTask = JSON.parse($("demo-task").textContent);

  let token = null;
  const runs = new Map();
  let listFeed = null, detailFeed = null, selected = null, detail = null, log = [], pollTimer = null;
  let filtered = null;  // the REST answer while a filter is set; null: the live list
  let facts = null;  // the REST detail of the selected run: whole tracebacks, whether the stand-in ran it

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
  // A run that failed steps and was continued past them (continue_on_failure) says so beside its status.
  function continuedMark(run) {
    const names = run.continued_failures || [];
    if (!names.length) return "";
    return el("span", { class: "badge CONTINUED", "data-continued": names.join(","), title: `continued past: ${names.join(", ")}`,
      text: run.status === "COMPLETED" ? "with failures" : `${names.length} continued` });
  }
  function bar(percent, done) {
    const fill = el("div"); fill.style.width = `${percent}%`;
    return el("div", { class: done ? "bar done" : "bar", title: `${percent}%`, "data-percent": String(percent) }, fill);
  }
  const pad = (n) => String(n).padStart(2, "0");
  function when(iso) {  // the date as well as the time, in this browser's zone: 2026-12-05 14:03:27
    if (!iso) return "";
    const d = new Date(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
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
      const was = detail && detail.status;
      detail = message.run;
      if (was !== detail.status && FINISHED.includes(detail.status)) loadFacts(detail.id);
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
    const source = filtered || [...runs.values()].map((run) => ({ ...run, workflow: run.workflow || run.workflow_name }));
    const shown = [...source].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    body.replaceChildren(...shown.map((run) => {
      const live = runs.get(run.id);
      const progress = live ? live.progress : run.status === "COMPLETED" ? 100 : null;
      const row = el("tr", { "data-run": run.id, class: run.id === selected ? "selected" : "" },
        el("td", { text: run.workflow || run.workflow_name }), el("td", {}, badge(run.status), " ", continuedMark(run)),
        el("td", {}, progress === null ? "" : bar(progress, run.status === "COMPLETED")),
        el("td", { text: when(run.created_at), title: run.created_at }));
      row.addEventListener("click", () => selectRun(run.id, true));
      return row;
    }));
    $("no-runs").hidden = shown.length > 0;
    $("no-runs").textContent = filtered ? "No run matches these filters." : "No runs yet.";
    $("runs-source").textContent = filtered ? `${shown.length} matching, newest first` : $("runs-source").dataset.live;
  }

  // --- filters and search (in the query string) -------------------------------------------------------------
  function currentFilters() {
    const query = new URLSearchParams(location.search), wanted = {};
    for (const name of FILTERS) if (query.get(name)) wanted[name] = query.get(name);
    return wanted;
  }
  function showFilters(wanted) {
    for (const name of FILTERS) $(`filter-${name}`).value = wanted[name] || "";
  }
  const isoOf = (local) => new Date(local).toISOString();  // datetime-local is in this browser's zone
  async function loadFiltered() {
    const wanted = currentFilters();
    if (!Object.keys(wanted).length) { filtered = null; renderRuns(); return; }
    const query = new URLSearchParams({ page_size: "100" });
    if (wanted.status) query.set("status", wanted.status);
    if (wanted.workflow) query.set("workflow", wanted.workflow);
    if (wanted.after) query.set("created_after", isoOf(wanted.after));
    if (wanted.before) query.set("created_before", isoOf(wanted.before));
    if (wanted.metadata) query.append("metadata", wanted.metadata);
    try {
      filtered = (await api("GET", `/sfp/api/runs?${query}`)).results;
      renderRuns();
    } catch (error) {
      notify(`Filter: ${error.message}`);
    }
  }
  function applyFilters(event) {
    event.preventDefault();
    const search = $("search").value.trim();
    if (search) {
      $("search").value = "";
      if (!UUID.test(search)) return notify(`"${search}" is not a run id (a UUID)`);
      return selectRun(search.toLowerCase(), true);
    }
    const query = new URLSearchParams();
    for (const name of FILTERS) if ($(`filter-${name}`).value) query.set(name, $(`filter-${name}`).value.trim());
    history.pushState(null, "", `${location.pathname}${query.toString() ? "?" + query : ""}`);
    notify("");
    loadFiltered();
  }
  function clearFilters() {
    showFilters({});
    history.pushState(null, "", location.pathname);
    loadFiltered();
  }

  function renderDetail() {
    if (!detail) return;
    $("no-selection").hidden = true; $("run-detail").hidden = false;
    $("run-title").textContent = `${detail.workflow || detail.workflow_name} · ${detail.id.slice(0, 8)}`;
    $("run-link").textContent = detail.id; $("run-link").href = `/dashboard/runs/${detail.id}`;
    $("run-created").textContent = when(detail.created_at);
    $("run-started").textContent = when(detail.started_at) || "not yet";
    $("run-finished").textContent = when(detail.finished_at) || (FINISHED.includes(detail.status) ? "" : "not yet");
    $("run-standin").hidden = !(facts && facts.salesforce_standin);
    const listed = runs.get(detail.id);  // the list row follows the open run at once
    if (listed && (listed.status !== detail.status || listed.progress !== detail.progress
        || String(listed.continued_failures) !== String(detail.continued_failures))) {
      runs.set(detail.id, { ...listed, status: detail.status, progress: detail.progress,
        continued_failures: detail.continued_failures });
      renderRuns();
    }
    $("run-status").replaceWith(Object.assign(badge(detail.status), { id: "run-status" }));
    $("run-continued").replaceChildren(continuedMark(detail));
    $("run-progress").style.width = `${detail.progress}%`;
    $("run-progress").parentElement.className = detail.status === "COMPLETED" ? "bar big done" : "bar big";
    $("run-progress-text").textContent = `${detail.progress}%`;
    $("run-detail").dataset.status = detail.status;
    $("run-detail").dataset.progress = String(detail.progress);
    $("cancel-button").disabled = !ACTIVE.includes(detail.status);
    $("retry-button").disabled = !RETRYABLE.includes(detail.status) && !(detail.continued_failures || []).length;
    $("approval").hidden = !detail.steps.some((s) => s.waiting_label === "approval");
    renderFailure();
    renderDag(detail.steps);
    $("steps").tBodies[0].replaceChildren(...detail.steps.map((s) => {
      const shown = shownStatus(s), replay = el("button", { type: "button", class: "small", text: "Replay…" });
      replay.disabled = !FINISHED.includes(detail.status) || shown === "SKIPPED";
      replay.addEventListener("click", () => confirmThen(`Replay step ${s.name} of this run (and the steps after it)?`,
        () => act(`/sfp/api/runs/${detail.id}/steps/${s.id}/replay`)));
      return el("tr", { "data-step": s.name, "data-shown": shown },
        el("td", { text: s.name }), el("td", {}, badge(shown), waitNote(s),
          s.status === "FAILED" && s.continue_on_failure ? el("span", { class: "wait", text: " continued past" }) : ""),
        el("td", {}, shown === "SKIPPED" ? "" : bar(s.status === "COMPLETED" ? 100 : Math.round(s.percent), s.status === "COMPLETED")),
        el("td", { text: s.worker || s.worker__name || "" }),
        el("td", {}, ...(s.attempts || []).map((a) => el("span", {
          class: `attempt ${a.outcome}`, title: `${when(a.started_at)} → ${when(a.finished_at)}\n${a.error_message || a.outcome}`,
          text: `#${a.number + 1} ${a.outcome.toLowerCase()}${a.error_message ? ": " + a.error_message : ""}`,
        }))),
        el("td", {}, replay));
    }));
    const pre = $("log"), atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = log.join("\n");
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  // A step that never started in a finished run was skipped (a parent failed, the run was cancelled, an
  // on-failure step with nothing to handle); one not yet started in a live run is waiting, and says for what.
  function shownStatus(s) {
    if (FINISHED.includes(detail.status) && !s.started_at && ["PENDING", "QUEUED", "CANCELLED"].includes(s.status)) {
      return "SKIPPED";
    }
    if (s.status === "PENDING" || (s.status === "QUEUED" && (waitingOut(s) || durableWait(s)))) return "WAITING";
    return s.status;
  }
  const waitingOut = (s) => s.available_at && new Date(s.available_at) > new Date();
  // A durable task evicted at a wait: its sleep, its events, or both (a condition); it holds no slot.
  const durableWait = (s) => ["sleep", "event", "condition"].includes(s.waiting_for);
  function waitNote(s) {
    const shown = shownStatus(s);
    if (shown !== "WAITING") return "";
    const reason = s.waiting_for || s.wait_reason;  // the engine's wait column, once it has one
    let text = reason ? `for ${String(reason).toLowerCase()}` : "";
    if (s.waiting_label) return el("span", { class: "wait", text: ` for ${s.waiting_label}${s.due_at ? " until " + when(s.due_at) : ""}` });
    if (!text && s.status === "QUEUED") text = `backoff until ${when(s.available_at)}`;
    if (!text) text = s.kind === "ON_FAILURE" ? "for a failure" : `for ${s.parents.join(", ") || "its turn"}`;
    if (durableWait(s) && (s.wait_events || []).length) text += ` ${s.wait_events.join(", ")}`;
    if (s.due_at && reason) text += ` until ${when(s.due_at)}`;
    return el("span", { class: "wait", text: ` ${text}` });
  }

  function renderFailure() {
    const failedSteps = detail.steps.filter((s) => s.status === "FAILED" || (s.attempts || []).some((a) => a.traceback));
    const show = detail.status === "FAILED" || failedSteps.some((s) => s.status === "FAILED");
    $("failure").hidden = !show;
    if (!show) return;
    const continued = detail.continued_failures || [];
    $("run-error").textContent = detail.error
      || (continued.length ? `${detail.status === "COMPLETED" ? "Completed with failures: " : ""}continued past ${continued.join(", ")}` : "");
    const whole = new Map(((facts && facts.steps) || []).map((s) => [s.id, s]));
    $("failures").replaceChildren(...failedSteps.filter((s) => s.status === "FAILED").map((s) => {
      const attempts = (whole.get(s.id) || s).attempts || [];
      const last = [...attempts].reverse().find((a) => a.error_message || a.traceback) || {};
      return el("div", { class: "failed-step", "data-step": s.name },
        el("h4", { text: `${s.name} · attempt ${(last.number ?? s.attempt) + 1} · ${when(last.finished_at || s.finished_at)}` }),
        el("p", { class: "error", text: `${last.error_type || s.error_type || "Error"}: ${last.error_message || s.error || ""}` }),
        el("pre", { class: "traceback", text: last.traceback || "(no traceback recorded)" }));
    }));
  }

  const COLORS = { PENDING: "#9ca3af", QUEUED: "#9ca3af", RUNNING: "#2563eb", COMPLETED: "#16a34a",
    FAILED: "#dc2626", CANCELLED: "#a16207", SKIPPED: "#94a3b8", WAITING: "#7c3aed" };
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
      const { x, y } = at.get(s.name), shown = shownStatus(s), color = COLORS[shown] || "#9ca3af";
      const g = svgEl("g", { class: `node ${shown}`, "data-step": s.name, "data-status": s.status }, svg);
      svgEl("rect", { x: x + 1, y: y + 1, width: W - 2, height: H - 2, rx: 6, fill: "#fff", stroke: color }, g);
      svgEl("text", { x: x + 10, y: y + 17, "font-weight": 600 }, g).textContent = s.name;
      const tries = s.attempt > 0 ? ` · try ${s.attempt + 1}` : "";
      svgEl("text", { x: x + 10, y: y + 32, fill: color }, g).textContent = shown.toLowerCase() + tries;
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
      const live = workers.filter((w) => w.live).length;
      $("workers-summary").textContent = `${live} live of ${workers.length}`;
      $("queues").tBodies[0].replaceChildren(...queues.queues.map((q) => el("tr", {},
        el("td", { text: q.queue }), el("td", { text: q.pool }), el("td", { text: String(q.queued) }),
        el("td", { text: String(q.waiting) }), el("td", { text: q.in_broker === null ? "?" : String(q.in_broker) }))));
      if (filtered) loadFiltered();
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
    }
  }

  // --- actions -------------------------------------------------------------------------------------------
  function selectRun(runId, remember) {
    if (detailFeed) detailFeed.close();
    selected = runId; detail = null; log = []; facts = null;
    if (remember && location.pathname !== `/dashboard/runs/${runId}`) {
      history.pushState(null, "", `/dashboard/runs/${runId}${location.search}`);
    }
    renderRuns();
    detailFeed = openFeed(`/ws/runs/${runId}/`, onDetailMessage, () => {});
    loadFacts(runId);
  }
  async function loadFacts(runId) {
    try {
      const answer = await api("GET", `/sfp/api/runs/${runId}`);
      if (runId === selected) { facts = answer; if (detail) renderDetail(); }
    } catch (error) {
      if (error.status === 404 && runId === selected) {
        notify(`No run ${runId} (or not one this token may see).`);
        $("no-selection").hidden = false; $("run-detail").hidden = true;
      }
    }
  }
  function followPath() {
    const match = RUN_PATH.exec(location.pathname);
    if (match && match[1] !== selected) selectRun(match[1].toLowerCase(), false);
    if (!match && selected) {  // back to /dashboard/: no run open
      if (detailFeed) detailFeed.close();
      detailFeed = null; selected = null; detail = null; facts = null;
      $("no-selection").hidden = false; $("run-detail").hidden = true;
    }
    showFilters(currentFilters());
    loadFiltered();
  }
  async function act(path, body) {
    try { notify(""); return await api("POST", path, body); } catch (error) { notify(error.message); return null; }
  }
  function confirmThen(text, action) {  // an inline confirmation: nothing is sent until "Yes"
    $("confirm-text").textContent = text; $("confirm").hidden = false;
    $("confirm-yes").onclick = async () => { $("confirm").hidden = true; await action(); if (selected) loadFacts(selected); };
    $("confirm-no").onclick = () => { $("confirm").hidden = true; };
    $("confirm-yes").focus();
  }
  async function startDemo() {
    const created = await act("/sfp/api/tasks", demoTask);
    if (created) selectRun(created.operationId, true);
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
    followPath();
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
  $("cancel-button").addEventListener("click", () => confirmThen(`Cancel run ${selected}? Its running steps are stopped.`,
    () => act(`/sfp/api/runs/${selected}/cancel`)));
  $("retry-button").addEventListener("click", () => confirmThen(`Retry the failed steps of run ${selected}?`,
    () => act(`/sfp/api/runs/${selected}/retry-failed`)));
  function decide(decision) {  // the run's pending approval gate (POST runs/{id}/approval)
    const comment = $("approval-comment").value.trim();
    confirmThen(`${decision === "approve" ? "Approve" : "Reject"} the pending approval of run ${selected}?`, async () => {
      if (await act(`/sfp/api/runs/${selected}/approval`, { decision, comment })) $("approval-comment").value = "";
    });
  }
  $("approve-button").addEventListener("click", () => decide("approve"));
  $("reject-button").addEventListener("click", () => decide("reject"));
  $("filters").addEventListener("submit", applyFilters);
  $("filter-clear").addEventListener("click", clearFilters);
  window.addEventListener("popstate", () => { if (token) followPath(); });
  $("runs-source").dataset.live = $("runs-source").textContent;

  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {  // `make run` prints /dashboard/#token=…; the fragment never reaches a server
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) start(saved); else signOut("");
})();
