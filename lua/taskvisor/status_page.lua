-- taskvisor.status_page: the status page served at / by `--http` (PM2's
-- dashboard, supervisord's web page): the task tree with state, pid, uptime,
-- restarts, last exit and reason, updated live from the events (the feed
-- GET /observe/tasks: the tasks the events changed, coalesced every 250 ms,
-- one JSON object per line; taskvisor.http); a restarts-over-time plot per
-- task drawn as SVG by the page itself; start / stop / restart
-- buttons; a task's last events on click. Built into the binary: no CDN, no
-- network. Every name and reason is set as text (textContent), never markup.
local M = {}

local HTML = [[<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>taskvisor</title>
<link rel="stylesheet" href="/status.css">
</head><body>
<header><h1>taskvisor <span id="host"></span></h1>
<div id="summary"></div><div id="live" class="off">connecting</div></header>
<main>
<table id="tasks"><thead><tr>
<th>task</th><th>state</th><th>pid</th><th>uptime</th><th>restarts</th><th>last exit</th><th>reason</th>
<th>restarts over time</th><th></th></tr></thead><tbody></tbody></table>
<section id="detail" hidden><h2>last events of <span id="detail-name"></span></h2>
<button id="detail-close" type="button">close</button><ol id="detail-events"></ol></section>
<p id="error" role="alert"></p>
</main>
<script src="/status.js"></script>
</body></html>
]]

local CSS = [[
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { display: flex; gap: 1.5em; align-items: baseline; padding: .6em 1em; background: #263238; color: #eee; }
h1 { font-size: 1.2em; margin: 0; } #host { font-weight: normal; color: #b0bec5; }
#live.on { color: #9ccc65; } #live.off { color: #ffab91; }
main { padding: 1em; }
table { border-collapse: collapse; width: 100%; background: #fff; table-layout: fixed; }
th, td { padding: .3em .6em; border-bottom: 1px solid #e0e0e0; text-align: left; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
th:nth-child(1) { width: 13em; } th:nth-child(2) { width: 6.5em; } th:nth-child(3) { width: 4.5em; }
th:nth-child(4) { width: 4.5em; } th:nth-child(5) { width: 4.5em; } th:nth-child(6) { width: 6em; }
th:nth-child(8) { width: 176px; } th:nth-child(9) { width: 13em; }
td.reason { white-space: normal; max-width: 28em; color: #555; }
td.name { cursor: pointer; color: #1565c0; }
.state { font-weight: 600; } .RUNNING { color: #2e7d32; } .BACKOFF, .STARTING, .STOPPING { color: #ef6c00; }
.FATAL { color: #c62828; } .STOPPED, .EXITED { color: #757575; }
svg.plot { width: 160px; height: 28px; background: #f5f5f5; }
tbody tr { height: 43px; } /* (a row's height before its buttons are made: no jump as it fills in) */
svg.plot polyline { fill: none; stroke: #c62828; stroke-width: 1.5; }
button { margin-right: .2em; }
#detail { margin-top: 1em; background: #fff; padding: .5em 1em; border: 1px solid #e0e0e0; }
#detail ol { font-family: ui-monospace, monospace; font-size: 12px; }
#error { color: #c62828; }
]]

local JS = [==[
"use strict";
// The status page: state from /v1/tasks, kept live by the /observe/tasks feed.
(function () {
  const PLOT_WINDOW = 120;            // seconds of restarts the plot shows
  const KEEP_EVENTS = 20;             // last events kept per task
  const tasks = new Map();            // name -> {t, row, restarts: [[at, n]...], events: [...]}
  let token = sessionStorage.getItem("taskvisor-token") || "";
  const m = /^#token=([0-9A-Za-z_-]+)$/.exec(location.hash);
  if (m) { token = m[1]; sessionStorage.setItem("taskvisor-token", token); history.replaceState(null, "", "/"); }
  const $ = (id) => document.getElementById(id);
  const text = (el, s) => { el.textContent = s == null ? "" : String(s); return el; };
  const td = (cls) => { const c = document.createElement("td"); if (cls) c.className = cls; return c; };
  const path = (name, verb) => "/v1/tasks/" + encodeURIComponent(name) + (verb ? "/" + verb : "");
  const fail = (msg) => text($("error"), msg);
  let detail = null;

  function fmtUptime(s) {
    s = Math.floor(s);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60) + "s";
    return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
  }

  // A row's plot: its one polyline and title, redrawn in place (in a restart
  // storm every row changes with each feed line: plots catch up once a second).
  function plot(e) {
    const now = Date.now() / 1000, w = 160, h = 28, buckets = 30, counts = new Array(buckets).fill(0);
    let recent = 0;
    e.replot = false;
    for (const [at, n] of e.restarts) {
      const i = Math.floor((at - (now - PLOT_WINDOW)) / (PLOT_WINDOW / buckets));
      if (i >= 0 && i < buckets) { counts[i] += n; recent += n; }
    }
    const max = Math.max(1, ...counts), pts = [];
    counts.forEach((c, i) => pts.push((i * w / (buckets - 1)).toFixed(1) + "," + (h - 2 - c * (h - 4) / max).toFixed(1)));
    if (!e.svg) { e.replot = true; return; }   // (not filled in yet: off screen so far)
    if (!e.line) {
      e.line = e.svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "polyline"));
      e.title = e.svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "title"));
    }
    const p = pts.join(" "), tt = recent + " restarts in the last " + PLOT_WINDOW + " s";
    if (e.line.getAttribute("points") !== p) e.line.setAttribute("points", p);
    if (e.title.textContent !== tt) text(e.title, tt);
  }

  async function api(method, url) {
    const headers = {};
    if (method !== "GET") {
      if (!token) {
        token = (prompt("This host's token (see the file the host printed at start):") || "").trim();
        sessionStorage.setItem("taskvisor-token", token);
      }
      headers["X-Taskvisor-Token"] = token;
    }
    const r = await fetch(url, { method, headers, cache: "no-store" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((body.error && body.error.message) || (method + " " + url + ": " + r.status));
    return body;
  }

  function command(name, verb) {
    api("POST", path(name, verb)).then((b) => { fail(""); if (b.task) apply([b.task]); }).catch((e) => fail(e.message));
  }

  // Rows far off screen are not redrawn, and a new row gets its plot and
  // buttons only once it first comes near: a row's new text costs the
  // browser its layout, and with a thousand tasks restarting that was most
  // of the page's work (a thousand new rows, fifteen elements each, at once).
  // They catch up as they come near the viewport.
  const near = new IntersectionObserver((seen) => {
    for (const s of seen) {
      const e = tasks.get(s.target.dataset.task);
      if (!e) continue;
      e.near = s.isIntersecting;
      if (e.near && !e.svg) fill(e);
      if (e.near && e.stale) render(e);
      if (e.near && e.replot) plot(e);
    }
  }, { rootMargin: "400px 0px" });

  function makeRow(name) {
    const tr = document.createElement("tr");
    tr.dataset.task = name;
    const cells = {};
    for (const k of ["name", "state", "pid", "uptime", "restarts", "exit", "reason", "plot", "actions"])
      tr.appendChild(cells[k] = td(k));
    cells.name.title = name;              // (a long name is cut short in its fixed-width column)
    cells.name.addEventListener("click", () => { showDetail(name); loadDetail(name); });
    text(cells.name, name);               // (the rest once it comes near: fill, render)
    $("tasks").tBodies[0].appendChild(tr);
    near.observe(tr);                     // (its first report says whether it is near)
    return { name, row: tr, cells, svg: null, shown: { name }, restarts: [], events: [], t: null, seen: 0,
      line: null, replot: true, near: false, stale: true };
  }

  // A row's plot and buttons, made when it first comes near the viewport.
  function fill(e) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "plot");
    svg.setAttribute("viewBox", "0 0 160 28");
    e.cells.plot.appendChild(svg);
    e.svg = svg;
    for (const verb of ["start", "stop", "restart"]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = verb;
      text(b, verb);
      b.addEventListener("click", () => command(e.name, verb));
      e.cells.actions.appendChild(b);
    }
  }

  function entry(name) {
    let e = tasks.get(name);
    if (!e) { e = makeRow(name); tasks.set(name, e); }
    return e;
  }

  // A cell's text, written only when it changes: even an unchanged write
  // costs the browser a style and layout pass. (The table's layout is fixed,
  // its column widths set by the header: a changed cell never makes the
  // browser measure every row's contents again, which with 1,000 rows took
  // chromium 0.6 s per layout in a restart storm.)
  function show(e, k, s) {
    if (e.shown[k] !== s) { e.shown[k] = s; e.cells[k].textContent = s; }
  }

  function renderUptime(e) {
    const t = e.t;
    const up = (t.state === "RUNNING" || t.state === "STARTING") ? t.uptime + (Date.now() / 1000 - e.seen) : 0;
    show(e, "uptime", up > 0 ? fmtUptime(up) : "");
  }

  function render(e) {
    const t = e.t;
    if (!t) return;
    if (!e.near) { e.stale = true; return; }
    e.stale = false;
    let depth = 0;                         // (a group's children under it; names may hold "/")
    for (let g = t.group; g != null && depth < 32; depth++) g = tasks.has(g) && tasks.get(g).t ? tasks.get(g).t.group : null;
    show(e, "name", "\u00a0\u00a0".repeat(depth) + t.name);
    if (e.shown.state !== t.state) e.cells.state.className = "state " + t.state;
    show(e, "state", String(t.state));
    show(e, "pid", t.pid == null ? "" : String(t.pid));
    renderUptime(e);
    show(e, "restarts", String(t.restarts));
    const le = t.last_exit;
    show(e, "exit", !le ? "" : le.signal != null ? "signal " + le.signal : le.code != null ? "code " + le.code : "");
    show(e, "reason", le && le.reason ? String(le.reason) : "");
    if (!e.line) plot(e);                 // (a new row's plot at once; its changes once a second)
  }

  // Task views (a feed line's, /v1/tasks', a command's answer): their rows,
  // then the summary and the open detail, once.
  function apply(list, at) {
    const now = Date.now() / 1000;
    let again = false;
    for (const t of list) {
      const e = entry(t.name);
      if (e.t && at && t.restarts > e.t.restarts) {   // restarts since the last view: the plot's points
        e.restarts.push([at, t.restarts - e.t.restarts]);
        while (e.restarts.length && e.restarts[0][0] < now - PLOT_WINDOW) e.restarts.shift();
        e.replot = true;
      }
      e.t = t;
      e.seen = now;
      render(e);
      if (detail === t.name) again = true;
    }
    summary();
    if (again) loadDetail(detail);
  }

  function summary() {
    const n = { total: 0 };
    for (const e of tasks.values()) if (e.t) { n.total++; n[e.t.state] = (n[e.t.state] || 0) + 1; }
    const s = Object.entries(n).map(([k, v]) => k.toLowerCase() + " " + v).join(" \u00b7 ");
    if ($("summary").textContent !== s) text($("summary"), s);
  }

  let detailAt = 0, detailTimer = null;
  function loadDetail(name) {          // a task's last events, from the kept backlog (at most once a second)
    if (detailTimer) return;
    const wait = Math.max(0, detailAt + 1000 - Date.now());
    detailTimer = setTimeout(async () => {
      detailTimer = null;
      detailAt = Date.now();
      try {
        const b = await api("GET", "/v1/events");
        const e = tasks.get(name);
        if (e) e.events = b.events.filter((ev) => ev.task === name).slice(-KEEP_EVENTS);
        if (detail === name) showDetail(name);
      } catch (err) { fail(err.message); }
    }, wait);
  }

  function showDetail(name) {
    detail = name;
    const e = tasks.get(name);
    $("detail").hidden = false;
    text($("detail-name"), name);
    const ol = $("detail-events");
    while (ol.firstChild) ol.removeChild(ol.firstChild);
    for (const ev of (e ? e.events : [])) {
      const li = document.createElement("li");
      const at = new Date(ev.at * 1000).toISOString().slice(11, 23);
      const extra = ["attempt", "pid", "exit_code", "signal", "delay_ms", "reason"]
        .filter((k) => ev[k] != null).map((k) => k + "=" + ev[k]).join(" ");
      text(li, at + " #" + ev.seq + " " + ev.kind + (extra ? " " + extra : ""));
      ol.appendChild(li);
    }
  }
  $("detail-close").addEventListener("click", () => { detail = null; $("detail").hidden = true; });

  async function follow() {
    for (;;) {
      try {
        const r = await fetch("/observe/tasks", { cache: "no-store" });
        if (!r.ok) throw new Error("feed: " + r.status);
        $("live").className = "on"; text($("live"), "live");
        fail("");
        const reader = r.body.getReader(), dec = new TextDecoder();
        let parts = [];                    // (a line's pieces so far: only new text is searched)
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          let s = dec.decode(value, { stream: true }), i;
          while ((i = s.indexOf("\n")) >= 0) {
            parts.push(s.slice(0, i));
            s = s.slice(i + 1);
            const line = parts.join("");
            parts = [];
            if (!line) continue;
            const msg = JSON.parse(line);
            if (msg.tasks) apply(msg.tasks, msg.at);
          }
          if (s) parts.push(s);
        }
      } catch (err) { fail(err.message); }
      $("live").className = "off"; text($("live"), "reconnecting");
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  }

  async function load() {
    const host = await api("GET", "/v1/host");
    text($("host"), host.name + " \u00b7 pid " + host.pid);
    const b = await api("GET", "/v1/tasks");
    apply(b.tasks);
  }

  async function start() {
    try {
      await load();
      const b = await api("GET", "/v1/events");   // the kept backlog: the plot's past and last events
      for (const ev of b.events) {
        const e = ev.task && tasks.get(ev.task);
        if (!e) continue;
        e.events.push(ev);
        if (e.events.length > KEEP_EVENTS) e.events.shift();
        if (ev.kind === "TaskStarting" && ev.attempt > 1) e.restarts.push([ev.at, 1]);
      }
      for (const e of tasks.values()) plot(e);
      follow();
    } catch (err) { fail(err.message); setTimeout(start, 2000); }
  }
  setInterval(() => {                   // uptimes tick; changed plots catch up; all move on every 5 s
    const replot = (Date.now() / 1000 | 0) % 5 === 0;
    for (const e of tasks.values()) if (e.t && e.near) { renderUptime(e); if (e.replot || (replot && e.restarts.length)) plot(e); }
  }, 1000);
  start();
})();
]==]

M.assets = {
  ["/"] = { body = HTML, type = "text/html; charset=utf-8" },
  ["/index.html"] = { body = HTML, type = "text/html; charset=utf-8" },
  ["/status.css"] = { body = CSS, type = "text/css; charset=utf-8" },
  ["/status.js"] = { body = JS, type = "text/javascript; charset=utf-8" },
}

return M
