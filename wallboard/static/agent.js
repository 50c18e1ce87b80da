// The agent panel: my state and its buttons, the offer or call with the
// caller's earlier contacts, the disposition in wrap-up, and my day.
(function () {
  "use strict";

  const D = window.Desk;
  const L = D.L;
  const me = D.cfg.user;
  let view = null;
  let shownCall = "";  // call id the disposition form was built for
  let picked = "";

  const $ = function (id) { return document.getElementById(id); };

  function showError(id, message) {
    const node = $(id);
    node.textContent = message || "";
    node.hidden = !message;
  }

  async function act(action, body) {
    showError("action-error", "");
    try {
      const data = await D.agentAction(me, action, body);
      if (data.pending) showError("action-error", "");
    } catch (e) {
      showError("action-error", e.message);
    }
  }

  $("btn-login").addEventListener("click", function () { act("login"); });
  $("btn-logout").addEventListener("click", function () { act("logout"); });
  $("btn-unpause").addEventListener("click", function () { act("unpause"); });
  $("btn-pause").addEventListener("click", function () {
    act("pause", { reason: $("pause-reason").value });
  });

  $("dispo").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const call = currentDispoCall();
    if (!call || !picked) { showError("dispo-error", L.pick_first); return; }
    showError("dispo-error", "");
    $("dispo-save").disabled = true;
    try {
      await D.agentAction(me, "disposition", { call_id: call.id, code: picked, note: $("dispo-note").value });
      D.fill($("dispo-saved"), "saved", { code: codeLabel(picked) });
      $("dispo-saved").hidden = false;
    } catch (e) {
      showError("dispo-error", e.message);
    } finally {
      $("dispo-save").disabled = false;
    }
  });

  function currentDispoCall() {
    if (!view) return null;
    const call = view.call;
    if (call && call.can_disposition && view.agent.state === "wrap_up") return call;
    if (view.last_call && view.last_call.can_disposition) return view.last_call;
    return null;
  }

  // Disposition codes are the queue's own words, shown as configured.
  function codeLabel(code) { return String(code).replace(/[_-]/g, " "); }

  function renderState(a) {
    document.body.dataset.state = a.state;
    $("state").textContent = D.STATE_LABEL[a.state] || a.state;
    $("state-glyph").textContent = D.GLYPH[a.state] || "";
    $("state-detail").replaceChildren();
    if (a.state === "paused" && a.pause_reason) {
      $("state-detail").appendChild(D.el("bdi", D.reasonLabel(a.pause_reason)));
    }
    const pending = $("pending");
    if (a.pending === "pause" && a.pending_reason) {
      D.fill(pending, "pending_pause_reason", { reason: D.reasonLabel(a.pending_reason) });
    } else if (a.pending === "pause") D.fill(pending, "pending_pause");
    else if (a.pending === "logout") D.fill(pending, "pending_logout");
    pending.hidden = !a.pending;
    $("phone-busy").hidden = !a.phone_busy;
    $("unreachable").hidden = a.reachable || a.state === "logged_out";
    const out = a.state === "logged_out";
    $("btn-login").hidden = !out;
    $("btn-logout").hidden = out || a.pending === "logout";
    $("btn-unpause").hidden = !(a.state === "paused" || a.pending === "pause");
    $("btn-unpause").textContent = a.state === "paused" ? L.btn_unpause : L.btn_cancel_pause;
    $("btn-pause").parentElement.hidden = out || (a.state === "paused");
    const select = $("pause-reason");
    if (select.options.length !== view.pause_reasons.length) {
      select.replaceChildren();
      view.pause_reasons.forEach(function (r) {
        const option = D.el("option", D.reasonLabel(r));
        option.value = r; // the ACD records the reason itself, not its translation
        select.appendChild(option);
      });
    }
  }

  function renderCall(v) {
    const call = v.call || null;
    const ringing = v.agent.state === "ringing" && call;
    $("ring").hidden = !ringing;
    document.body.classList.toggle("ringing", !!ringing);
    if (ringing) {
      const who = $("ring-caller");
      who.replaceChildren();
      [call.caller_name, call.caller_id, call.queue_name].filter(Boolean).forEach(function (part, i) {
        if (i) who.appendChild(document.createTextNode(" · "));
        const b = D.el("bdi", part);
        if (part === call.caller_id) b.dir = "ltr";
        who.appendChild(b);
      });
    }
    const shown = call || v.last_call;
    $("no-call").hidden = !!shown;
    $("call").hidden = !shown;
    $("call-title").textContent = call ? (ringing ? L.offer : L.current_call) : shown ? L.last_call : L.current_call;
    if (shown) {
      $("caller-name").textContent = shown.caller_name || L.unknown_caller;
      $("caller-number").textContent = shown.caller_id || "";
      $("callback").hidden = !shown.callback;
      $("callback-number").hidden = !(shown.callback && shown.callback_number);
      if (shown.callback_number) D.fill($("callback-number"), "callback_to", { number: shown.callback_number });
      $("call-queue").textContent = shown.queue_name || shown.queue;
      $("wait-label").textContent = shown.answered ? L.fact_waited : L.fact_waiting;
      const wait = shown.answered ? shown.wait_seconds : (shown.arrival ? D.now() - shown.arrival : null);
      $("call-wait").textContent = D.duration(wait);
      $("call-state").textContent = ringing ? L.call_ringing : v.agent.state === "on_call" ? L.call_talking : v.agent.state === "wrap_up" ? L.call_wrap_up : L.call_ended;
    }
    renderDispo(v);
  }

  function renderDispo(v) {
    const call = currentDispoCall();
    const form = $("dispo");
    form.hidden = !call;
    if (!call) { shownCall = ""; return; }
    if (shownCall !== call.id) {
      shownCall = call.id;
      picked = call.disposition || "";
      $("dispo-note").value = call.note || "";
      $("dispo-saved").hidden = !call.disposition;
      if (call.disposition) D.fill($("dispo-saved"), "saved", { code: codeLabel(call.disposition) });
      showError("dispo-error", "");
      const codes = $("dispo-codes");
      codes.replaceChildren();
      call.dispositions.forEach(function (code) {
        const b = D.el("button", null, "code");
        b.appendChild(D.el("bdi", codeLabel(code)));
        b.type = "button";
        b.dataset.code = code;
        b.setAttribute("role", "radio");
        b.addEventListener("click", function () { picked = code; markPicked(); });
        codes.appendChild(b);
      });
    }
    markPicked();
  }

  function markPicked() {
    document.querySelectorAll("#dispo-codes .code").forEach(function (b) {
      const on = b.dataset.code === picked;
      b.classList.toggle("picked", on);
      b.setAttribute("aria-checked", on ? "true" : "false");
    });
  }

  function renderHistory(rows) {
    const table = $("history");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    rows.forEach(function (c) {
      const tr = document.createElement("tr");
      // Values from the configuration or the caller (queue, agent, disposition,
      // note) are isolated; the note keeps its own direction.
      [[D.when(c.arrival), false], [c.queue_name || c.queue, true], [c.agent_name || c.agent, true],
       [(c.callback ? "↺ " : "") + D.outcomeLabel(c.outcome), false],
       [c.disposition ? c.disposition + (c.disposition_by
         ? " · " + D.text("disposition_by", { name: c.disposition_by_name || c.disposition_by }) : "") : "", true],
       [c.note, true], [D.duration(c.wait_seconds), false],
       [c.talk_seconds === null ? "–" : D.duration(c.talk_seconds), false], [c.csat || "–", false]]
        .forEach(function (cell, i) {
          const td = document.createElement("td");
          if (cell[1]) td.appendChild(D.el("bdi", cell[0])); else td.textContent = cell[0];
          if (i === 5) { td.className = "note-cell"; td.firstChild.dir = "auto"; }
          tr.appendChild(td);
        });
      body.appendChild(tr);
    });
    table.hidden = rows.length === 0;
    $("no-history").hidden = rows.length !== 0;
    $("no-history").textContent = (view.call || view.last_call) ? L.no_history_caller : L.no_history_call;
  }

  function renderToday(t) {
    $("today-calls").textContent = String(t.calls);
    $("today-aht").textContent = D.duration(t.aht_seconds);
    const body = $("today-states").querySelector("tbody");
    body.replaceChildren();
    const total = Object.values(t.seconds).reduce(function (a, b) { return a + b; }, 0) || 1;
    Object.keys(t.seconds).forEach(function (state) {
      const tr = document.createElement("tr");
      tr.className = "st-" + state;
      tr.appendChild(D.el("th", (D.GLYPH[state] || "") + " " + (D.STATE_LABEL[state] || state)));
      tr.appendChild(D.el("td", D.duration(t.seconds[state]), "num"));
      const bar = D.el("td", null, "bar");
      const fill = D.el("span", null, "fill");
      fill.style.width = Math.round(100 * t.seconds[state] / total) + "%";
      bar.appendChild(fill);
      tr.appendChild(bar);
      body.appendChild(tr);
    });
  }

  function render(v) {
    view = v;
    renderState(v.agent);
    renderCall(v);
    renderHistory(v.history);
    tick();
  }

  // The day's table with the state running now counted up to this second:
  // the server counts it up to when it built the view, and builds an agent's
  // view again only when something about that agent changes.
  function todayNow(v) {
    const state = v.agent.state;
    if (!v.today || typeof v.generated_at !== "number" || !(state in v.today.seconds)) return v.today;
    const seconds = Object.assign({}, v.today.seconds);
    seconds[state] += Math.max(0, D.now() - v.generated_at);
    return Object.assign({}, v.today, { seconds: seconds });
  }

  function tick() {
    if (!view) return;
    renderToday(todayNow(view));
    const a = view.agent;
    if (a.state_since) D.fill($("state-for"), "for_duration", { d: D.duration(D.now() - a.state_since) });
    else $("state-for").replaceChildren();
    const c = view.call;
    if (c && !c.answered && c.arrival) $("call-wait").textContent = D.duration(D.now() - c.arrival);
  }
  setInterval(tick, 1000);

  D.connect(render);
})();
