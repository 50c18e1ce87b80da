// TV wallboard client. Every value from the server is put on the page with
// textContent or as an SVG number attribute: never innerHTML, so a caller
// name such as "<script>..." is shown as text and stays inert.
(function () {
  "use strict";

  const cfg = JSON.parse(document.getElementById("wb-config").textContent);
  const L = cfg.labels;
  const SVG = "http://www.w3.org/2000/svg";
  const STATES = ["available", "ringing", "on_call", "wrap_up", "paused"];
  // A glyph per state, so a state never relies on colour alone.
  const GLYPH = {
    available: "✓",
    ringing: "☎",
    on_call: "◉",
    wrap_up: "✎",
    paused: "❚❚",
    logged_out: "–",
    phone_busy: "⊘",
    unreachable: "✕",
  };
  const LEVEL_MARK = { green: "●", amber: "▲", red: "■" };
  const TILE_LAYOUT_MAX = 3; // more queues: one compact row per queue
  const PAGE_SECONDS = 8; // agent pages rotate this often
  // [metric, label, format, level key] per place, from the snapshot's figure
  // registry (wallboard/figures.py): a new figure needs no change here.
  let BIG = [];
  let SMALL = [];
  let OUTCOMES = [];
  let ROW = [];
  let TOTALS = [];
  function setFigures(list) {
    const at = (place) =>
      list.filter((f) => f.places.includes(place)).map((f) => [f.name, f.label, f.format, f.level]);
    BIG = at("big");
    SMALL = at("small");
    OUTCOMES = at("outcomes");
    ROW = at("row");
    TOTALS = at("totals");
    live = new Set(list.filter((f) => f.live).map((f) => f.name));
  }

  let snap = null;
  let live = new Set(["waiting", "longest_wait_seconds", "expected_wait_seconds"]);
  let offset = 0; // server clock minus local clock, seconds
  let lastDataLocal = 0; // Date.now() when the last snapshot arrived
  let lastMessageLocal = 0;
  let ws = null;
  let freshOnThisSocket = false;
  let awaitingFull = false; // a gap in the deltas: waiting for the full board
  let storeOk = true;
  let backoff = 500;
  let reconnectTimer = null;
  let probing = false;
  let audio = null;
  let layout = "";
  let frozenAt = null; // server time the shown data stopped being live
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
  function num(x) {
    return x === null || x === undefined ? "—" : String(Math.round(x * 10) / 10);
  }
  const FORMAT = { dur: dur, pct: pct, count: count, num: num };
  function ageText(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return s < 120 ? s + " s" : Math.floor(s / 60) + " min";
  }
  function serverNow() {
    return Date.now() / 1000 + offset;
  }
  // The value as displayed decides the colour (as wallboard.snapshot.as_displayed).
  function displayed(metric, value) {
    if (metric === "service_level" || metric === "service_level_hour" || metric === "abandon_rate")
      return Math.floor(value * 100 + 0.5) / 100;
    return Math.floor(value);
  }
  function classify(metric, value, t) {
    if (value === null || value === undefined || !t) return null;
    const v = displayed(metric, value);
    // Limits are inclusive, as in acd.config.Threshold.level.
    if (t.higher_is_better) return v <= t.red ? "red" : v <= t.amber ? "amber" : "green";
    return v >= t.red ? "red" : v >= t.amber ? "amber" : "green";
  }

  // --- DOM building ----------------------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function cell(tag, metric, labelKey, withLabel) {
    const c = el(tag, "cell");
    c.dataset.metric = metric;
    const value = el("div", "value");
    value.append(el("span", "mark"), el("span", "main", "—"));
    if (metric === "abandoned") value.append(el("span", "sub"));
    c.append(value);
    if (withLabel) c.append(el("div", "label", L[labelKey]));
    return c;
  }
  function sparkline() {
    const wrap = el("div", "trend");
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 960 100");
    svg.setAttribute("preserveAspectRatio", "none");
    wrap.append(svg);
    return wrap;
  }
  function chips() {
    const box = el("div", "chips");
    const logged = el("span", "chip");
    logged.dataset.state = "logged_in";
    logged.append(el("b", null, "0"), el("span", "chip-label", L.logged_in));
    box.append(logged);
    for (const state of STATES) {
      const chip = el("span", "chip chip-" + state);
      chip.dataset.state = state;
      chip.append(el("span", "glyph", GLYPH[state]), el("b", null, "0"), el("span", "chip-label", L[state]));
      box.append(chip);
    }
    return box;
  }
  function buildTile(q) {
    const tile = el("article", "tile");
    tile.dataset.queue = q.name;
    const head = el("header", "tile-head");
    const title = el("h2", "qname");
    title.dir = "auto";
    // The next caller sits in the head, beside the name, and the target with
    // the service-level chart: a line saved for figures.
    head.append(title, el("div", "next"));
    const big = el("div", "big");
    for (const [metric, key] of BIG) big.append(cell("div", metric, key, true));
    const small = el("div", "small");
    for (const [metric, key] of SMALL) small.append(cell("div", metric, key, true));
    const outcomes = el("div", "outcomes");
    for (const [metric, key] of OUTCOMES) outcomes.append(cell("div", metric, key, true));
    const spark = sparkline();
    const label = el("div", "spark-label", L.sparkline + " · "); // over the chart's top corner
    label.append(el("span", "target"));
    spark.prepend(label);
    spark.append(el("div", "axis"));
    tile.append(head, big, spark, small, outcomes, chips());
    return tile;
  }
  function buildRow(q) {
    const row = el("tr", "qrow");
    row.dataset.queue = q.name;
    const name = el("th", "qname");
    name.scope = "row";
    const title = el("bdi", "qtitle");
    name.append(title);
    row.append(name);
    for (const [metric, key] of ROW) row.append(cell("td", metric, key, false));
    const agents = el("td", "qagents");
    agents.append(chips());
    const trend = el("td", "qtrend");
    trend.append(sparkline());
    row.append(agents, trend);
    return row;
  }
  function buildTable() {
    const table = el("table", "qtable");
    const head = el("thead");
    const tr = el("tr");
    tr.append(el("th", "h-queue", L.queue));
    for (const [, key] of ROW) tr.append(el("th", null, L[key]));
    tr.append(el("th", null, L.agents), el("th", null, L.trend));
    head.append(tr);
    table.append(head, el("tbody"));
    return table;
  }
  // A value never overflows its box: when it would ("10:00:00", a 5-digit
  // count with its percentage), its font shrinks until it fits. Labels wrap
  // between words only; one word wider than its box ("Przewidywane") shrinks.
  function fit(node) {
    node.style.fontSize = "";
    if (node.clientWidth === 0 || node.scrollWidth <= node.clientWidth) return;
    let size = parseFloat(getComputedStyle(node).fontSize);
    for (let i = 0; i < 6 && node.scrollWidth > node.clientWidth; i++) {
      size = Math.floor(size * Math.max(0.5, (node.clientWidth / node.scrollWidth) * 0.97));
      node.style.fontSize = size + "px";
    }
  }
  // The tiles' outcome strip (callbacks, resolution, CSAT) is one line: when
  // its labels do not fit beside their figures they shrink together, so no
  // single long word ends up tiny. The figures keep their size.
  function fitStrip(strip) {
    if (!strip) return;
    const labels = Array.from(strip.querySelectorAll(".label"));
    if (!labels.length) return;
    for (const l of labels) l.style.fontSize = "";
    const base = parseFloat(getComputedStyle(labels[0]).fontSize);
    let scale = 1;
    while (scale > 0.5 && labels.some((l) => l.scrollWidth > l.clientWidth + 1)) {
      scale *= 0.92;
      for (const l of labels) l.style.fontSize = (base * scale).toFixed(1) + "px";
    }
  }
  function setCell(scope, metric, text, level, sub) {
    const c = scope.querySelector('[data-metric="' + metric + '"]');
    if (!c) return;
    const mark = level && level !== "green" ? LEVEL_MARK[level] : "";
    const main = c.querySelector(".main");
    const subNode = c.querySelector(".sub");
    const changed = main.textContent !== text || c.querySelector(".mark").textContent !== mark ||
      (sub !== undefined && subNode.textContent !== sub);
    main.textContent = text;
    if (sub !== undefined) subNode.textContent = sub;
    c.querySelector(".mark").textContent = mark;
    c.classList.remove("level-green", "level-amber", "level-red", "live");
    if (level) c.classList.add("level-" + level);
    if (level === "red" && live.has(metric)) c.classList.add("live"); // only live figures flash
    if (changed || c.dataset.fitted !== "1") {
      fit(c.querySelector(".value"));
      const label = c.querySelector(".label");
      // a word too long for its box shrinks (the outcome strip's labels shrink together)
      if (label && c.dataset.fitted !== "1" && !c.closest(".outcomes")) fit(label);
      c.dataset.fitted = "1";
    }
  }
  function fill(scope, spec, q, levels) {
    for (const [metric, , format, levelKey] of spec) {
      const value = q[metric];
      const sub = metric === "abandoned" ? pct(q.abandon_rate) : undefined;
      if (metric === "longest_wait_seconds") continue; // ticks: see tick()
      setCell(scope, metric, FORMAT[format](value), levelKey ? levels[levelKey] : null, sub);
    }
  }

  function drawSpark(wrap, q, minCalls, withAxis) {
    const svg = wrap.querySelector("svg");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const values = q.series.service_level;
    const calls = q.series.calls || [];
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
    for (const hour of [6, 12, 18]) {
      const tickLine = document.createElementNS(SVG, "line");
      tickLine.setAttribute("class", "tick");
      tickLine.setAttribute("x1", String((hour / 24) * 960));
      tickLine.setAttribute("x2", String((hour / 24) * 960));
      tickLine.setAttribute("y1", "0");
      tickLine.setAttribute("y2", "100");
      svg.append(tickLine);
    }
    const goal = (q.thresholds || {}).service_level;
    if (goal) {
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("class", "goal");
      line.setAttribute("x1", "0");
      line.setAttribute("x2", "960");
      line.setAttribute("y1", String(y(goal.amber)));
      line.setAttribute("y2", String(y(goal.amber)));
      svg.append(line);
    }
    // Intervals with too few calls are gaps, not 0 % or 100 % spikes.
    const shown = values.map((v, i) => (v === null || (calls[i] !== undefined && calls[i] < minCalls) ? null : v));
    let d = "";
    let pen = false;
    shown.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1) + " ";
      if (!pen && (i + 1 >= shown.length || shown[i + 1] === null)) d += "l0.1 0 ";
      pen = true;
    });
    if (d) {
      const path = document.createElementNS(SVG, "path");
      const level = (q.levels || {}).service_level;
      path.setAttribute("class", "line" + (level ? " level-" + level : ""));
      path.setAttribute("d", d.trim());
      svg.append(path);
    }
    const axis = wrap.querySelector(".axis");
    if (withAxis && axis && !axis.childElementCount) {
      for (const hour of [0, 6, 12, 18, 24]) {
        const label = el("span", null, String(hour).padStart(2, "0") + ":00");
        label.style.insetInlineStart = (hour / 24) * 100 + "%";
        axis.append(label);
      }
    }
  }

  function chipCounts(scope, counts) {
    for (const chip of scope.querySelectorAll(".chip")) {
      chip.querySelector("b").textContent = String(counts[chip.dataset.state] || 0);
    }
  }

  // --- live deltas (wallboard/delta.py) ------------------------------------------
  // A new snapshot object: changed top-level fields replaced, changed queue
  // fields merged by name, changed agents replaced by id.
  function applyDelta(base, d) {
    const next = Object.assign({}, base, d.set || {});
    next.generated_at = d.generated_at;
    next.last_change_at = d.last_change_at;
    next.version = d.version;
    const queueChanges = new Map((d.queues || []).map((q) => [q.name, q]));
    next.queues = base.queues.map((q) => (queueChanges.has(q.name) ? Object.assign({}, q, queueChanges.get(q.name)) : q));
    const agentChanges = new Map((d.agents || []).map((a) => [a.id, a]));
    next.agents = base.agents.map((a) => agentChanges.get(a.id) || a);
    return next;
  }

  // --- rendering -------------------------------------------------------------
  function render(s) {
    snap = s;
    offset = s.generated_at - Date.now() / 1000;
    lastDataLocal = Date.now();
    frozenAt = null;
    freshOnThisSocket = true;
    storeOk = true;
    if (s.metrics) setFigures(s.metrics);
    document.body.dataset.generatedAt = String(s.generated_at);
    document.body.dataset.version = String(s.version);
    if (s.board && s.board.title) document.getElementById("board-title").textContent = s.board.title;

    // The formula, with the targets it uses (one per distinct target).
    const variantKey = "variant_" + s.service_level_variant;
    const targets = [...new Set(s.queues.map((q) => q.service_level_target_seconds + "/" + q.short_abandon_seconds))];
    document.getElementById("variant").textContent =
      targets.length === 1
        ? fmt(L[variantKey] || L.variant_default, { t: targets[0].split("/")[0], s: targets[0].split("/")[1] })
        : fmt(L[variantKey + "_each"] || L.variant_default_each, {});

    const wanted = s.queues.length <= TILE_LAYOUT_MAX ? "tiles" : "table";
    const container = document.getElementById("queues");
    if (wanted !== layout) {
      layout = wanted;
      document.body.dataset.layout = layout;
      container.textContent = "";
      tiles.clear();
      if (layout === "table") container.append(buildTable());
    }
    document.body.dataset.queues = String(s.queues.length);
    const holder = layout === "table" ? container.querySelector("tbody") : container;
    const names = new Set(s.queues.map((q) => q.name));
    for (const [name, node] of tiles) {
      if (!names.has(name)) {
        node.remove();
        tiles.delete(name);
      }
    }
    const redNow = new Set();
    s.queues.forEach((q, index) => {
      let node = tiles.get(q.name);
      if (!node) {
        node = layout === "table" ? buildRow(q) : buildTile(q);
        tiles.set(q.name, node);
      }
      if (holder.children[index] !== node) holder.insertBefore(node, holder.children[index] || null);
      const lv = q.levels || {};
      const title = layout === "table" ? node.querySelector(".qtitle") : node.querySelector(".qname");
      title.textContent = q.display_name || q.name;
      const target = node.querySelector(".target");
      if (target) target.textContent = fmt(L.target, { t: q.service_level_target_seconds });
      fill(node, layout === "table" ? ROW : BIG.concat(SMALL, OUTCOMES), q, lv);
      chipCounts(node, q.agents);
      fitStrip(node.querySelector(".outcomes"));
      const next = node.querySelector(".next");
      if (next) {
        next.textContent = "";
        if (q.longest_waiting_caller) {
          next.append(L.next_caller + ": ");
          const who = el("bdi", null, q.longest_waiting_caller);
          next.append(who);
        }
      }
      drawSpark(node.querySelector(".trend"), q, s.min_trend_calls || 3, layout === "tiles");
      for (const [metric, level] of Object.entries(lv)) {
        if (level === "red" && live.has(metric)) redNow.add(q.name + "/" + metric);
      }
    });
    renderTotals(s);
    renderAgents(s.agents);
    tick();
    fitTable();
    alarm(redNow);
  }

  // Safety net for very long names or counts: the table never runs off the screen.
  function fitTable() {
    if (layout !== "table") return;
    const container = document.getElementById("queues");
    const table = container.querySelector("table");
    table.style.zoom = "";
    const width = table.getBoundingClientRect().width;
    if (width > container.clientWidth) table.style.zoom = String((container.clientWidth / width) * 0.99);
  }

  function renderTotals(s) {
    // The whole floor's agent states, named once next to the cards.
    const head = document.getElementById("agents-states");
    if (!head.childElementCount) head.append(chips());
    if (s.totals) chipCounts(head, s.totals.agents);
    const box = document.getElementById("totals");
    box.hidden = s.queues.length < 2 || !s.totals;
    if (box.hidden) return;
    if (!box.childElementCount) {
      box.append(el("span", "totals-title", L.totals));
      for (const [metric, key] of TOTALS) box.append(cell("div", metric, key, true));
    }
    fill(box, TOTALS, s.totals, s.totals.levels || {});
  }

  function agentDetail(a) {
    if (!a.reachable) return L.unreachable;
    if (a.phone_busy) return L.phone_busy;
    if (a.state === "paused") return a.pause_reason;
    if (a.state === "on_call" || a.state === "ringing" || a.state === "wrap_up") {
      const queue = snap && snap.queues.find((q) => q.name === a.current_queue);
      return [queue ? queue.display_name : a.current_queue, a.caller].filter(Boolean).join(" · ");
    }
    return "";
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
        const top = el("div", "row");
        const name = el("span", "name");
        name.dir = "auto"; // a Latin name in an Arabic board is cut at its own end
        top.append(el("span", "glyph"), name);
        const bottom = el("div", "row row2");
        const detail = el("span", "detail");
        detail.dir = "auto";
        bottom.append(el("span", "state"), detail, el("span", "pending"), el("span", "since"));
        card.append(top, bottom);
        cards.set(a.id, card);
      }
      if (container.children[index] !== card) container.insertBefore(card, container.children[index] || null);
      const shownState = !a.reachable ? "unreachable" : a.phone_busy ? "phone_busy" : a.state;
      card.className = "agent state-" + a.state + (a.reachable ? "" : " unreachable") + (a.phone_busy ? " phone-busy" : "");
      card.dataset.state = shownState;
      card.dataset.since = a.state_since === null ? "" : String(a.state_since);
      card.querySelector(".glyph").textContent = GLYPH[shownState] || "";
      card.querySelector(".name").textContent = a.name;
      card.querySelector(".state").textContent = L[shownState] || a.state;
      // A pending pause or logout takes the detail's place: it is what the
      // supervisor needs to know about this agent next.
      const pending = a.pending === "pause" ? L.pending_pause : a.pending === "logout" ? L.pending_logout : "";
      card.querySelector(".detail").textContent = pending ? "" : agentDetail(a);
      card.querySelector(".pending").textContent = pending;
      card.dataset.pending = a.pending || "";
    });
    document.getElementById("agents-title").textContent = L.agents;
    document.getElementById("no-agents").hidden = shown.length > 0;
    paginate();
  }

  // Cards that do not fit are never cut off: they go on pages that rotate,
  // with "page 2/3" on screen.
  function paginate() {
    const container = document.getElementById("agents");
    const all = [...container.children];
    const density = all.length > 24 ? "compact" : "roomy";
    container.dataset.density = density;
    for (const card of all) card.hidden = false;
    const indicator = document.getElementById("agents-page");
    if (!all.length) {
      indicator.hidden = true;
      return;
    }
    const style = getComputedStyle(container);
    const columns = Math.max(1, style.gridTemplateColumns.split(" ").filter(Boolean).length);
    const gap = parseFloat(style.rowGap) || 0;
    const cardHeight = all[0].getBoundingClientRect().height;
    const room = container.clientHeight;
    const rows = Math.max(1, Math.floor((room + gap) / (cardHeight + gap)));
    const perPage = columns * rows;
    const pages = Math.max(1, Math.ceil(all.length / perPage));
    const pageIndex = pages > 1 ? Math.floor(Date.now() / 1000 / PAGE_SECONDS) % pages : 0;
    all.forEach((card, i) => {
      card.hidden = Math.floor(i / perPage) !== pageIndex;
      if (!card.hidden && card.dataset.pending) fit(card.querySelector(".pending"));
    });
    indicator.hidden = pages < 2;
    indicator.textContent = fmt(L.page, { n: pageIndex + 1, m: pages });
    container.dataset.pages = String(pages);
    container.dataset.perPage = String(perPage);
    container.dataset.page = String(pageIndex + 1);
  }

  // Between updates the clocks keep moving: longest waits, time in state.
  // While the data is stale they stop: a frozen figure must not look live.
  function tick() {
    const now = serverNow();
    const clock = document.getElementById("clock");
    const date = document.getElementById("date");
    try {
      clock.textContent = new Intl.DateTimeFormat(cfg.lang, {
        timeZone: cfg.timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
      }).format(new Date(now * 1000));
      date.textContent =
        new Intl.DateTimeFormat(cfg.lang, {
          timeZone: cfg.timezone, weekday: "short", day: "numeric", month: "short", year: "numeric",
        }).format(new Date(now * 1000)) + " · " + cfg.timezone;
    } catch (e) {
      clock.textContent = new Date(now * 1000).toLocaleTimeString();
      date.textContent = new Date(now * 1000).toLocaleDateString();
    }
    updateBanner();
    if (snap) {
      const at = frozenAt === null ? now : frozenAt;
      for (const q of snap.queues) {
        const node = tiles.get(q.name);
        if (!node) continue;
        const longest = q.oldest_arrival === null ? null : Math.max(0, at - q.oldest_arrival);
        const t = (q.thresholds || snap.thresholds || {}).longest_wait_seconds;
        setCell(node, "longest_wait_seconds", dur(longest), classify("longest_wait_seconds", longest, t));
      }
      const totals = document.getElementById("totals");
      if (!totals.hidden && snap.totals) {
        const oldest = snap.totals.oldest_arrival;
        setCell(totals, "longest_wait_seconds", dur(oldest === null || oldest === undefined ? null : Math.max(0, at - oldest)), null);
      }
      const limits = snap.limits || {};
      for (const card of cards.values()) {
        const since = card.dataset.since;
        const inState = since ? at - Number(since) : null;
        card.querySelector(".since").textContent = inState === null ? "" : dur(inState);
        const state = card.classList.contains("state-paused") ? "paused" : card.classList.contains("state-wrap_up") ? "wrap_up" : "";
        const over = Boolean(state && limits[state] && inState !== null && inState >= limits[state]);
        card.classList.toggle("over-limit", over);
        if (over) card.querySelector(".glyph").textContent = "⚠";
        else card.querySelector(".glyph").textContent = GLYPH[card.dataset.state] || "";
      }
      paginate();
    }
  }

  function updateBanner() {
    const banner = document.getElementById("banner");
    const connected = ws !== null && ws.readyState === WebSocket.OPEN && freshOnThisSocket;
    document.body.dataset.connected = connected ? "yes" : "no";
    const stale = !connected || !storeOk;
    document.body.classList.toggle("stale", stale && snap !== null);
    if (stale && snap !== null && frozenAt === null) frozenAt = lastDataLocal / 1000 + offset;
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

  // --- optional sound when a live figure turns red ------------------------------
  function alarm(redNow) {
    let fresh = false;
    for (const key of redNow) if (!redBefore.has(key)) fresh = true;
    redBefore.clear();
    for (const key of redNow) redBefore.add(key);
    document.body.dataset.alarms = String(redNow.size);
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
      document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
    } catch (e) {
      /* no audio on this screen: the live figure still flashes */
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
  function withQuery(path) {
    const url = new URL(path, location.href);
    for (const [k, v] of Object.entries(cfg.query)) url.searchParams.set(k, v);
    return url;
  }
  function connect() {
    if (reconnectTimer !== null) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
    }
    if (ws !== null) return;
    const url = withQuery("ws");
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const sock = new WebSocket(url.toString());
    ws = sock;
    freshOnThisSocket = false;
    awaitingFull = false; // the server sends the full board first
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
        awaitingFull = false;
        render(message);
      } else if (message.type === "delta") {
        // A delta applies only to the version on screen; after a gap the
        // whole board is asked for again (deltas meanwhile are ignored).
        if (awaitingFull) return;
        if (!snap || snap.version !== message.base) {
          awaitingFull = true;
          document.body.dataset.resyncs = String(Number(document.body.dataset.resyncs || 0) + 1);
          sock.send(JSON.stringify({ type: "resync" }));
          return;
        }
        render(applyDelta(snap, message));
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
      // Backoff with jitter so a room full of TVs does not reconnect in step;
      // meanwhile /healthz is probed every second, so a server that is back
      // is noticed at once rather than at the end of the backoff.
      const delay = backoff * (0.75 + Math.random() * 0.5);
      backoff = Math.min(backoff * 2, 10000);
      reconnectTimer = setTimeout(connect, delay);
    };
  }
  function probe() {
    if (ws !== null || probing) return;
    probing = true;
    fetch(withQuery("healthz").toString(), { cache: "no-store" })
      .then(() => {
        // Any HTTP answer (even 503: Redis down) means the server is up.
        if (ws === null) connect();
      })
      .catch(() => {})
      .finally(() => {
        probing = false;
      });
  }

  setInterval(() => {
    // A socket that went quiet (no heartbeat for 20 s) is dead even if TCP
    // has not noticed: close it and reconnect.
    if (ws && ws.readyState === WebSocket.OPEN && Date.now() - lastMessageLocal > 20000) ws.close();
    if (ws === null) probe();
    tick();
  }, 1000);
  window.addEventListener("resize", () => {
    for (const c of document.querySelectorAll(".cell")) c.dataset.fitted = "";
    if (snap) render(snap);
  });
  connect();
  tick();
})();
