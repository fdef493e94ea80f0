// What every Stockbridge dashboard page shares: the exception reasons in plain words, the
// API key (taken from #key=... into this tab's sessionStorage, never left in the URL), the
// same-origin API client and a small DOM builder. Loaded before each page's own script;
// everything is on window.Stockbridge.
"use strict";

window.Stockbridge = (() => {
  // The session storage item the overview, trace, service levels and reconciliation pages share.
  const KEY_ITEM = "stockbridge.dashboard.key";

  // One label per domain Reason (src/stockbridge/domain/errors.py); a test keeps them in step.
  const reasons = Object.freeze({
    invalid_event: "Malformed message from a system",
    unknown_sku: "Unknown item code",
    unknown_location: "Unknown store or site code",
    unknown_uom: "Unknown unit of measure",
    bad_quantity: "Quantity with too many decimals",
    conflicting_duplicate: "Same message sent twice with different content",
    target_rejected: "Refused by a receiving system",
    price_mismatch: "Price differs from the price in force",
    invalid_ticket: "Malformed till ticket",
    unbalanced_ticket: "Till ticket does not balance",
    invalid_order: "Order, shipment or cancellation for no such order",
    over_fulfilment: "More shipped than ordered",
    over_cancellation: "More cancelled than open",
    invalid_return: "Malformed return",
    over_grading: "More graded than returned",
    invalid_transfer: "Transfer step that cannot apply",
    over_shipment: "More shipped than ordered on a transfer",
    over_receipt: "More received than shipped",
    short_receipt: "Less received than shipped",
    reconciliation_drift: "Another system's stock differs from the hub's",
    edi_rejected: "Warehouse EDI file refused",
    edi_ack_overdue: "Warehouse has not acknowledged an EDI file",
    sla_breach: "Updates reaching systems too late (service level missed)",
  });

  // A code this page does not know yet (a newer hub) is shown as itself.
  function reasonLabel(code) {
    return Object.hasOwn(reasons, code) ? reasons[code] : code;
  }

  // Moves #key=... (and the other fragment parameters named) out of the URL: the key must
  // not stay in the address bar, the history or a bookmark. Returns the key now kept in
  // `item` and each other parameter's value (null when absent).
  function takeKey(item = KEY_ITEM, others = []) {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const key = params.get("key");
    const taken = {};
    for (const name of others) taken[name] = params.get(name);
    if (key) sessionStorage.setItem(item, key);
    if (key || others.some((name) => taken[name] !== null)) {
      for (const name of ["key", ...others]) params.delete(name);
      const rest = params.toString();
      history.replaceState(null, "", window.location.pathname + window.location.search +
        (rest ? "#" + rest : ""));
    }
    return { ...taken, key: sessionStorage.getItem(item) };
  }

  // A refusal from the hub: its HTTP status, and the problem+json detail as the message.
  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || "HTTP " + status);
      this.status = status;
    }
  }

  // Returns api(path, body?): GET, or POST of `body` as JSON, to `base + path` resolved
  // against the page. It sends keyOf()'s key to this origin only, with no cookies, no cache
  // and no redirects, and throws ApiError for any answer but a 2xx.
  function client(keyOf, base = "") {
    return async function api(path, body) {
      const url = new URL(base + path, document.baseURI);
      if (url.origin !== window.location.origin) throw new Error("refusing to call " + url.origin);
      const headers = { Authorization: "Bearer " + keyOf(), Accept: "application/json" };
      const init = { headers, credentials: "omit", cache: "no-store", redirect: "error" };
      if (body !== undefined) {
        init.method = "POST";
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const response = await fetch(url, init);
      if (!response.ok) {
        let problem = null;
        try {
          problem = await response.json();
        } catch (_) {
          problem = null;
        }
        throw new ApiError(response.status, problem);
      }
      return response.json();
    };
  }

  // el("td", {className: "num", "data-field": "x"}, child, ...): text children are text nodes
  // (never parsed as HTML); null, undefined and false attributes or children are left out.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function badge(text, tone) {
    return el("span", { className: "badge " + tone }, text);
  }

  // Writes `text` into every [data-figure=name] on the page.
  function setFigure(name, text) {
    for (const node of document.querySelectorAll('[data-figure="' + name + '"]')) {
      node.textContent = text;
    }
  }

  const $ = (id) => document.getElementById(id);

  // The key panel in place of the page's `board`, saying why the last key failed if it did.
  function askForKey(item, board, message) {
    sessionStorage.removeItem(item);
    document.body.dataset.state = "needs-key";
    $(board).hidden = true;
    if ($("forget-key")) $("forget-key").hidden = true;
    $("key-panel").hidden = false;
    $("key-error").hidden = !message;
    $("key-error").textContent = message || "";
    $("status").textContent = "Waiting for an API key";
    $("status").className = "status";
    $("key-input").focus();
  }

  function showBoard(board) {
    $("key-panel").hidden = true;
    $(board).hidden = false;
    if ($("forget-key")) $("forget-key").hidden = false;
  }

  // Calls use(key) with each key typed into the key form, once it is kept under `item`.
  function onKeyEntered(item, use) {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key-input").value.trim();
      if (!key) return;
      sessionStorage.setItem(item, key);
      $("key-input").value = "";
      use(key);
    });
  }

  return Object.freeze({
    keyItem: KEY_ITEM,
    reasons,
    reasonLabel,
    takeKey,
    ApiError,
    client,
    el,
    badge,
    setFigure,
    $,
    askForKey,
    showBoard,
    onKeyEntered,
  });
})();
