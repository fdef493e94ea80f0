// Stockbridge trace page: one ticket, order, event or correlation id followed through
// GET /v1/trace. Shares the operations dashboard's key (this tab's sessionStorage) and
// sends it to this hub's own origin only. Everything is written with textContent.
"use strict";

(() => {
  const { keyItem: KEY_ITEM, takeKey, client, $ } = window.Stockbridge;
  const LOOKUPS = {
    ticket: { scope: "Source", id: "Ticket number", params: (s, v) => ({ source: s, ticket: v }) },
    order: { scope: "Channel", id: "Order id", params: (s, v) => ({ channel: s, order: v }) },
    event: { scope: "Source", id: "Event id", params: (s, v) => ({ source: s, event_id: v }) },
    correlation: { scope: null, id: "Correlation id", params: null },
  };
  let apiKey = takeKey().key;

  function status(text, offline) {
    $("status").textContent = text;
    $("status").className = "status" + (offline ? " offline" : "");
  }

  const api = client(() => apiKey);

  function ms(value) {
    if (value === null || value === undefined) return "–";
    if (value < 1000) return Math.round(value) + " ms";
    const s = value / 1000;
    if (s < 120) return s.toFixed(1) + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "–";
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "–" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function effects(event) {
    return event.effects.map((e) => {
      const parts = [];
      if (Number(e.on_hand_delta)) parts.push("on hand " + signed(e.on_hand_delta));
      if (Number(e.in_transit_delta)) parts.push("in transit " + signed(e.in_transit_delta));
      const moved = parts.length ? parts.join(", ") : "nothing";
      return e.location + ": " + moved + (e.superseded_by_count ? " (a later count rules)" : "");
    }).join("; ");
  }

  function signed(value) {
    return Number(value) > 0 ? "+" + value : String(value);
  }

  function attempts(delivery) {
    if (!delivery.attempts.length) return "none yet";
    return delivery.attempts.map((a) =>
      (a.status === null ? "no answer" : a.status) + " " + a.verdict + " in " + ms(a.duration_ms) +
      (a.error ? " (" + a.error + ")" : "")).join(" · ");
  }

  function show(trace) {
    document.querySelector('[data-figure="correlation-id"]').textContent = trace.correlation_id;
    document.querySelector('[data-figure="trace-id"]').textContent = trace.trace_id;
    const waiting = trace.deliveries.filter((d) => d.state !== "delivered").length;
    document.querySelector('[data-figure="completeness"]').textContent =
      (trace.complete ? "every delivery accepted" : waiting + " delivery(ies) not accepted yet") +
      (trace.truncated ? " · only the first 500 shown" : "");
    const events = $("events-body");
    events.replaceChildren();
    for (const e of trace.events) {
      const row = document.createElement("tr");
      cell(row, when(e.occurred_at));
      cell(row, e.source);
      cell(row, e.event_id);
      cell(row, e.type);
      cell(row, e.sku);
      cell(row, e.location);
      cell(row, e.quantity, "num");
      cell(row, effects(e));
      cell(row, ms(e.occurred_to_recorded_ms), "num");
      events.appendChild(row);
    }
    const deliveries = $("deliveries-body");
    deliveries.replaceChildren();
    for (const d of trace.deliveries) {
      const row = document.createElement("tr");
      row.dataset.state = d.state;
      cell(row, d.target);
      cell(row, d.kind + " " + d.key);
      cell(row, d.state);
      cell(row, ms(d.recorded_to_queued_ms), "num");
      cell(row, ms(d.queued_to_delivered_ms), "num");
      cell(row, ms(d.occurred_to_delivered_ms), "num");
      cell(row, attempts(d));
      deliveries.appendChild(row);
    }
    $("result").hidden = false;
  }

  function path(by, scope, id) {
    const lookup = LOOKUPS[by];
    // The page lives at /dashboard/trace; the API at /v1.
    if (!lookup.params) return "../v1/trace/" + encodeURIComponent(id);
    return "../v1/trace?" + new URLSearchParams(lookup.params(scope, id)).toString();
  }

  function relabel() {
    const lookup = LOOKUPS[$("trace-by").value];
    $("trace-scope").hidden = $("trace-scope-label").hidden = lookup.scope === null;
    $("trace-scope").required = lookup.scope !== null;
    $("trace-scope-label").textContent = lookup.scope || "";
    $("trace-id-label").textContent = lookup.id;
  }

  async function find(event) {
    event.preventDefault();
    const by = $("trace-by").value;
    const scope = $("trace-scope").value.trim();
    const id = $("trace-id").value.trim();
    $("trace-error").hidden = true;
    status("Looking…");
    try {
      show(await api(path(by, scope, id)));
      document.body.dataset.state = "found";
      status("Found");
    } catch (e) {
      if (e.status === 401 || e.status === 403) return askKey(e.message);
      $("result").hidden = true;
      $("trace-error").textContent = e.message;
      $("trace-error").hidden = false;
      document.body.dataset.state = "not-found";
      status(e.status === 404 ? "Nothing found" : "Failed", e.status !== 404);
    }
  }

  function askKey(why) {
    $("board").hidden = true;
    $("key-panel").hidden = false;
    document.body.dataset.state = "needs-key";
    status(why || "An API key is needed", Boolean(why));
  }

  function ready() {
    $("key-panel").hidden = true;
    $("board").hidden = false;
    document.body.dataset.state = "ready";
    status("Ready");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("trace-by").addEventListener("change", relabel);
    $("trace-form").addEventListener("submit", find);
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      apiKey = $("key-input").value.trim();
      sessionStorage.setItem(KEY_ITEM, apiKey);
      ready();
    });
    relabel();
    if (apiKey) ready();
    else askKey();
  });
})();
