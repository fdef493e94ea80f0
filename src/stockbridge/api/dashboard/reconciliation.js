// Stockbridge reconciliation page: each system's latest run and its differences, read from
// this hub's API every POLL_MS. The API key is the operations dashboard's (this tab's
// sessionStorage), sent to this hub's own origin only.
"use strict";

(() => {
  const POLL_MS = 10000;
  const { keyItem: KEY_ITEM, takeKey, client, ApiError, $ } = window.Stockbridge;
  const CAUSES = { drift: "Drift", in_flight: "In flight", mapping_missing: "No mapping" };
  const ACTIONS = {
    none: "—",
    pushed: "Hub value sent again",
    exception: "Waiting in exceptions",
    counted: "Taken as a count",
  };
  let apiKey = takeKey().key;

  const api = client(() => apiKey, "../v1/");

  function cell(row, text, numeric) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (numeric) td.className = "num";
    row.appendChild(td);
  }

  function since(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 120) return Math.round(seconds) + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return Math.round(seconds / 3600) + " h";
    return Math.round(seconds / 86400) + " days";
  }

  async function refresh() {
    const { systems } = await api("reconciliations/systems");
    const body = $("systems-body");
    body.replaceChildren();
    const runs = [];
    for (const s of systems) {
      const tr = document.createElement("tr");
      const r = s.latest;
      cell(tr, s.name);
      cell(tr, s.policy.replace("_", " "));
      cell(tr, r ? since(r.created_at) + " ago" : "never", true);
      cell(tr, r ? r.lines : "", true);
      cell(tr, r ? r.differing : "", true);
      cell(tr, r ? r.drift_units : "", true);
      cell(tr, r ? r.drift_value : "", true);
      cell(tr, r && r.oldest_difference_since ? since(r.oldest_difference_since) : "", true);
      if (r && r.differing) tr.className = "bad";
      body.appendChild(tr);
      if (r && r.differing) runs.push(r.id);
    }
    const lines = $("lines-body");
    lines.replaceChildren();
    for (const id of runs) {
      const run = await api("reconciliations/" + encodeURIComponent(id));
      for (const d of run.differences) {
        const tr = document.createElement("tr");
        cell(tr, run.system);
        cell(tr, d.sku || "(" + d.system_sku + ")");
        cell(tr, d.location || "(" + d.system_location + ")");
        cell(tr, d.hub, true);
        cell(tr, d.system_quantity, true);
        cell(tr, d.difference > 0 ? "+" + d.difference : d.difference, true);
        cell(tr, d.value, true);
        cell(tr, CAUSES[d.cause] || d.cause);
        cell(tr, ACTIONS[d.action] || d.action);
        cell(tr, since(d.first_seen), true);
        lines.appendChild(tr);
      }
    }
    $("lines-empty").hidden = lines.children.length > 0;
    $("lines-table").hidden = lines.children.length === 0;
    $("status").textContent = "Updated " + new Date().toLocaleTimeString();
    document.body.dataset.state = "live";
  }

  async function loop() {
    try {
      await refresh();
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        sessionStorage.removeItem(KEY_ITEM);
        apiKey = null;
        ask("That key was refused.");
        return;
      }
      $("status").textContent = "Cannot reach the hub (" + e.message + "); trying again.";
      document.body.dataset.state = "error";
    }
    setTimeout(loop, POLL_MS);
  }

  function ask(error) {
    $("board").hidden = true;
    $("key-panel").hidden = false;
    $("key-error").hidden = !error;
    $("key-error").textContent = error || "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      apiKey = $("key-input").value.trim();
      sessionStorage.setItem(KEY_ITEM, apiKey);
      $("key-panel").hidden = true;
      $("board").hidden = false;
      loop();
    });
    if (!apiKey) {
      ask(null);
      return;
    }
    $("board").hidden = false;
    loop();
  });
})();
