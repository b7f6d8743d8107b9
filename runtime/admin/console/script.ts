/**
 * The console's browser script, served as `/console/app.js`. Plain JavaScript in a string so that it ships
 * inside `dist/` with no build step and no asset folder to resolve. It is written without template literals
 * (it lives in one), and it makes every element with `h()`, which puts strings in as text nodes: state values
 * are user data and must never become markup.
 */

export const consoleScript = String.raw`"use strict";
(() => {
  const TOKEN_KEY = "cairn.adminToken";
  const STATE_PAGE = 50;
  const HISTORY_LIMIT = 50;
  const $ = (selector, root) => (root || document).querySelector(selector);

  let currentInvocation;
  let stateQuery;
  let refreshes = 0;

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "className") el.className = value;
      else el.setAttribute(name, String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children) {
      if (child === undefined || child === null || child === false) continue;
      if (Array.isArray(child)) append(el, child);
      else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.name = "ApiError";
      this.status = status;
    }
  }

  async function request(method, path) {
    const headers = { accept: "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token !== null) headers.authorization = "Bearer " + token;
    let response;
    try {
      response = await fetch(path, { method, headers });
    } catch (error) {
      throw new ApiError(0, method + " " + path + ": the admin endpoint did not answer (" + error.message + ")");
    }
    const text = await response.text();
    let body;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (response.status === 401) askForToken(token !== null);
    return { status: response.status, statusText: response.statusText, body, text };
  }

  async function api(method, path) {
    const answer = await request(method, path);
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    const message = answer.body && typeof answer.body.message === "string" ? answer.body.message : answer.text || answer.statusText;
    throw new ApiError(answer.status, method + " " + path + " answered " + answer.status + ": " + message);
  }

  function askForToken(refused) {
    const form = $("#token-form");
    // Requests sent after a refusal carry no token; their 401 must not hide why the form is back.
    if (!refused && !form.hidden) return;
    if (refused) sessionStorage.removeItem(TOKEN_KEY);
    $("#token-message").textContent = refused
      ? "The admin endpoint refused that token; enter it again."
      : "This admin endpoint needs its token (it is kept in this tab only).";
    form.hidden = false;
    $("#token").focus();
  }

  function section(id) {
    const root = document.getElementById(id);
    return {
      root,
      show(...nodes) {
        $(".error", root).hidden = true;
        const content = $(".content", root);
        content.replaceChildren();
        append(content, nodes);
      },
      fail(error) {
        const box = $(".error", root);
        box.textContent = error instanceof Error ? error.message : String(error);
        box.hidden = false;
        $(".content", root).replaceChildren();
      },
    };
  }

  async function load(id, loader) {
    try {
      await loader();
    } catch (error) {
      section(id).fail(error);
    }
  }

  function table(columns, rows, empty) {
    if (rows.length === 0) return h("p", { className: "muted" }, empty);
    const numeric = columns.map((_, i) => typeof rows[0][i] === "number");
    return h("table", {},
      h("thead", {}, h("tr", {}, columns.map((title, i) => h("th", { className: numeric[i] ? "num" : undefined }, title)))),
      h("tbody", {}, rows.map((row) =>
        h("tr", {}, row.map((cell, i) => h("td", { className: numeric[i] ? "num" : undefined }, cell))))));
  }

  function relative(deltaMs) {
    const abs = Math.abs(deltaMs);
    if (abs < 1000) return "now";
    const text = abs < 60000 ? Math.round(abs / 1000) + " s"
      : abs < 3600000 ? Math.round(abs / 60000) + " min"
      : abs < 86400000 ? Math.round(abs / 3600000) + " h"
      : Math.round(abs / 86400000) + " d";
    return deltaMs > 0 ? "in " + text : text + " ago";
  }

  function time(ms) {
    if (typeof ms !== "number") return "";
    const date = new Date(ms);
    return h("span", { title: date.toISOString() }, date.toLocaleString() + " (" + relative(ms - Date.now()) + ")");
  }

  function shown(value) {
    return value === undefined ? "(absent)" : JSON.stringify(value, null, 2);
  }

  function json(value) {
    return h("pre", {}, shown(value));
  }

  function badge(text) {
    return h("span", { className: "badge " + text }, text);
  }

  function details(pairs) {
    return h("dl", { className: "kv" }, pairs.filter((pair) => pair[1] !== undefined && pair[1] !== "")
      .map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
  }

  function invocationLink(id) {
    return h("button", { type: "button", className: "link mono", onclick: () => showInvocation(id) }, id);
  }

  function target(t) {
    if (t.key === undefined) return h("span", { className: "target" }, t.object + "/" + t.handler);
    return h("span", { className: "target" }, t.object + "/",
      h("button", { type: "button", className: "link", title: "show this key's state", onclick: () => lookupState(t.object, t.key, 0) }, t.key),
      "/" + t.handler);
  }

  function query(form, names) {
    const params = new URLSearchParams();
    for (const name of names) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    const text = params.toString();
    return text ? "?" + text : "";
  }

  function fillNames(id, names) {
    const list = document.getElementById(id);
    list.replaceChildren();
    append(list, names.map((name) => h("option", { value: name })));
  }

  let knownHosts = [];

  async function loadHealth() {
    const line = $("#health");
    try {
      const answer = await request("GET", "/health");
      const health = answer.body;
      if (!health || typeof health.status !== "string") throw new Error("GET /health answered " + answer.status);
      line.textContent = "host " + health.hostId + " · " + health.mode + " · " + health.status + " · owns "
        + health.ownedPartitions + " of " + health.partitions + " partitions";
      line.className = health.status === "ready" ? "muted" : "error";
    } catch (error) {
      line.textContent = error.message;
      line.className = "error";
    }
  }

  async function loadServices() {
    const { services } = await api("GET", "/api/services");
    knownHosts = [...new Set(services.flatMap((s) => s.hosts))];
    fillNames("object-names", services.filter((s) => s.type !== "service").map((s) => s.name));
    fillNames("all-names", services.map((s) => s.name));
    section("services").show(table(["Name", "Type", "Handlers", "Hosts"], services.map((s) => [
      h("strong", {}, s.name),
      s.type,
      h("div", { className: "chips" }, s.handlers.map((handler) => h("span", { className: "badge", title: handler.kind }, handler.name + " · " + handler.kind))),
      s.hosts.join(", "),
    ]), "This namespace serves nothing."));
  }

  async function loadPartitions() {
    const { partitions } = await api("GET", "/api/partitions");
    const owned = new Map(knownHosts.map((host) => [host, 0]));
    for (const p of partitions) if (p.owner !== undefined) owned.set(p.owner, (owned.get(p.owner) || 0) + 1);
    const unowned = partitions.filter((p) => p.owner === undefined).length;
    section("partitions").show(
      h("h3", {}, "Hosts"),
      table(["Host", "Owns (of the partitions below)"], [...owned].map(([host, count]) => [h("code", {}, host), count]), "No host holds a partition."),
      unowned > 0 ? h("p", { className: "error" }, unowned + " partition(s) have no owner.") : null,
      h("h3", {}, "Partitions"),
      table(["Partition", "Owner", "Epoch", "Inbox backlog", "Outbox backlog", "Timers", "Live invocations", "Changelog length"],
        partitions.map((p) => [p.partition, p.owner === undefined ? "(none)" : h("code", {}, p.owner), p.epoch === undefined ? "" : p.epoch,
          p.inboxBacklog, p.outboxBacklog, p.timers, p.invocations, p.changelogLength]),
        "No partitions."));
  }

  async function loadInvocations() {
    const { invocations } = await api("GET", "/api/invocations" + query($("#invocations-form"), ["status", "object", "key", "limit"]));
    section("invocations").show(table(
      ["Invocation", "Target", "Status", "Partition", "Failed attempts", "Last error", "Next"],
      invocations.map((inv) => [invocationLink(inv.id), target(inv.target), badge(inv.status), inv.partition, inv.failedAttempts,
        inv.lastError === undefined ? "" : h("pre", {}, inv.lastError),
        inv.nextAttemptAtMs !== undefined ? ["retry ", time(inv.nextAttemptAtMs)] : inv.wakeAtMs !== undefined ? ["wakes ", time(inv.wakeAtMs)] : ""]),
      "No invocations match."));
  }

  function outcome(result) {
    if (result === undefined) return "";
    if (result === "pending") return badge("pending");
    if (result.ok) return json(result.value);
    return h("pre", { className: "failed" }, "error: " + result.error);
  }

  async function showInvocation(id) {
    const s = section("invocation");
    if (currentInvocation !== id) $(".control-answer", s.root).textContent = "";
    currentInvocation = id;
    s.root.hidden = false;
    $(".invocation-id", s.root).textContent = id;
    await load("invocation", async () => {
      const inv = await api("GET", "/api/invocations/" + encodeURIComponent(id));
      if (currentInvocation !== id) return;
      s.show(
        details([
          ["Target", target(inv.target)],
          ["Status", badge(inv.status)],
          ["Partition", String(inv.partition)],
          ["Failed attempts", String(inv.failedAttempts)],
          ["Last error", inv.lastError === undefined ? undefined : h("pre", {}, inv.lastError)],
          ["Next attempt", inv.nextAttemptAtMs === undefined ? undefined : time(inv.nextAttemptAtMs)],
          ["Wakes", inv.wakeAtMs === undefined ? undefined : time(inv.wakeAtMs)],
          ["Waiting on", inv.waitingOn],
        ]),
        h("h3", {}, "Journal"),
        table(["#", "Type", "Name", "Outcome", "Wakes"],
          inv.journal.map((entry) => [entry.index, entry.type, entry.name === undefined ? "" : h("code", {}, entry.name),
            outcome(entry.outcome), entry.wakeAtMs === undefined ? "" : time(entry.wakeAtMs)]),
          "The journal is empty."));
    });
  }

  async function control(action) {
    const id = currentInvocation;
    if (id === undefined) return;
    if (action === "kill" && !confirm("Kill " + id + "? It ends at once with an error to its caller; no compensation runs.")) return;
    const answer = $("#invocation .control-answer");
    answer.className = "control-answer";
    answer.textContent = action + "…";
    try {
      await api("POST", "/api/invocations/" + encodeURIComponent(id) + "/" + action);
      answer.className = "control-answer ok";
      answer.textContent = action + " accepted for " + id + " (it acts asynchronously; refresh to follow it).";
    } catch (error) {
      answer.className = "control-answer failed";
      answer.textContent = action + " failed: " + error.message;
      return;
    }
    await Promise.all([showInvocation(id), load("invocations", loadInvocations)]);
  }

  async function lookupState(object, key, offset) {
    stateQuery = { object, key, offset };
    const form = $("#state-form");
    form.elements.object.value = object;
    form.elements.key.value = key;
    await load("state", async () => {
      const base = "/api/state/" + encodeURIComponent(object) + "/" + encodeURIComponent(key);
      // History is read on its own: a host that cannot answer it still shows the key's state.
      const [view, history] = await Promise.all([
        api("GET", base + "?offset=" + offset + "&limit=" + STATE_PAGE),
        api("GET", base + "/history?limit=" + HISTORY_LIMIT).then((answer) => answer.history, (error) => error),
      ]);
      const last = Math.min(offset + view.entries.length, view.total);
      section("state").show(
        h("p", {}, h("strong", {}, view.object + " / " + view.key), " · partition " + view.partition + " · " + view.total + " state entries"),
        table(["Name", "Value", "Bytes"], view.entries.map((e) => [h("code", {}, e.name), json(e.value), e.bytes]), "This key holds no state."),
        view.total > STATE_PAGE ? h("div", { className: "pager" },
          h("button", { type: "button", disabled: offset === 0, onclick: () => lookupState(object, key, Math.max(0, offset - STATE_PAGE)) }, "Previous"),
          h("span", { className: "muted" }, (offset + 1) + "–" + last + " of " + view.total),
          h("button", { type: "button", disabled: last >= view.total, onclick: () => lookupState(object, key, offset + STATE_PAGE) }, "Next")) : null,
        h("h3", {}, "History, newest first"),
        history instanceof Error ? h("p", { className: "error" }, history.message)
          : table(["Time", "Handler", "Invocation", "Changes"], history.map((entry) => [
            time(entry.atMs), entry.handler, invocationLink(entry.invocationId),
            entry.changes.map((change) => h("div", {}, h("code", {}, change.name), h("pre", {}, shown(change.before) + "  →  " + shown(change.after)))),
          ]), "No recorded changes."));
    });
  }

  async function loadTimers() {
    const { timers } = await api("GET", "/api/timers" + query($("#timers-form"), ["object", "key"]));
    section("timers").show(table(["Due", "Kind", "Target", "Invocation", "Partition"],
      timers.map((t) => [time(t.dueMs), badge(t.kind), target(t.target), invocationLink(t.invocationId), t.partition]),
      "No pending timers."));
  }

  async function refreshAll() {
    await Promise.all([loadHealth(), load("services", loadServices)]);
    // Without an accepted token every other read would be refused too: wait for the token instead.
    if (!$("#token-form").hidden) return;
    await Promise.all([
      load("invocations", loadInvocations),
      load("timers", loadTimers),
      load("partitions", loadPartitions),
      stateQuery === undefined ? undefined : lookupState(stateQuery.object, stateQuery.key, stateQuery.offset),
      currentInvocation === undefined ? undefined : showInvocation(currentInvocation),
    ]);
    // Tests and scripts wait on this instead of guessing how long a refresh takes.
    document.body.dataset.refreshes = String(++refreshes);
  }

  function onSubmit(id, handler) {
    $(id).addEventListener("submit", (event) => {
      event.preventDefault();
      handler(event.target);
    });
  }

  onSubmit("#token-form", () => {
    sessionStorage.setItem(TOKEN_KEY, $("#token").value);
    $("#token").value = "";
    $("#token-form").hidden = true;
    void refreshAll();
  });
  onSubmit("#state-form", (form) => void lookupState(form.elements.object.value.trim(), form.elements.key.value, 0));
  onSubmit("#invocations-form", () => void load("invocations", loadInvocations));
  onSubmit("#timers-form", () => void load("timers", loadTimers));
  $("#refresh").addEventListener("click", () => void refreshAll());
  for (const button of document.querySelectorAll("#invocation [data-action]")) {
    button.addEventListener("click", () => void control(button.dataset.action));
  }
  void refreshAll();
})();
`;
