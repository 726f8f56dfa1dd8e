// coldstandby status page: reads the daemon's API and renders the server
// table, coverage per hardware class and the recent failovers with their
// step timelines; refreshes itself. DOM built with textContent only.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  let refreshMs = 5000;
  let renders = 0;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "label") e.dataset.label = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function badge(text, cls) {
    return el("span", { class: "badge " + cls }, text);
  }

  function utc(s) {
    if (!s || s.startsWith("0001-")) return "";
    const d = new Date(s);
    return isNaN(d) ? s : d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function took(ms) {
    if (!(ms >= 0)) return "";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
    return Math.round(ms / 60000) + " min";
  }

  async function get(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }

  function renderStatus(st) {
    $("site").textContent = "coldstandby · " + (st.site || "site");
    const role = st.leading ? "leader" : "follower (leader: " + (st.leader || "none") + ")";
    const bits = [st.name + " · " + role, st.watched + " BMCs watched", st.unfinished + " unfinished failover(s)"];
    if (st.recovering) bits.push("recovering");
    if (st.draining) bits.push("stopping");
    $("who").textContent = bits.join(" · ");
    const p = $("problem");
    p.hidden = !st.problem;
    p.textContent = st.problem ? "Not ready: " + st.problem : "";
    if (st.pageRefreshMs > 0) refreshMs = st.pageRefreshMs;
  }

  function renderServers(list) {
    const body = $("servers").tBodies[0];
    const rows = list.map((s) => {
      let runs = s.runsOn || "—";
      if (s.home) runs = s.id + " (workload of " + s.home + ")";
      const notes = [s.note, s.reservation ? "held by " + s.reservation : "",
        s.pendingFaults ? s.pendingFaults + " fault(s) pending" : "",
        s.parkedVolumes ? s.parkedVolumes + " volume(s) parked" : ""].filter(Boolean).join("; ");
      return el("tr", { "data-server": s.id },
        el("td", { label: "Server" }, s.id),
        el("td", { label: "State" }, badge(s.state, "s-" + s.state)),
        el("td", { label: "Workload" }, s.workload || "—"),
        el("td", { label: "Priority" }, s.workload ? s.priority : "—"),
        el("td", { label: "Runs on" }, runs),
        el("td", { label: "Class" }, s.class),
        el("td", { label: "Note" }, notes || "—"));
    });
    body.replaceChildren(...rows);
  }

  function renderCoverage(cov) {
    const body = $("classes").tBodies[0];
    body.replaceChildren(...cov.classes.map((c) => el("tr", {},
      el("td", { label: "Class" }, c.class),
      el("td", { label: "Active" }, c.active),
      el("td", { label: "Standby" }, c.standby),
      el("td", { label: "Absorbs" }, c.absorb))));
    const un = cov.servers.filter((s) => !s.covered).map((s) => s.server);
    const n = cov.servers.length;
    $("uncovered").textContent = n === 0 ? "No active server." :
      (n - un.length) + " of " + n + " active servers have a spare now" +
      (un.length ? "; none for " + un.join(", ") + "." : ".");
  }

  function renderFailover(f) {
    const outcome = f.outcome || "running";
    const t0 = Date.parse(f.started);
    let t1 = f.ended && !f.ended.startsWith("0001-") ? Date.parse(f.ended) : NaN;
    for (const s of f.steps) {
      const e = s.end && !s.end.startsWith("0001-") ? Date.parse(s.end) : Date.parse(s.start);
      if (isNaN(t1) || e > t1) t1 = e;
    }
    const span = Math.max(1, (t1 || t0) - t0);
    const plan = f.planText || "no plan";
    const items = f.steps.map((s) => {
      const a = Date.parse(s.start);
      const b = s.end && !s.end.startsWith("0001-") ? Date.parse(s.end) : a;
      const result = s.result || (f.outcome ? "cut" : "running");
      const bar = el("span", { class: "bar" });
      bar.style.left = (100 * (a - t0) / span).toFixed(2) + "%";
      bar.style.width = Math.max(0.5, 100 * (b - a) / span).toFixed(2) + "%";
      return el("li", { class: "r-" + result, title: s.error || result },
        el("span", { class: "label" }, s.step + " " + s.target),
        el("span", { class: "track" }, bar),
        el("span", { class: "took" }, s.result ? took(b - a) : result));
    });
    return el("article", { class: "failover", "data-failover": f.id },
      el("h3", {}, el("span", {}, f.kind === "failback" ? "Failback of " + f.server : f.server),
        badge(outcome, "o-" + outcome), el("span", { class: "id" }, f.id)),
      el("p", { class: "muted" }, (f.fault && f.fault.Type ? f.fault.Type + " · " : "") + plan + " · started " + utc(f.started) +
        (f.ended && !f.ended.startsWith("0001-") ? " · took " + took(t1 - t0) : "")),
      f.error ? el("p", { class: "problem" }, f.error) : null,
      el("ol", { class: "timeline" }, ...items));
  }

  function renderFailovers(list) {
    $("no-failovers").hidden = list.length > 0;
    $("failovers").replaceChildren(...list.map(renderFailover));
  }

  async function refresh() {
    try {
      const [st, servers, cov, fos] = await Promise.all([
        get("/v1/status"), get("/v1/servers"), get("/v1/coverage"), get("/v1/failovers?limit=10")]);
      renderStatus(st);
      renderServers(servers.servers);
      renderCoverage(cov);
      renderFailovers(fos.failovers);
      renders++;
      document.body.dataset.renders = String(renders);
      if (renders === 1 && performance.mark) performance.mark("coldstandby-rendered");
      $("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
    } catch (e) {
      const p = $("problem");
      p.hidden = false;
      p.textContent = "Cannot read the daemon: " + e.message + " (retrying)";
    }
    setTimeout(refresh, refreshMs);
  }

  refresh();
})();
