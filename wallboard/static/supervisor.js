// The supervisor view: queues today and every agent, with log out / pause /
// unpause per agent (recorded with the supervisor's id by the ACD).
(function () {
  "use strict";

  const D = window.Desk;
  let view = null;
  const $ = function (id) { return document.getElementById(id); };

  function showError(message) {
    $("action-error").textContent = message || "";
    $("action-error").hidden = !message;
  }

  async function act(agentId, action, body) {
    showError("");
    try { await D.agentAction(agentId, action, body); } catch (e) { showError(agentId + ": " + e.message); }
  }

  function renderQueues(queues) {
    const body = $("queues").querySelector("tbody");
    body.replaceChildren();
    queues.forEach(function (q) {
      const tr = document.createElement("tr");
      [q.display_name, q.waiting, q.callbacks_waiting, D.duration(q.longest_wait_seconds),
       D.pct(q.service_level), q.answered, q.abandoned, D.duration(q.aht_seconds),
       D.pct(q.resolution_rate), D.pct(q.csat), q.agents ? q.agents.logged_in : "–"]
        .forEach(function (text, i) { tr.appendChild(D.el(i ? "td" : "th", text, i ? "num" : "")); });
      body.appendChild(tr);
    });
  }

  function detail(a) {
    if (a.pending === "pause") return "⏳ pause next" + (a.pending_reason ? " (" + a.pending_reason + ")" : "");
    if (a.pending === "logout") return "⏳ log-out next";
    if (!a.reachable && a.state !== "logged_out") return "✕ phone offline";
    if (a.phone_busy) return "⊘ on another call";
    if (a.state === "paused") return a.pause_reason;
    return [a.current_queue, a.caller].filter(Boolean).join(" · ");
  }

  const rows = new Map();

  function actionCell(a) {
    const actions = D.el("td", null, "actions");
    if (a.state !== "logged_out" && a.pending !== "logout") {
      const out = D.el("button", "Log out");
      out.type = "button";
      out.dataset.action = "logout";
      out.addEventListener("click", function () { act(a.id, "logout"); });
      actions.appendChild(out);
    }
    if (a.state === "paused" || a.pending === "pause") {
      const un = D.el("button", "Unpause", "primary");
      un.type = "button";
      un.dataset.action = "unpause";
      un.addEventListener("click", function () { act(a.id, "unpause"); });
      actions.appendChild(un);
    } else if (a.state !== "logged_out") {
      const select = document.createElement("select");
      select.setAttribute("aria-label", "Pause reason for " + a.name);
      view.pause_reasons.forEach(function (r) { select.appendChild(D.el("option", r)); });
      const p = D.el("button", "Pause");
      p.type = "button";
      p.dataset.action = "pause";
      p.addEventListener("click", function () { act(a.id, "pause", { reason: select.value }); });
      actions.appendChild(select);
      actions.appendChild(p);
    }
    return actions;
  }

  function renderAgents(agents) {
    const body = $("agents").querySelector("tbody");
    const seen = new Set();
    agents.forEach(function (a, index) {
      seen.add(a.id);
      let row = rows.get(a.id);
      if (!row) {
        const tr = document.createElement("tr");
        tr.dataset.agent = a.id;
        const name = D.el("th", null);
        name.appendChild(D.el("span", a.name, "agent-name"));
        name.appendChild(D.el("span", " " + a.id, "id"));
        name.dir = "auto";
        tr.appendChild(name);
        const cells = ["st", "num since", "detail", "num", "num"].map(function (cls) {
          const td = D.el("td", "", cls);
          tr.appendChild(td);
          return td;
        });
        cells[2].dir = "auto";
        row = { tr: tr, cells: cells, actions: null, actKey: "" };
        rows.set(a.id, row);
      }
      if (body.children[index] !== row.tr) body.insertBefore(row.tr, body.children[index] || null);
      row.tr.dataset.state = a.state;
      row.since = a.state_since;
      row.cells[0].textContent = (D.GLYPH[a.state] || "") + " " + (D.STATE_LABEL[a.state] || a.state);
      row.cells[0].className = "st st-" + a.state;
      row.cells[1].textContent = a.state_since ? D.duration(D.now() - a.state_since) : "–";
      row.cells[2].textContent = detail(a);
      row.cells[3].textContent = String(a.today ? a.today.calls : a.calls);
      row.cells[4].textContent = a.today ? D.duration(a.today.aht_seconds) : "–";
      // Rebuilt only when the choices change: a reason being picked survives updates.
      const key = a.state + "/" + a.pending;
      if (key !== row.actKey) {
        const cell = actionCell(a);
        if (row.actions) row.tr.replaceChild(cell, row.actions); else row.tr.appendChild(cell);
        row.actions = cell;
        row.actKey = key;
      }
    });
    rows.forEach(function (row, id) {
      if (!seen.has(id)) { row.tr.remove(); rows.delete(id); }
    });
  }

  setInterval(function () {
    rows.forEach(function (row) {
      row.cells[1].textContent = row.since ? D.duration(D.now() - row.since) : "–";
    });
  }, 1000);

  function render(v) {
    view = v;
    renderQueues(v.queues);
    renderAgents(v.agents);
  }

  D.connect(render);
})();
