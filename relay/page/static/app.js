// The channel page: a snapshot, then live deliveries and agents over
// server-sent events. Everything the relay sends is set as textContent,
// never parsed as HTML.
"use strict";
(function () {
  const base = document.body.dataset.base;
  const items = document.getElementById("items");
  const agents = document.getElementById("agents");
  const count = document.getElementById("agent-count");
  const state = document.getElementById("state");
  const seen = new Set();
  const maxRows = 200;

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  function addItem(it, fresh) {
    if (seen.has(it.id)) return;
    seen.add(it.id);
    const empty = items.querySelector("tr.empty");
    if (empty) empty.remove();
    const tr = document.createElement("tr");
    tr.dataset.id = it.id;
    if (fresh) tr.className = "new";
    cell(tr, new Date(it.time).toLocaleTimeString());
    cell(tr, String(it.status), "s" + String(it.status).charAt(0));
    cell(tr, it.method);
    cell(tr, it.path || "/", "path");
    cell(tr, it.action || "-");
    cell(tr, it.duration_ms.toFixed(1) + " ms");
    cell(tr, it.id);
    items.insertBefore(tr, items.firstChild);
    while (items.children.length > maxRows) {
      seen.delete(items.lastChild.dataset.id);
      items.lastChild.remove();
    }
  }

  function setAgents(list) {
    agents.replaceChildren();
    count.textContent = String(list.length);
    if (list.length === 0) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "no agent is connected";
      agents.appendChild(li);
      return;
    }
    for (const a of list) {
      const li = document.createElement("li");
      const id = document.createElement("code");
      id.textContent = a.id;
      li.appendChild(id);
      const filter = [a.events && a.events.length ? "events: " + a.events.join(", ") : "all events"];
      if (a.object_types && a.object_types.length) filter.push("object types: " + a.object_types.join(", "));
      if (a.entity_ids && a.entity_ids.length) filter.push("entities: " + a.entity_ids.join(", "));
      li.appendChild(document.createTextNode("  " + filter.join("; ")));
      agents.appendChild(li);
    }
  }

  const es = new EventSource(base + "/events");
  es.addEventListener("open", () => { state.textContent = "live"; state.className = "state live"; });
  es.addEventListener("error", () => { state.textContent = "reconnecting…"; state.className = "state down"; });
  es.addEventListener("snapshot", (e) => {
    const s = JSON.parse(e.data);
    for (const it of s.items) addItem(it, false);
    setAgents(s.agents);
  });
  es.addEventListener("delivery", (e) => addItem(JSON.parse(e.data), true));
  es.addEventListener("agents", (e) => setAgents(JSON.parse(e.data)));
})();
