// Stockbridge operations dashboard. Every figure comes from this hub's JSON API, read
// again every POLL_MS. The API key comes from the URL fragment (#key=...) or a form, is
// kept in this tab's sessionStorage, and is sent to this hub's own origin only.
"use strict";

(() => {
  const POLL_MS = 2000;
  const MAX_SKUS = 8;
  const DEFAULT_SKUS = 3;
  const SKUS_ITEM = "stockbridge.dashboard.skus";

  const Stockbridge = window.Stockbridge;
  const { keyItem: KEY_ITEM, reasonLabel, takeKey, client, ApiError, el, badge, setFigure, $ } =
    Stockbridge;

  let apiKey = null;
  let skus = [];
  const descriptions = new Map();
  let timer = null;
  let running = false;
  let again = false;
  let refreshes = 0;

  // --- the key and the chosen SKUs ------------------------------------------------------
  function takeFragment() {
    const taken = takeKey(KEY_ITEM, ["skus"]);
    if (taken.skus !== null) saveSkus(taken.skus.split(","));
    apiKey = taken.key;
    try {
      const saved = JSON.parse(localStorage.getItem(SKUS_ITEM) || "null");
      skus = Array.isArray(saved) ? saved.filter((s) => typeof s === "string") : [];
    } catch (_) {
      skus = [];
    }
  }

  function saveSkus(list) {
    const seen = [];
    for (const raw of list) {
      const sku = String(raw).trim();
      if (sku && !seen.includes(sku)) seen.push(sku);
    }
    skus = seen.slice(0, MAX_SKUS);
    localStorage.setItem(SKUS_ITEM, JSON.stringify(skus));
  }

  // --- the API --------------------------------------------------------------------------
  const api = client(() => apiKey);

  const enc = encodeURIComponent;

  async function loadSku(sku, channels) {
    try {
      const [positions, availability] = await Promise.all([
        api("v1/positions/" + enc(sku)),
        Promise.all(channels.map((c) => api("v1/availability/" + enc(c.name) + "/" + enc(sku)))),
      ]);
      return { sku, positions, availability };
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return { sku, missing: e.message };
      throw e;
    }
  }

  // --- formatting -----------------------------------------------------------------------
  function qty(value) {
    return value === null || value === undefined ? "–" : String(value);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    const [big, bigUnit, small, smallUnit] = s < 86400
      ? [Math.floor(s / 3600), " h", Math.floor((s % 3600) / 60), " min"]
      : [Math.floor(s / 86400), " d", Math.floor((s % 86400) / 3600), " h"];
    return big + bigUnit + (small ? " " + small + smallUnit : "");
  }

  function latency(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    return seconds.toFixed(seconds < 10 ? 2 : 1) + " s";
  }

  function clockTime(date) {
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  // --- DOM helpers ----------------------------------------------------------------------
  function cell(field, text, className) {
    return el("td", { "data-field": field, className: className || "num" }, text);
  }

  function emptyRow(columns, text) {
    return el("tr", { className: "none" }, el("td", { colspan: columns }, text));
  }

  function tone(tileId, alert) {
    $(tileId).classList.toggle("alert", Boolean(alert));
  }

  // --- rendering ------------------------------------------------------------------------
  function renderTiles(summary) {
    const loc = summary.locations;
    setFigure("locations-stale", qty(loc.stale));
    setFigure("locations-total", qty(loc.total));
    tone("tile-stores", loc.stale > 0);
    setFigure("exceptions-open", qty(summary.exceptions.open));
    tone("tile-exceptions", summary.exceptions.open > 0);
    setFigure("backlog", qty(summary.deliveries.backlog));
    tone("tile-backlog", summary.deliveries.targets.some((t) => t.paused || t.circuit === "open"));
    setFigure("dead-letters", qty(summary.deliveries.dead_letters));
    tone("tile-dead", summary.deliveries.dead_letters > 0);
    setFigure("latency-p50", latency(summary.propagation.p50_seconds));
    setFigure("latency-p99", latency(summary.propagation.p99_seconds));
    setFigure("latency-window", duration(summary.propagation.window_seconds));
  }

  const STATE_ORDER = { stale: 0, reporting: 1, unmonitored: 2 };
  const STATE_TEXT = {
    stale: ["Silent", "bad"],
    reporting: ["Reporting", "good"],
    unmonitored: ["No limit set", "quiet"],
  };

  function renderStores(locations) {
    const rows = [...locations.locations].sort(
      (a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.location.localeCompare(b.location),
    );
    $("stores-body").replaceChildren(
      ...(rows.length
        ? rows.map((r) => {
            const [text, mood] = STATE_TEXT[r.state] || [r.state, "quiet"];
            const heard = r.last_seen_at === null ? "never" : duration(r.silent_seconds) + " ago";
            return el(
              "tr",
              { "data-location": r.location, "data-state": r.state },
              el("td", { "data-field": "location" }, el("b", {}, r.location), r.name ? " " + r.name : ""),
              el("td", { "data-field": "state" }, badge(text, mood)),
              el("td", {
                "data-field": "last_heard",
                className: "num",
                title: r.last_seen_at ? r.last_seen_at + " via " + r.last_source : null,
              }, heard),
              cell("sla", r.freshness_sla_seconds === null ? "–" : duration(r.freshness_sla_seconds)),
            );
          })
        : [emptyRow(4, "No locations yet.")]),
    );
  }

  function targetState(t) {
    if (t.paused) return badge("Paused", "warn");
    if (t.circuit === "open") return badge("Failing: on hold", "bad");
    if (t.circuit === "half_open") return badge("Trying again", "warn");
    return badge("Sending", "good");
  }

  function renderTargets(deliveries) {
    $("targets-body").replaceChildren(
      ...(deliveries.targets.length
        ? deliveries.targets.map((t) =>
            el(
              "tr",
              { "data-target": t.name },
              el("td", { "data-field": "name" }, el("b", {}, t.name)),
              el("td", { "data-field": "state" }, targetState(t)),
              cell("backlog", qty(t.backlog)),
              cell("oldest", duration(t.oldest_age_seconds)),
              cell("dead_letters", qty(t.dead_letters), t.dead_letters > 0 ? "num hot" : "num"),
            ),
          )
        : [emptyRow(5, "No delivery targets configured.")]),
    );
  }

  function renderExceptions(exceptions) {
    $("exceptions-body").replaceChildren(
      ...(exceptions.by_reason.length
        ? exceptions.by_reason.map((r) =>
            el(
              "tr",
              { "data-reason": r.reason },
              el("td", { "data-field": "reason" }, reasonLabel(r.reason), " ",
                el("code", { className: "muted" }, r.reason)),
              cell("count", qty(r.count)),
              cell("oldest", duration(r.oldest_age_seconds)),
            ),
          )
        : [emptyRow(3, "Nothing waiting.")]),
    );
  }

  function latencyRow(name, figures, attrs) {
    return el(
      "tr",
      attrs,
      el("td", { "data-field": "target" }, name),
      cell("pushes", qty(figures.pushes)),
      cell("p50", latency(figures.p50_seconds)),
      cell("p99", latency(figures.p99_seconds)),
      cell("max", latency(figures.max_seconds)),
    );
  }

  function renderLatency(propagation) {
    const rows = propagation.targets.map((t) => latencyRow(t.target, t, { "data-target": t.target }));
    if (propagation.targets.length !== 1) {
      rows.push(latencyRow("All targets", propagation, { "data-target": "", className: "total" }));
    }
    $("latency-body").replaceChildren(
      ...(propagation.pushes ? rows : [emptyRow(5, "No stock updates delivered lately.")]),
    );
  }

  const STOCK_FIELDS = [
    ["on_hand", "On hand"],
    ["non_sellable", "Not sellable"],
    ["reserved", "Reserved"],
    ["in_transit", "On the way"],
    ["available", "Available"],
  ];

  function stockRow(label, values, attrs) {
    return el(
      "tr",
      attrs,
      el("td", { "data-field": "location" }, label),
      ...STOCK_FIELDS.map(([field]) => cell(field, qty(values[field]))),
    );
  }

  function channelTable(availability) {
    if (!availability.length) return el("p", { className: "empty" }, "No channels configured.");
    return el(
      "table",
      { className: "channels" },
      el("thead", {}, el("tr", {}, el("th", {}, "Channel"), el("th", { className: "num" }, "Can sell"),
        el("th", {}, "Notes"))),
      el(
        "tbody",
        {},
        availability.map((a) => {
          const silent = a.locations.filter((l) => l.stale).map((l) => l.location);
          return el(
            "tr",
            { "data-channel": a.channel },
            el("td", { "data-field": "channel" }, el("b", {}, a.channel)),
            cell("available", qty(a.available)),
            el("td", { "data-field": "notes", className: "muted" },
              silent.length ? "not counting silent " + silent.join(", ") : ""),
          );
        }),
      ),
    );
  }

  function skuCard(result) {
    const description = descriptions.get(result.sku);
    const head = el(
      "header",
      {},
      el("h3", {}, result.sku, description ? el("span", { className: "muted" }, " " + description) : null),
      el("button", { type: "button", className: "link", "data-remove-sku": result.sku,
        "aria-label": "Stop showing " + result.sku }, "Remove"),
    );
    if (result.missing) {
      return el("article", { className: "card", "data-sku": result.sku }, head,
        el("p", { className: "error" }, result.missing));
    }
    const p = result.positions;
    const locations = p.locations.length
      ? p.locations.map((v) => stockRow(v.location, v, { "data-location": v.location }))
      : [emptyRow(6, "No stock recorded anywhere yet.")];
    return el(
      "article",
      { className: "card", "data-sku": result.sku },
      head,
      el(
        "table",
        { className: "stock" },
        el("thead", {}, el("tr", {}, el("th", {}, "Location"),
          STOCK_FIELDS.map(([, label]) => el("th", { className: "num" }, label)))),
        el("tbody", {}, locations),
        el("tfoot", {}, stockRow("All locations", p.totals, { "data-location": "", className: "total" })),
      ),
      channelTable(result.availability),
    );
  }

  function renderStock(results) {
    $("sku-empty").hidden = results.length > 0;
    $("sku-cards").replaceChildren(...results.map(skuCard));
  }

  // --- the refresh loop -----------------------------------------------------------------
  async function loadOptions(query) {
    const path = "v1/dashboard/skus?limit=50" + (query ? "&q=" + enc(query) : "");
    const found = (await api(path)).skus;
    for (const s of found) descriptions.set(s.sku, s.description);
    $("sku-options").replaceChildren(
      ...found.map((s) => el("option", { value: s.sku }, s.description || "")),
    );
    return found;
  }

  async function refresh() {
    if (!apiKey) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    try {
      const [summary, channels] = await Promise.all([api("v1/dashboard/summary"), api("v1/channels")]);
      const chosen = [...skus];
      const stock = await Promise.all(chosen.map((s) => loadSku(s, channels.channels)));
      showBoard();
      renderTiles(summary);
      renderStores(summary.locations);
      renderTargets(summary.deliveries);
      renderExceptions(summary.exceptions);
      renderLatency(summary.propagation);
      renderStock(stock);
      refreshes += 1;
      document.body.dataset.state = "live";
      document.body.dataset.refreshes = String(refreshes);
      $("status").textContent = "Live · updated " + clockTime(new Date());
      $("status").className = "status live";
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        askForKey(e.status === 401 ? "The hub refused this key: " + e.message
          : "This key may not read the dashboard: " + e.message);
        return;
      }
      document.body.dataset.state = "offline";
      $("status").textContent = "Cannot reach the hub (" + e.message + "); retrying";
      $("status").className = "status offline";
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      refresh();
    } else if (apiKey) {
      timer = setTimeout(refresh, POLL_MS);
    }
  }

  // --- screens --------------------------------------------------------------------------
  function showBoard() {
    Stockbridge.showBoard("board");
  }

  function askForKey(message) {
    clearTimeout(timer);
    apiKey = null;
    Stockbridge.askForKey(KEY_ITEM, "board", message);
  }

  async function start() {
    if (!skus.length) {
      try {
        saveSkus((await loadOptions("")).slice(0, DEFAULT_SKUS).map((s) => s.sku));
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          askForKey("The hub refused this key: " + e.message);
          return;
        }
      }
    } else {
      loadOptions("").catch(() => {});
    }
    refresh();
  }

  function wire() {
    Stockbridge.onKeyEntered(KEY_ITEM, (key) => {
      apiKey = key;
      start();
    });
    $("forget-key").addEventListener("click", () => askForKey(""));
    $("sku-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const sku = $("sku-input").value.trim();
      if (!sku) return;
      saveSkus([sku, ...skus]);
      $("sku-input").value = "";
      refresh();
    });
    let typing = null;
    $("sku-input").addEventListener("input", () => {
      clearTimeout(typing);
      const query = $("sku-input").value.trim();
      typing = setTimeout(() => loadOptions(query).catch(() => {}), 250);
    });
    $("sku-cards").addEventListener("click", (event) => {
      const button = event.target.closest("[data-remove-sku]");
      if (!button) return;
      saveSkus(skus.filter((s) => s !== button.dataset.removeSku));
      refresh();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refresh();
    });
  }

  wire();
  takeFragment();
  if (apiKey) start();
  else askForKey("");
})();
