// The supervisor view: queues today and every agent, with log out / pause /
// unpause per agent (recorded with the supervisor's id by the ACD).
(function () {
  "use strict";

  const D = window.Desk;
  const L = D.L;
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
        .forEach(function (text, i) {
          const cell = D.el(i ? "td" : "th", null, i ? "num" : "");
          if (i) cell.textContent = String(text); else cell.appendChild(D.el("bdi", text));
          tr.appendChild(cell);
        });
      body.appendChild(tr);
    });
  }

  // The detail cell: a label, or the agent's queue and caller (isolated).
  function detail(node, a) {
    if (a.pending === "pause" && a.pending_reason) {
      D.fill(node, "sup_pause_next_reason", { reason: D.reasonLabel(a.pending_reason) });
    } else if (a.pending === "pause") D.fill(node, "sup_pause_next");
    else if (a.pending === "logout") D.fill(node, "sup_logout_next");
    else if (!a.reachable && a.state !== "logged_out") D.fill(node, "sup_phone_offline");
    else if (a.phone_busy) D.fill(node, "sup_phone_busy");
    else {
      node.replaceChildren();
      const parts = a.state === "paused" ? [D.reasonLabel(a.pause_reason || "")]
        : [a.current_queue, a.caller];
      parts.filter(Boolean).forEach(function (part, i) {
        if (i) node.appendChild(document.createTextNode(" · "));
        node.appendChild(D.el("bdi", part));
      });
    }
  }

  const rows = new Map();

  function actionCell(a) {
    const actions = D.el("td", null, "actions");
    if (a.state !== "logged_out" && a.pending !== "logout") {
      const out = D.el("button", L.btn_logout);
      out.type = "button";
      out.dataset.action = "logout";
      out.addEventListener("click", function () { act(a.id, "logout"); });
      actions.appendChild(out);
    }
    const call = a.state === "wrap_up" ? a.wrap_up_call : null;
    if (call && call.dispositions.length) {
      // The disposition of the call the agent is wrapping up, recorded with our id.
      const codes = document.createElement("select");
      codes.className = "dispo-codes";
      codes.setAttribute("aria-label", D.text("sup_disposition_for", { name: a.name }));
      call.dispositions.forEach(function (code) {
        const option = D.el("option", code.replace(/[_-]/g, " "));
        option.value = code;
        option.selected = code === call.disposition;
        codes.appendChild(option);
      });
      const save = D.el("button", L.sup_set_disposition);
      save.type = "button";
      save.dataset.action = "disposition";
      save.addEventListener("click", function () {
        act(a.id, "disposition", { call_id: call.id, code: codes.value });
      });
      actions.appendChild(codes);
      actions.appendChild(save);
    }
    if (a.state === "paused" || a.pending === "pause") {
      const un = D.el("button", a.state === "paused" ? L.btn_unpause : L.btn_cancel_pause, "primary");
      un.type = "button";
      un.dataset.action = "unpause";
      un.addEventListener("click", function () { act(a.id, "unpause"); });
      actions.appendChild(un);
    } else if (a.state !== "logged_out") {
      const select = document.createElement("select");
      select.setAttribute("aria-label", D.text("pause_reason_for", { name: a.name }));
      view.pause_reasons.forEach(function (r) {
        const option = D.el("option", D.reasonLabel(r));
        option.value = r;
        select.appendChild(option);
      });
      const p = D.el("button", L.btn_pause);
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
        name.appendChild(D.el("bdi", a.name, "agent-name"));
        name.appendChild(document.createTextNode(" "));
        name.appendChild(D.el("bdi", a.id, "id"));
        tr.appendChild(name);
        const cells = ["st", "num since", "detail", "num", "num"].map(function (cls) {
          const td = D.el("td", "", cls);
          tr.appendChild(td);
          return td;
        });
        row = { tr: tr, cells: cells, actions: null, actKey: "" };
        rows.set(a.id, row);
      }
      if (body.children[index] !== row.tr) body.insertBefore(row.tr, body.children[index] || null);
      row.tr.dataset.state = a.state;
      row.since = a.state_since;
      row.cells[0].textContent = (D.GLYPH[a.state] || "") + " " + (D.STATE_LABEL[a.state] || a.state);
      row.cells[0].className = "st st-" + a.state;
      row.cells[1].textContent = a.state_since ? D.duration(D.now() - a.state_since) : "–";
      detail(row.cells[2], a);
      row.cells[3].textContent = String(a.today ? a.today.calls : a.calls);
      row.cells[4].textContent = a.today ? D.duration(a.today.aht_seconds) : "–";
      // Rebuilt only when the choices change: a reason being picked survives updates.
      const key = [a.state, a.pending, a.wrap_up_call ? a.wrap_up_call.id : ""].join("/");
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
