// Shared by the agent panel and the supervisor view: the live socket, the
// API calls (every one carries the session's CSRF token), the labels of the
// page's language and formatting.
// Server values reach the page through textContent only, never innerHTML;
// names, numbers and notes go in <bdi> so a Latin name in an Arabic page (or
// the reverse) keeps its own direction.
(function () {
  "use strict";

  const cfg = JSON.parse(document.getElementById("desk-config").textContent);
  const L = cfg.labels;
  const STATES = ["logged_out", "available", "ringing", "on_call", "wrap_up", "paused"];
  const STATE_LABEL = {};
  STATES.forEach(function (s) { STATE_LABEL[s] = L["state_" + s]; });
  const GLYPH = {
    available: "✓", ringing: "☎", on_call: "◉", wrap_up: "✎", paused: "❚❚", logged_out: "–",
  };
  // Close code of a desk socket whose session ended; the reason says why.
  const SESSION_ENDED = 4401;
  let offset = 0; // server clock minus local clock, seconds
  // Set once this page signs out or goes away: its socket's end is expected.
  let leaving = false;
  window.addEventListener("pagehide", function () { leaving = true; });
  document.querySelectorAll("form.signout").forEach(function (form) {
    form.addEventListener("submit", function () { leaving = true; });
  });

  function now() { return Date.now() / 1000 + offset; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }

  function pct(share) {
    return share === null || share === undefined ? "–" : Math.round(share * 100) + " %";
  }

  function when(epoch) {
    if (!epoch) return "–";
    const d = new Date(epoch * 1000);
    const today = new Date();
    const time = d.toLocaleTimeString(cfg.lang, { hour: "2-digit", minute: "2-digit" });
    if (d.toDateString() === today.toDateString()) return time;
    return d.toLocaleDateString(cfg.lang, { day: "numeric", month: "short" }) + " " + time;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  // Label `key` into `node`: plain text, each {placeholder} a <bdi> of its value.
  function fill(node, key, values) {
    node.replaceChildren();
    String(L[key] || key).split(/(\{\w+\})/).forEach(function (part) {
      const m = /^\{(\w+)\}$/.exec(part);
      if (m) node.appendChild(el("bdi", values && values[m[1]] !== undefined ? values[m[1]] : ""));
      else if (part) node.appendChild(document.createTextNode(part));
    });
    return node;
  }

  // A label as plain text (attributes, option text).
  function text(key, values) {
    return String(L[key] || key).replace(/\{(\w+)\}/g, function (_, name) {
      return values && values[name] !== undefined ? String(values[name]) : "";
    });
  }

  // A pause reason of the ACD's list in the page's language (sent as is).
  function reasonLabel(reason) {
    const key = "reason_" + String(reason).toLowerCase().replace(/[^a-z0-9]+/g, "_");
    return L[key] || reason;
  }

  function outcomeLabel(outcome) {
    if (!outcome) return "";
    return L["outcome_" + outcome] || outcome.replace(/_/g, " ");
  }

  function errorText(status, data) {
    const key = "error_" + (data && data.error);
    return L[key] || text("request_failed", { status: status });
  }

  function signedOut(reason) {
    document.body.dataset.connected = "no";
    document.getElementById("status").textContent = L.status_signed_out;
    window.location.assign("signin?ended=" + encodeURIComponent(reason || "signed_out"));
  }

  async function post(path, body) {
    const resp = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": cfg.csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await resp.json(); } catch (e) { data = {}; }
    if (resp.status === 401) signedOut("session_expired");
    if (!resp.ok) throw new Error(errorText(resp.status, data));
    return data;
  }

  function agentAction(agentId, action, body) {
    return post("api/agents/" + encodeURIComponent(agentId) + "/" + action, body);
  }

  function connect(onData) {
    let backoff = 500;
    const status = document.getElementById("status");
    function open() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(proto + "//" + location.host + "/desk/ws");
      ws.onopen = function () { backoff = 500; };
      ws.onmessage = function (ev) {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (typeof msg.generated_at === "number") offset = msg.generated_at - Date.now() / 1000;
        if (typeof msg.at === "number") offset = msg.at - Date.now() / 1000;
        document.body.dataset.connected = "yes";
        status.textContent = L.status_live;
        if (msg.type !== "heartbeat") onData(msg);
      };
      ws.onclose = function (ev) {
        if (leaving) return;
        // The server ended the socket with the session: no reconnecting.
        if (ev.code === SESSION_ENDED) { signedOut(ev.reason); return; }
        document.body.dataset.connected = "no";
        status.textContent = L.status_reconnecting;
        // The session may have ended while we were away: the API says so.
        fetch("api/desk", { credentials: "same-origin" }).then(function (r) {
          if (r.status !== 401) return null;
          return r.json().then(function (data) { signedOut(data.reason); });
        }).catch(function () {});
        setTimeout(open, backoff);
        backoff = Math.min(backoff * 2, 10000);
      };
    }
    open();
  }

  function tickClock() {
    const clock = document.getElementById("clock");
    clock.textContent = new Date(now() * 1000).toLocaleTimeString(cfg.lang, { hour: "2-digit", minute: "2-digit" });
  }
  tickClock();
  setInterval(tickClock, 1000);

  window.Desk = {
    cfg: cfg, L: L, STATE_LABEL: STATE_LABEL, GLYPH: GLYPH, now: now, duration: duration,
    pct: pct, when: when, el: el, fill: fill, text: text, reasonLabel: reasonLabel,
    outcomeLabel: outcomeLabel, post: post, agentAction: agentAction, connect: connect,
  };
})();
