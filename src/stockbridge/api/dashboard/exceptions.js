// Stockbridge exception workbench. Lists the business exception queue through this hub's
// JSON API and acts on it: assign, note, escalate, replay, ignore (one or many), and fix a
// missing mapping, which replays every exception waiting for it. The API key (admin scope)
// comes from the URL fragment (#key=...) or a form, is kept in this tab's sessionStorage,
// and is sent to this hub's own origin only.
"use strict";

(() => {
  const KEY_ITEM = "stockbridge.workbench.key";
  const Stockbridge = window.Stockbridge;
  const {
    keyItem: OVERVIEW_KEY_ITEM, reasons, reasonLabel, takeKey, client, ApiError, el, badge,
    setFigure, $,
  } = Stockbridge;

  const STATUS = { open: "Open", resolved: "Resolved", ignored: "Ignored" };
  const RESOLUTION = {
    replayed: "replayed",
    mapping_fixed: "mapping fixed",
    accepted: "accepted on a resend",
    ignored: "ignored",
  };

  let apiKey = null;
  let current = null; // the exception shown in the detail panel
  let loads = 0;
  const selected = new Set();

  // --- the key --------------------------------------------------------------------------
  function takeFragment() {
    // A key given to the overview in this tab works here too, until one is given here.
    apiKey = takeKey(KEY_ITEM).key || sessionStorage.getItem(OVERVIEW_KEY_ITEM);
  }

  // --- the API --------------------------------------------------------------------------
  const api = client(() => apiKey, "../v1/");

  const enc = encodeURIComponent;

  // --- formatting and DOM ---------------------------------------------------------------
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function when(iso) {
    return new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "medium" });
  }

  function setField(root, name, value) {
    for (const node of root.querySelectorAll('[data-field="' + name + '"]')) {
      node.replaceChildren(...(Array.isArray(value) ? value : [value]));
    }
  }

  // --- the queue ------------------------------------------------------------------------
  function filterParams() {
    const form = $("filters").elements;
    const params = new URLSearchParams({ limit: "500" });
    for (const name of ["status", "reason", "source", "assignee"]) {
      const value = form[name].value.trim();
      if (value) params.set(name, value);
    }
    if (form.older.value) params.set("min_age_seconds", String(Number(form.older.value) * 3600));
    if (form.newer.value) params.set("max_age_seconds", String(Number(form.newer.value) * 3600));
    if (form.overdue.checked) params.set("overdue", "true");
    return params;
  }

  function waiting(x) {
    const text = duration(x.age_seconds);
    return x.overdue ? [text, " ", badge("overdue", "bad")] : [text];
  }

  function queueRow(x) {
    const chosen = selected.has(x.id);
    return el(
      "tr",
      { "data-id": x.id, "data-status": x.status, className: chosen ? "chosen" : null },
      el("td", {}, el("input", {
        type: "checkbox", "data-select": x.id, checked: chosen,
        disabled: x.status !== "open", "aria-label": "Select exception " + x.id,
      })),
      el("td", { "data-field": "id", className: "num" }, x.id),
      el("td", { "data-field": "reason", title: x.reason }, reasonLabel(x.reason)),
      el("td", { "data-field": "source" }, x.source || "–"),
      el("td", { "data-field": "event_id" }, x.event_id || "–"),
      el("td", { "data-field": "age", className: "num" }, waiting(x)),
      el("td", { "data-field": "assignee" }, x.assignee || "–"),
      el("td", { "data-field": "escalation", className: "num" }, x.escalation || "–"),
      el("td", { "data-field": "detail", className: "detail", title: x.detail }, x.detail),
      el("td", {}, el("button", { type: "button", className: "quiet", "data-open": x.id }, "Open")),
    );
  }

  function renderQueue(list) {
    const shown = new Set(list.map((x) => x.id));
    for (const id of [...selected]) if (!shown.has(id)) selected.delete(id);
    const rows = list.map(queueRow);
    if (!rows.length) {
      rows.push(el("tr", { className: "none" }, el("td", { colspan: 10 }, "Nothing matches.")));
    }
    $("queue-body").replaceChildren(...rows);
    renderSelection();
  }

  function renderSelection() {
    setFigure("selected", String(selected.size));
    $("bulk-ignore").disabled = selected.size === 0;
  }

  function renderSummary(summary) {
    setFigure("open", String(summary.open));
    setFigure("overdue", String(summary.overdue));
    $("tile-open").classList.toggle("alert", summary.open > 0);
    $("tile-overdue").classList.toggle("alert", summary.overdue > 0);
    // The slowest reason's figures: what an operator should expect at worst.
    const slowest = summary.resolution.reduce(
      (worst, r) => (worst === null || r.median_seconds > worst.median_seconds ? r : worst), null);
    setFigure("median", slowest ? duration(slowest.median_seconds) : "–");
    setFigure("p90", slowest ? duration(slowest.p90_seconds) : "–");
  }

  async function load() {
    if (!apiKey) return;
    try {
      const [summary, listed] = await Promise.all([
        api("exceptions/summary"),
        api("exceptions?" + filterParams().toString()),
      ]);
      showBench();
      renderSummary(summary);
      renderQueue(listed.exceptions);
      if (current !== null) await showDetail(current);
      loads += 1;
      document.body.dataset.state = "live";
      document.body.dataset.loads = String(loads);
      $("status").textContent = "Updated " + new Date().toLocaleTimeString();
      $("status").className = "status live";
    } catch (e) {
      failed(e);
    }
  }

  function failed(e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      askForKey(e.status === 401 ? "The hub refused this key: " + e.message
        : "This key may not work exceptions: " + e.message);
      return;
    }
    document.body.dataset.state = "offline";
    $("status").textContent = "Cannot reach the hub (" + e.message + ")";
    $("status").className = "status offline";
  }

  // --- one exception --------------------------------------------------------------------
  async function showDetail(id) {
    const x = await api("exceptions/" + enc(id));
    current = x.id;
    const panel = $("detail");
    panel.dataset.id = x.id;
    panel.dataset.status = x.status;
    setField(panel, "id", "#" + x.id);
    setField(panel, "reason", reasonLabel(x.reason));
    setField(panel, "detail", x.detail);
    setField(panel, "source", (x.source || "–") + (x.event_id ? " · " + x.event_id : ""));
    const status = STATUS[x.status] + (x.resolution ? " (" + RESOLUTION[x.resolution] + ")" : "");
    setField(panel, "status", status);
    setField(panel, "age", waiting(x));
    setField(panel, "assignee", x.assignee || "nobody");
    setField(panel, "escalation", x.escalation ? "level " + x.escalation : "not escalated");
    setField(panel, "payload", JSON.stringify(x.payload, null, 2));
    const open = x.status === "open";
    for (const form of ["assign-form", "escalate-form", "replay-form", "ignore-form"]) {
      $(form).hidden = !open;
    }
    const fix = $("fix-form");
    fix.hidden = !open || !x.mapping;
    if (x.mapping) {
      setField(fix, "fix-source", x.mapping.source);
      setField(fix, "fix-kind", x.mapping.kind);
      setField(fix, "fix-code", x.mapping.external_code);
    }
    $("thread-body").replaceChildren(...(x.notes.length ? x.notes.map((n) => el(
      "tr", { "data-kind": n.kind },
      el("td", {}, when(n.at)), el("td", { "data-field": "author" }, n.author),
      el("td", { "data-field": "kind" }, n.kind), el("td", { "data-field": "text" }, n.text),
    )) : [el("tr", { className: "none" }, el("td", { colspan: 4 }, "Nothing done yet."))]));
    panel.hidden = false;
  }

  function say(text, ok) {
    $("action-result").textContent = text;
    $("action-result").className = "result" + (ok ? "" : " failed");
  }

  // Runs an action on the shown exception, then reloads the queue and the detail.
  async function act(form, run) {
    const buttons = [...form.querySelectorAll("button")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      say(await run(form.elements), true);
      form.reset();
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return failed(e);
      say(e.message, false);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
    await load();
  }

  const path = (suffix) => "exceptions/" + enc(current) + suffix;
  const ACTIONS = {
    "assign-form": async (f) => {
      const x = await api(path("/assign"), { assignee: f.assignee.value.trim() });
      return "Assigned to " + x.assignee + ".";
    },
    "note-form": async (f) => {
      await api(path("/notes"), { text: f.text.value });
      return "Note added.";
    },
    "escalate-form": async (f) => {
      const note = f.note.value.trim();
      const x = await api(path("/escalate"), note ? { note } : {});
      return "Escalated to level " + x.escalation + ".";
    },
    "replay-form": async () => {
      const r = await api(path("/replay"), {});
      return r.exception.status === "resolved" ? "Replayed: accepted."
        : "Replayed, still waiting: " + (r.result.detail || r.result.reason) + ".";
    },
    "ignore-form": async (f) => {
      await api(path("/ignore"), { note: f.note.value.trim() });
      return "Closed without replay.";
    },
    "fix-form": async (f) => {
      const x = await api("exceptions/" + enc(current));
      const row = { ...x.mapping, code: f.code.value.trim() };
      const r = await api("xrefs/fix", { xrefs: [row] });
      return "Mapping saved: " + r.resolved + " exception(s) resolved, " + r.still_failing +
        " still failing.";
    },
  };

  // --- screens --------------------------------------------------------------------------
  function showBench() {
    Stockbridge.showBoard("bench");
  }

  function askForKey(message) {
    apiKey = null;
    Stockbridge.askForKey(KEY_ITEM, "bench", message);
  }

  function wire() {
    const picker = $("filters").elements.reason;
    for (const [code, label] of Object.entries(reasons)) {
      picker.append(el("option", { value: code }, label));
    }
    Stockbridge.onKeyEntered(KEY_ITEM, (key) => {
      apiKey = key;
      load();
    });
    $("forget-key").addEventListener("click", () => askForKey(""));
    $("refresh").addEventListener("click", () => load());
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      load();
    });
    $("queue-body").addEventListener("click", (event) => {
      const open = event.target.closest("[data-open]");
      if (open) {
        say("", true);
        showDetail(Number(open.dataset.open)).catch(failed);
      }
    });
    $("queue-body").addEventListener("change", (event) => {
      const box = event.target.closest("[data-select]");
      if (!box) return;
      const id = Number(box.dataset.select);
      if (box.checked) selected.add(id);
      else selected.delete(id);
      box.closest("tr").classList.toggle("chosen", box.checked);
      renderSelection();
    });
    $("select-all").addEventListener("change", (event) => {
      for (const box of document.querySelectorAll("#queue-body [data-select]:not([disabled])")) {
        box.checked = event.target.checked;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    $("bulk").addEventListener("submit", async (event) => {
      event.preventDefault();
      const note = $("bulk-note").value.trim();
      if (!note) {
        $("status").textContent = "Say why, in the note, before ignoring.";
        $("bulk-note").focus();
        return;
      }
      try {
        const r = await api("exceptions/ignore", { ids: [...selected], note });
        selected.clear();
        $("bulk-note").value = "";
        $("status").textContent = r.ignored.length + " ignored" +
          (r.skipped.length ? ", " + r.skipped.length + " skipped (no longer open)" : "");
      } catch (e) {
        return failed(e);
      }
      await load();
    });
    for (const [id, run] of Object.entries(ACTIONS)) {
      $(id).addEventListener("submit", (event) => {
        event.preventDefault();
        act(event.target, run);
      });
    }
    $("close-detail").addEventListener("click", () => {
      current = null;
      $("detail").hidden = true;
    });
  }

  wire();
  takeFragment();
  if (apiKey) load();
  else askForKey("");
})();
