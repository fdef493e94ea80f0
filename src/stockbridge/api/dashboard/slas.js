// Stockbridge service levels page: GET /v1/slas, read again every POLL_MS. The API key is
// the operations dashboard's (this tab's sessionStorage, or #key=...), sent to this hub only.
"use strict";

(() => {
  const POLL_MS = 5000;
  const Stockbridge = window.Stockbridge;
  const { keyItem: KEY_ITEM, takeKey, client, el, $ } = Stockbridge;
  const WORKFLOWS = {
    store_sale_to_channel: "Store sale reaches the channels",
    reservation_to_channel: "Reservation reaches the channels",
    return_to_erp: "Return posted to the ERP",
    ticket_to_erp: "Till ticket posted to the ERP",
    order_to_erp: "Online order posted to the ERP",
    canary: "Canary (test transaction) reaches the channels",
  };
  let apiKey = null;
  let timer = null;
  let refreshes = 0;

  const api = client(() => apiKey, "../v1/");

  function percent(ratio) {
    return ratio === null || ratio === undefined ? "–" : (ratio * 100).toFixed(1) + "%";
  }

  function seconds(s) {
    if (s < 120) return s + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    return Math.round(s / 3600) + " h";
  }

  function state(sla) {
    if (sla.breached) {
      const since = new Date(sla.breached_since);
      return el("span", { className: "badge bad" }, "In breach since " +
        since.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    }
    if (sla.compliance === null) return el("span", { className: "badge quiet" }, "No deliveries yet");
    if (!sla.meeting_objective) return el("span", { className: "badge warn" }, "Below objective");
    return el("span", { className: "badge good" }, "Meeting objective");
  }

  function render(report) {
    const body = $("slas-body");
    body.replaceChildren(...report.slas.map((sla) => el("tr", { "data-workflow": sla.workflow },
      el("td", {}, WORKFLOWS[sla.workflow] || sla.workflow),
      el("td", { "data-field": "state" }, state(sla)),
      el("td", { className: "num", "data-field": "compliance" }, percent(sla.compliance)),
      el("td", { className: "num" }, percent(sla.objective)),
      el("td", { className: "num" }, seconds(sla.target_seconds)),
      el("td", { className: "num", "data-field": "met" }, sla.met),
      el("td", { className: sla.missed ? "num hot" : "num", "data-field": "missed" }, sla.missed),
      el("td", { className: "num", "data-field": "waiting" }, sla.waiting),
      el("td", { className: "num" }, seconds(sla.window_seconds)))));
    const sum = (field) => report.slas.reduce((n, s) => n + s[field], 0);
    const breached = report.slas.filter((s) => s.breached).length;
    document.querySelector('[data-figure="breached"]').textContent = breached;
    document.querySelector('[data-figure="workflows"]').textContent = report.slas.length;
    document.querySelector('[data-figure="missed"]').textContent = sum("missed");
    document.querySelector('[data-figure="waiting"]').textContent = sum("waiting");
    $("tile-breaches").classList.toggle("alert", breached > 0);
    $("tile-missed").classList.toggle("alert", sum("missed") > 0);
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      render(await api("slas"));
      $("key-panel").hidden = true;
      $("board").hidden = false;
      refreshes += 1;
      document.body.dataset.state = "live";
      document.body.dataset.refreshes = String(refreshes);
      $("status").textContent = "Live · updated " + new Date().toLocaleTimeString();
      $("status").className = "status live";
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        askForKey("The hub refused this key (" + e.message + ")");
        return;
      }
      document.body.dataset.state = "offline";
      $("status").textContent = "Cannot reach the hub (" + e.message + "); retrying";
      $("status").className = "status offline";
    }
    timer = setTimeout(refresh, POLL_MS);
  }

  function askForKey(message) {
    clearTimeout(timer);
    apiKey = null;
    Stockbridge.askForKey(KEY_ITEM, "board", message);
  }

  Stockbridge.onKeyEntered(KEY_ITEM, (key) => {
    apiKey = key;
    refresh();
  });
  apiKey = takeKey().key;
  if (apiKey) refresh();
  else askForKey("");
})();
