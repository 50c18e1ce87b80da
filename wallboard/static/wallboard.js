// TV wallboard client. Every value from the server is put on the page with
// textContent or as an SVG number attribute: never innerHTML, so a caller
// name such as "<script>..." is shown as text and stays inert.
(function () {
  "use strict";

  const cfg = JSON.parse(document.getElementById("wb-config").textContent);
  const L = cfg.labels;
  const SVG = "http://www.w3.org/2000/svg";
  const STATES = ["available", "ringing", "on_call", "wrap_up", "paused"];
  const BIG = [
    ["waiting", "waiting"],
    ["longest_wait_seconds", "longest_wait"],
    ["service_level", "sl_today"],
    ["service_level_hour", "sl_hour"],
  ];
  const SMALL = [
    ["offered", "offered"],
    ["answered", "answered"],
    ["abandoned", "abandoned"],
    ["asa_seconds", "asa"],
    ["aht_seconds", "aht"],
    ["median_wait_seconds", "median_wait"],
  ];

  let snap = null;
  let offset = 0; // server clock minus local clock, seconds
  let lastDataLocal = 0; // Date.now() when the last snapshot arrived
  let lastMessageLocal = 0;
  let ws = null;
  let freshOnThisSocket = false;
  let storeOk = true;
  let backoff = 500;
  let audio = null;
  const tiles = new Map();
  const cards = new Map();
  const redBefore = new Set();

  // --- formatting ------------------------------------------------------------
  function fmt(template, vars) {
    return String(template).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  }
  function dur(s) {
    if (s === null || s === undefined) return "—";
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }
  function pct(x) {
    return x === null || x === undefined ? "—" : Math.round(x * 100) + "%";
  }
  function count(n) {
    return n === null || n === undefined ? "—" : String(n);
  }
  function ageText(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return s < 120 ? s + " s" : Math.floor(s / 60) + " min";
  }
  function serverNow() {
    return Date.now() / 1000 + offset;
  }
  function classify(value, t) {
    if (value === null || value === undefined || !t) return null;
    // Limits are inclusive, as in acd.config.Threshold.level.
    if (t.higher_is_better) return value <= t.red ? "red" : value <= t.amber ? "amber" : "green";
    return value >= t.red ? "red" : value >= t.amber ? "amber" : "green";
  }

  // --- DOM building ----------------------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function cell(metric, labelKey) {
    const c = el("div", "cell");
    c.dataset.metric = metric;
    const value = el("div", "value");
    const main = el("span", "main", "—");
    value.append(main);
    if (metric === "abandoned") value.append(el("span", "sub"));
    c.append(value, el("div", "label", L[labelKey]));
    return c;
  }
  function buildTile(name) {
    const tile = el("article", "tile");
    tile.dataset.queue = name;
    const head = el("header", "tile-head");
    const title = el("h2", null, name);
    head.append(title, el("span", "target"));
    const big = el("div", "big");
    for (const [metric, key] of BIG) big.append(cell(metric, key));
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 960 100");
    svg.setAttribute("preserveAspectRatio", "none");
    const small = el("div", "small");
    for (const [metric, key] of SMALL) small.append(cell(metric, key));
    const chips = el("div", "chips");
    const logged = el("span", "chip");
    logged.dataset.state = "logged_in";
    logged.append(el("b", null, "0"), el("span", null, L.logged_in));
    chips.append(logged);
    for (const state of STATES) {
      const chip = el("span", "chip");
      chip.dataset.state = state;
      const dot = el("span", "dot");
      dot.style.background = "var(--" + state + ")";
      chip.append(dot, el("b", null, "0"), el("span", null, L[state]));
      chips.append(chip);
    }
    const next = el("div", "next");
    tile.append(head, big, svg, el("div", "spark-label", L.sparkline), small, chips, next);
    return tile;
  }
  function setCell(tile, metric, text, level, sub) {
    const c = tile.querySelector('[data-metric="' + metric + '"]');
    if (!c) return;
    c.querySelector(".main").textContent = text;
    if (sub !== undefined) c.querySelector(".sub").textContent = sub;
    c.classList.remove("level-green", "level-amber", "level-red");
    if (level) c.classList.add("level-" + level);
  }

  function drawSpark(svg, q, thresholds) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const values = q.series.service_level;
    const slots = Math.max(96, values.length);
    const x = (i) => ((i + 0.5) / slots) * 960;
    const y = (v) => 96 - v * 92;
    const base = document.createElementNS(SVG, "rect");
    base.setAttribute("class", "base");
    base.setAttribute("x", "0");
    base.setAttribute("y", "0");
    base.setAttribute("width", "960");
    base.setAttribute("height", "100");
    svg.append(base);
    const goal = thresholds.service_level;
    if (goal) {
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("class", "goal");
      line.setAttribute("x1", "0");
      line.setAttribute("x2", "960");
      line.setAttribute("y1", String(y(goal.amber)));
      line.setAttribute("y2", String(y(goal.amber)));
      svg.append(line);
    }
    let d = "";
    let pen = false;
    values.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1) + " ";
      if (!pen && (i + 1 >= values.length || values[i + 1] === null)) {
        d += "l0.1 0 "; // a lone interval still shows as a dot
      }
      pen = true;
    });
    if (d) {
      const path = document.createElementNS(SVG, "path");
      const level = (q.levels || {}).service_level;
      path.setAttribute("class", "line" + (level ? " level-" + level : ""));
      path.setAttribute("d", d.trim());
      svg.append(path);
    }
  }

  // --- rendering -------------------------------------------------------------
  function render(s) {
    snap = s;
    offset = s.generated_at - Date.now() / 1000;
    lastDataLocal = Date.now();
    freshOnThisSocket = true;
    storeOk = true;
    document.body.dataset.generatedAt = String(s.generated_at);

    const first = s.queues[0];
    const variantKey = "variant_" + s.service_level_variant;
    document.getElementById("variant").textContent = first
      ? fmt(L[variantKey] || L.variant_default, {
          t: first.service_level_target_seconds,
          s: first.short_abandon_seconds,
        })
      : "";

    const container = document.getElementById("queues");
    const names = s.queues.map((q) => q.name);
    for (const [name, tile] of tiles) {
      if (!names.includes(name)) {
        tile.remove();
        tiles.delete(name);
      }
    }
    const redNow = new Set();
    s.queues.forEach((q, index) => {
      let tile = tiles.get(q.name);
      if (!tile) {
        tile = buildTile(q.name);
        tiles.set(q.name, tile);
      }
      if (container.children[index] !== tile) container.insertBefore(tile, container.children[index] || null);
      const lv = q.levels || {};
      tile.querySelector(".target").textContent = fmt(L.target, { t: q.service_level_target_seconds });
      setCell(tile, "waiting", count(q.waiting), lv.waiting);
      setCell(tile, "service_level", pct(q.service_level), lv.service_level);
      setCell(tile, "service_level_hour", pct(q.service_level_hour), lv.service_level_hour);
      setCell(tile, "offered", count(q.offered));
      setCell(tile, "answered", count(q.answered));
      setCell(tile, "abandoned", count(q.abandoned), lv.abandon_rate, " " + pct(q.abandon_rate));
      setCell(tile, "asa_seconds", dur(q.asa_seconds), lv.asa_seconds);
      setCell(tile, "aht_seconds", dur(q.aht_seconds), lv.aht_seconds);
      setCell(tile, "median_wait_seconds", dur(q.median_wait_seconds), lv.median_wait_seconds);
      for (const chip of tile.querySelectorAll(".chip")) {
        chip.querySelector("b").textContent = String(q.agents[chip.dataset.state] || 0);
      }
      const next = tile.querySelector(".next");
      next.textContent = "";
      if (q.longest_waiting_caller) {
        next.append(L.next_caller + ": ");
        next.append(el("bdi", null, q.longest_waiting_caller));
      }
      drawSpark(tile.querySelector("svg"), q, s.thresholds);
      for (const [metric, level] of Object.entries(lv)) {
        if (level === "red") redNow.add(q.name + "/" + metric);
      }
    });
    renderAgents(s.agents);
    tick();
    alarm(redNow);
  }

  function renderAgents(agents) {
    const container = document.getElementById("agents");
    const shown = agents.filter((a) => a.state !== "logged_out");
    const ids = new Set(shown.map((a) => a.id));
    for (const [id, card] of cards) {
      if (!ids.has(id)) {
        card.remove();
        cards.delete(id);
      }
    }
    shown.forEach((a, index) => {
      let card = cards.get(a.id);
      if (!card) {
        card = el("div", "agent");
        card.dataset.agent = a.id;
        const row = el("div", "row");
        row.append(el("span", "state"), el("span", "since"));
        card.append(el("div", "name"), row, el("div", "detail"));
        cards.set(a.id, card);
      }
      if (container.children[index] !== card) container.insertBefore(card, container.children[index] || null);
      card.className = "agent state-" + a.state + (a.reachable ? "" : " unreachable");
      card.dataset.since = a.state_since === null ? "" : String(a.state_since);
      card.querySelector(".name").textContent = a.name;
      card.querySelector(".state").textContent = L[a.state] || a.state;
      let detail = "";
      if (!a.reachable) detail = L.unreachable;
      else if (a.state === "paused") detail = a.pause_reason;
      else if (a.state === "on_call" || a.state === "ringing" || a.state === "wrap_up") {
        detail = [a.current_queue, a.caller].filter(Boolean).join(" · ");
      }
      card.querySelector(".detail").textContent = detail;
    });
    // Many agents: smaller cards (name, time, detail; the colour says the state)
    // so the whole floor fits on the TV.
    container.classList.toggle("dense", shown.length > 12);
    container.classList.toggle("denser", shown.length > 28);
    document.getElementById("no-agents").hidden = shown.length > 0;
  }

  // Between updates the clocks keep moving: longest waits, time in state.
  function tick() {
    const now = serverNow();
    try {
      document.getElementById("clock").textContent = new Intl.DateTimeFormat(cfg.lang, {
        timeZone: cfg.timezone,
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        hourCycle: "h23",
      }).format(new Date(now * 1000));
    } catch (e) {
      document.getElementById("clock").textContent = new Date(now * 1000).toLocaleTimeString();
    }
    if (snap) {
      for (const q of snap.queues) {
        const tile = tiles.get(q.name);
        if (!tile) continue;
        const longest = q.oldest_arrival === null ? null : Math.max(0, now - q.oldest_arrival);
        setCell(tile, "longest_wait_seconds", dur(longest), classify(longest, snap.thresholds.longest_wait_seconds));
      }
      for (const card of cards.values()) {
        const since = card.dataset.since;
        card.querySelector(".since").textContent = since ? dur(now - Number(since)) : "";
      }
    }
    updateBanner();
  }

  function updateBanner() {
    const banner = document.getElementById("banner");
    const connected = ws !== null && ws.readyState === WebSocket.OPEN && freshOnThisSocket;
    document.body.dataset.connected = connected ? "yes" : "no";
    const stale = !connected || !storeOk;
    document.body.classList.toggle("stale", stale && snap !== null);
    if (!stale) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    if (!snap) {
      banner.textContent = L.connecting;
      return;
    }
    const age = ageText((Date.now() - lastDataLocal) / 1000);
    banner.textContent = fmt(connected ? L.store_down : L.connection_lost, { age: age });
  }

  // --- optional sound when something turns red --------------------------------
  function alarm(redNow) {
    let fresh = false;
    for (const key of redNow) if (!redBefore.has(key)) fresh = true;
    redBefore.clear();
    for (const key of redNow) redBefore.add(key);
    if (!fresh || !cfg.sound_on_red) return;
    try {
      audio = audio || new AudioContext();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.6);
    } catch (e) {
      /* no audio on this screen: the colours still flash */
    }
  }
  if (cfg.sound_on_red) {
    // Browsers only play sound after a gesture: one press on the remote unlocks it.
    const button = document.getElementById("sound");
    button.hidden = false;
    button.addEventListener("click", () => {
      audio = audio || new AudioContext();
      audio.resume();
      button.hidden = true;
    });
  }

  // --- connection --------------------------------------------------------------
  function connect() {
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    for (const [k, v] of Object.entries(cfg.query)) url.searchParams.set(k, v);
    const sock = new WebSocket(url.toString());
    ws = sock;
    freshOnThisSocket = false;
    sock.onmessage = (event) => {
      if (ws !== sock) return;
      lastMessageLocal = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (message.type === "snapshot") {
        backoff = 500;
        render(message);
      } else if (message.type === "heartbeat") {
        storeOk = Boolean(message.ok);
        offset = message.at - Date.now() / 1000;
        updateBanner();
      }
    };
    sock.onopen = () => {
      lastMessageLocal = Date.now();
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      freshOnThisSocket = false;
      updateBanner();
      // Backoff with jitter so a room full of TVs does not reconnect in step.
      const delay = backoff * (0.75 + Math.random() * 0.5);
      backoff = Math.min(backoff * 2, 10000);
      setTimeout(connect, delay);
    };
  }

  setInterval(() => {
    // A socket that went quiet (no heartbeat for 20 s) is dead even if TCP
    // has not noticed: close it and reconnect.
    if (ws && ws.readyState === WebSocket.OPEN && Date.now() - lastMessageLocal > 20000) ws.close();
    tick();
  }, 1000);
  connect();
  tick();
})();
