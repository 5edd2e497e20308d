// The emulator's page: reads the API with the token from #token= (any
// token works unless the emulator was started with --token). Every value
// is shown as text, never as HTML.
"use strict";
const api = location.pathname.replace(/\/_emulator\/.*$/, "");
const token = (new URLSearchParams(location.hash.slice(1))).get("token") || "hooktap-page";
let open = "";
document.getElementById("api").textContent = location.origin + api;

async function get(path) {
  const r = await fetch(api + path, {headers: {"Authorization": "Bearer " + token, "x-monite-version": "2024-05-25"}});
  const body = await r.json();
  if (!r.ok) throw new Error(r.status + ": " + ((body.error && body.error.message) || JSON.stringify(body.detail)));
  return body;
}

function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement("td");
    if (c && typeof c === "object") { td.textContent = c.text; td.className = c.cls || ""; } else td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}

async function refresh() {
  try {
    const subs = await get("/webhook_subscriptions?order=desc");
    const settings = await get("/webhook_settings?order=desc");
    const tb = document.getElementById("subs");
    tb.replaceChildren(...subs.data.concat(settings.data.map(s => Object.assign({legacy: true}, s))).map(s =>
      row([{text: s.id + (s.legacy ? " (setting)" : ""), cls: "mono"}, s.object_type, (s.event_types || []).join(", ") || "all",
        {text: s.status, cls: s.status === "enabled" ? "ok" : "muted"}, {text: s.url, cls: "mono"}])));
    const log = await get("/webhook_deliveries?order=desc&sort=updated_at");
    const lb = document.getElementById("log");
    lb.replaceChildren(...log.data.map(d => {
      const tr = row([{text: d.id, cls: "mono"}, {text: d.event_id, cls: "mono"}, {text: d.url, cls: "mono"}, String(d.requests_made_count),
        d.response_status_code === null ? "no answer" : String(d.response_status_code),
        {text: d.was_successful ? "yes" : "no", cls: d.was_successful ? "ok" : "bad"}], "log");
      tr.onclick = () => { open = d.id; attempts(); };
      return tr;
    }));
    if (open) await attempts();
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = String(e.message || e);
  }
}

async function attempts() {
  const st = await get("/_emulator/deliveries/" + encodeURIComponent(open) + "/attempts");
  document.getElementById("which").textContent = "of " + st.id + " to subscription " + st.webhook_subscription_id + ": " + st.state +
    (st.next_attempt_at ? ", next attempt at " + st.next_attempt_at : "");
  document.getElementById("attempts").replaceChildren(...st.attempts.map(a =>
    row([String(a.attempt), a.started_at, a.duration_ms.toFixed(1), a.response_status_code || "none",
      {text: a.error || a.response, cls: "mono"}])));
}

refresh();
setInterval(refresh, 2000);
