// AutoRKE console: small, dependency-free. Live parts of a page are server-rendered
// fragments re-fetched when the event stream says something changed, so the browser
// never invents state; logs are appended from executor output events as they arrive.
(function () {
  "use strict";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function live(url, handlers) {
    const dot = document.querySelector("[data-live-dot]");
    const es = new EventSource(url);
    es.addEventListener("ready", (e) => { if (dot) dot.classList.add("on"); handlers.ready && handlers.ready(e); });
    es.onmessage = (e) => { let env; try { env = JSON.parse(e.data); } catch (_) { return; } handlers.event(env); };
    es.onerror = () => { if (dot) dot.classList.remove("on"); };
    // The sign-in is over (the token expired, or the session was signed out elsewhere):
    // reconnecting cannot help; the next page load asks to sign in again.
    for (const end of ["expired", "signed-out"]) {
      es.addEventListener(end, () => { es.close(); if (dot) dot.classList.remove("on"); });
    }
    return es;
  }

  function debounce(fn, ms) {
    let t = null;
    return () => { clearTimeout(t); t = setTimeout(fn, ms); };
  }

  // A change's page: timeline, results and buttons re-rendered on every event of it.
  function changePage(root) {
    const id = root.dataset.changeId;
    const target = document.getElementById("live");
    const refresh = debounce(async () => {
      const r = await fetch(`/ui/changes/${encodeURIComponent(id)}/live`, { headers: { accept: "text/html" } });
      if (!r.ok) return;
      const html = await r.text();
      // What the user is typing (an approval comment) survives the re-render: the form
      // comes back with the fragment, so an event arriving mid-sentence loses nothing.
      const typed = new Map();
      target.querySelectorAll("input[name]:not([type=hidden]), textarea[name]").forEach((el) => {
        if (el.value) typed.set(el.name, el.value);
      });
      const focused = target.contains(document.activeElement) ? document.activeElement.name : null;
      target.innerHTML = html;
      for (const [name, value] of typed) {
        const el = target.querySelector(`input[name="${CSS.escape(name)}"]:not([type=hidden]), textarea[name="${CSS.escape(name)}"]`);
        if (el && !el.value) el.value = value;
      }
      if (focused) { const el = target.querySelector(`[name="${CSS.escape(focused)}"]`); if (el) el.focus(); }
      target.dataset.refreshed = String(Date.now());
    }, 120);
    const logs = document.getElementById("logs");
    function logFor(host) {
      let pane = logs.querySelector(`[data-host="${CSS.escape(host)}"]`);
      if (!pane) {
        const box = document.createElement("div");
        box.className = "panel";
        box.innerHTML = `<h4></h4><div class="log" data-host=""></div>`;
        box.querySelector("h4").textContent = host;
        pane = box.querySelector(".log"); pane.dataset.host = host;
        logs.appendChild(box);
      }
      return pane;
    }
    live(`/api/v1/events?correlation_id=${encodeURIComponent(id)}`, {
      ready: refresh,
      event: (env) => {
        if (env.type === "executor.target.output") {
          for (const l of (env.data.lines || [])) {
            const pane = logFor(l.host);
            const stick = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
            pane.append(document.createTextNode(l.line + "\n"));
            if (stick) pane.scrollTop = pane.scrollHeight;
          }
          return;
        }
        refresh();
      },
    });
  }

  // The events page: a live feed, filterable by subject, pausable.
  function feedPage(root) {
    // The page opens with the history the console kept (server-rendered, newest first);
    // live events are prepended above it as they come (unless an older page is shown).
    const body = root.querySelector("tbody");
    const form = document.getElementById("feed-filter");
    let es = null, paused = false;
    const pauseBtn = document.getElementById("feed-pause");
    const seen = new Set(Array.from(body.querySelectorAll("[data-event]")).map((tr) => tr.dataset.event));
    function cell(tr, text) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); return td; }
    function row(env) {
      const tr = document.createElement("tr");
      tr.className = "feed"; tr.tabIndex = 0; tr.dataset.event = env.id || "";
      cell(tr, (env.time || "").slice(0, 19).replace("T", " "));
      cell(tr, env.type || ""); cell(tr, env.source || ""); cell(tr, (env.actor || "").split("#").pop());
      const data = cell(tr, "");
      const details = document.createElement("details");
      const summary = document.createElement("summary"); summary.textContent = env.correlation_id || "JSON";
      const pre = document.createElement("pre"); pre.textContent = JSON.stringify(env.data, null, 2);
      details.append(summary, pre); data.appendChild(details);
      return tr;
    }
    function connect() {
      if (es) es.close();
      const q = new URLSearchParams();
      for (const name of ["subject", "correlation_id"]) { const v = form[name].value.trim(); if (v) q.set(name, v); }
      es = live(`/api/v1/events?${q}`, { event: (env) => {
        if (paused || seen.has(env.id)) return;
        const cluster = form.cluster.value.trim(), actor = form.actor.value.trim();
        if (cluster && (env.data || {}).cluster !== cluster) return;
        if (actor && env.actor !== actor) return;
        seen.add(env.id);
        body.prepend(row(env));
        while (body.rows.length > 500) body.deleteRow(body.rows.length - 1);
        const n = document.getElementById("feed-count"); if (n) n.textContent = String(body.rows.length);
      } });
    }
    pauseBtn.addEventListener("click", () => { paused = !paused; pauseBtn.textContent = paused ? pauseBtn.dataset.resume : pauseBtn.dataset.pause; });
    if (root.dataset.live === "true") connect();
  }

  // A cluster's page: its nodes section re-rendered (fetched whole, the section swapped)
  // when the inventory says something about this cluster: a node's status changed, a
  // member joined or left.
  function clusterPage(root) {
    const name = root.dataset.clusterNodes;
    const refresh = debounce(async () => {
      const r = await fetch(location.href, { headers: { accept: "text/html" } });
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.querySelector("[data-cluster-nodes]");
      if (fresh) { root.innerHTML = fresh.innerHTML; root.dataset.refreshed = String(Date.now()); }
    }, 300);
    // once connected, fetch again: what happened between the page and the connection is not lost
    live("/api/v1/events?subject=inventory.>", { ready: refresh, event: (env) => {
      if ((env.data || {}).cluster === name) refresh();
    } });
  }

  // Machines: select all, selection count, "/" to search, arrows to move between rows.
  function machinesPage(root) {
    const all = root.querySelector("[data-select-all]");
    const boxes = () => Array.from(root.querySelectorAll("input[name=targets]"));
    const count = document.getElementById("selected-count");
    const update = () => { const n = boxes().filter((b) => b.checked).length; count.textContent = String(n);
      document.querySelectorAll("[data-needs-selection]").forEach((b) => { b.disabled = n === 0; }); };
    if (all) all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); update(); });
    root.addEventListener("change", (e) => { if (e.target.name === "targets") update(); });
    update();
  }

  // The header's approvals count: re-read every few seconds while the page is shown, so a
  // gate opened in another browser (or by a flow) appears without a reload.
  function inboxCount(link) {
    const badge = link.querySelector("[data-inbox-count]");
    const read = async () => {
      if (document.hidden) return;
      try {
        const r = await fetch("/ui/approvals/count", { headers: { accept: "application/json" } });
        if (!r.ok) return;
        const body = await r.json();
        badge.textContent = String(body.count) + (body.complete ? "" : "?");
        badge.classList.toggle("on", body.count > 0);
        link.dataset.count = String(body.count);
      } catch (_) { /* the next tick tries again */ }
    };
    read();
    setInterval(read, 5000);
    document.addEventListener("visibilitychange", read);
  }

  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
      const q = document.querySelector("input[name=q]"); if (q) { e.preventDefault(); q.focus(); }
    }
    if ((e.key === "ArrowDown" || e.key === "ArrowUp") && document.activeElement.closest("tbody tr")) {
      const tr = document.activeElement.closest("tr");
      const next = e.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
      if (next) { e.preventDefault(); (next.querySelector("a, input") || next).focus(); }
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    const change = document.querySelector("[data-change-id]"); if (change) changePage(change);
    const feed = document.querySelector("[data-feed]"); if (feed) feedPage(feed);
    const machines = document.querySelector("[data-machines]"); if (machines) machinesPage(machines);
    const cluster = document.querySelector("[data-cluster-nodes]"); if (cluster) clusterPage(cluster);
    const inbox = document.querySelector("[data-inbox]"); if (inbox) inboxCount(inbox);
  });
  window.AutoRKE = { live, csrf };
})();
