// Shared by the agent panel and the supervisor view: the live socket, the
// API calls (every one carries the session's CSRF token) and formatting.
// Server values reach the page through textContent only, never innerHTML.
(function () {
  "use strict";

  const cfg = JSON.parse(document.getElementById("desk-config").textContent);
  const STATE_LABEL = {
    logged_out: "Logged out", available: "Available", ringing: "Ringing",
    on_call: "On call", wrap_up: "Wrap-up", paused: "Paused",
  };
  const GLYPH = {
    available: "✓", ringing: "☎", on_call: "◉", wrap_up: "✎", paused: "❚❚", logged_out: "–",
  };
  let offset = 0; // server clock minus local clock, seconds

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
    const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (d.toDateString() === today.toDateString()) return time;
    return d.toLocaleDateString([], { day: "numeric", month: "short" }) + " " + time;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
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
    if (resp.status === 401) { window.location.assign("signin"); }
    if (!resp.ok) throw new Error(data.message || "request failed (" + resp.status + ")");
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
        status.textContent = "live";
        if (msg.type !== "heartbeat") onData(msg);
      };
      ws.onclose = function () {
        document.body.dataset.connected = "no";
        status.textContent = "reconnecting…";
        // The session may have ended: the API says so, and sends us to sign in.
        fetch("api/desk", { credentials: "same-origin" }).then(function (r) {
          if (r.status === 401) window.location.assign("signin");
        }).catch(function () {});
        setTimeout(open, backoff);
        backoff = Math.min(backoff * 2, 10000);
      };
    }
    open();
  }

  function tickClock() {
    const clock = document.getElementById("clock");
    clock.textContent = new Date(now() * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  tickClock();
  setInterval(tickClock, 1000);

  window.Desk = {
    cfg: cfg, STATE_LABEL: STATE_LABEL, GLYPH: GLYPH, now: now, duration: duration, pct: pct,
    when: when, el: el, post: post, agentAction: agentAction, connect: connect,
  };
})();
