// hooktap web inspector. Plain DOM, no framework, no build step.
// Rule: data from deliveries is only ever put in the page with textContent
// (via el()), never with innerHTML.
"use strict";

(function () {
  const token = document.querySelector('meta[name="hooktap-token"]').content;
  const $ = (id) => document.getElementById(id);
  const PAGE = 100;

  const state = {
    items: [],        // summaries shown, newest first
    ids: new Set(),
    sel: -1,          // selected index in items
    open: null,       // the detail shown
    query: "",
    nextBefore: 0,
    status: null,
    conn: null,       // the relay connection, with the webhook URL once known
    listed: false,    // the first page has been shown
    loading: false,
  };

  // el builds an element; children are nodes or strings (as text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === "class") e.className = v;
        else if (k === "title") e.title = v;
        else e.setAttribute(k, v);
      }
    }
    for (const c of children) {
      if (c == null) continue;
      e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  // ---- formatting -------------------------------------------------------

  const pad = (n, w = 2) => String(n).padStart(w, "0");
  function clock(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "";
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function dateTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "";
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock(iso) + "." + pad(d.getMilliseconds(), 3);
  }
  function ago(iso) {
    const s = Math.round((Date.now() - new Date(iso)) / 1000);
    if (s < 60) return s + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    if (s < 86400) return Math.floor(s / 3600) + "h ago";
    return Math.floor(s / 86400) + "d ago";
  }
  function ms(v) {
    if (v == null) return "";
    if (v >= 1000) return (v / 1000).toFixed(2) + " s";
    return v.toFixed(1) + " ms";
  }
  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1 << 20) return (n / 1024).toFixed(1) + " KiB";
    return (n / (1 << 20)).toFixed(1) + " MiB";
  }
  function statusClass(d) {
    if (!d.attempts) return "pending";
    if (!d.status) return "error";
    return Math.floor(d.status / 100) + "xx";
  }
  function statusText(d) {
    if (!d.attempts) return "…";
    if (!d.status) return "ERR";
    return String(d.status);
  }
  function short(id) { return id ? (id.length > 12 ? id.slice(0, 8) + "…" : id) : ""; }

  // ---- API --------------------------------------------------------------

  async function api(method, path, body) {
    const opts = { method, headers: {} };
    if (method !== "GET") {
      opts.headers["X-Hooktap-Token"] = token;
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body || {});
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      throw new Error("the inspector is not reachable (is hooktap still running?)");
    }
    const text = await resp.text();
    let data = null;
    if ((resp.headers.get("Content-Type") || "").startsWith("application/json")) {
      try { data = JSON.parse(text); } catch (e) { /* fall through */ }
    }
    if (!resp.ok) {
      const err = new Error((data && data.error) || resp.status + " " + resp.statusText);
      err.status = resp.status;
      throw err;
    }
    return data != null ? data : text;
  }

  // ---- list -------------------------------------------------------------

  // breakable is text with line-break chances after its dots and
  // underscores (payable.submitted_for_approval), for narrow windows.
  function breakable(text) {
    const out = [];
    for (const part of text.split(/(?<=[._])/)) out.push(part, el("wbr"));
    out.pop();
    return out;
  }

  function rowFor(d) {
    const sc = statusClass(d);
    const tr = el("tr", { "data-id": d.id },
      el("td", { class: "c-time", title: dateTime(d.received_at) }, clock(d.received_at)),
      el("td", { class: "c-status" }, el("span", { class: "st s-" + sc, title: d.error || null }, statusText(d)),
        d.last_elsewhere ? el("span", { class: "away", title: "last: " + elsewhereText(d.last_elsewhere) }, " ↪") : null),
      el("td", { class: "c-method" }, d.method),
      // no action: "-", as in the terminal UI; the path is in the title
      el("td", { class: "c-action", title: d.path || "/" }, ...(d.action ? breakable(d.action) : ["-"])),
      el("td", { class: "c-entity", title: d.entity_id || null }, short(d.entity_id) || "–"),
      el("td", { class: "c-dur num" }, d.attempts ? ms(d.duration_ms) : ""),
      el("td", { class: "c-att num" }, String(d.attempts || 0)),
      el("td", { class: "c-sig" }, el("span", { class: "sig-" + d.signature, title: d.signature_reason || null }, d.signature)));
    tr.addEventListener("click", () => { select(state.items.findIndex((x) => x.id === d.id)); openSelected(); });
    return tr;
  }

  function renderList() {
    const rows = $("rows");
    rows.replaceChildren(...state.items.map(rowFor));
    markSelected();
    state.listed = true;
    renderEmpty();
    $("older").hidden = !state.nextBefore;
  }

  // renderEmpty says why the list is empty; with no filter and a webhook
  // URL, it shows commands to paste in a shell to send a first delivery.
  function renderEmpty() {
    const empty = $("empty");
    if (!state.listed) return; // not before the first page: it may have deliveries
    empty.hidden = state.items.length > 0;
    if (empty.hidden) return;
    const c = state.conn;
    if (state.query) {
      empty.replaceChildren("No delivery matches this filter.");
    } else if (c && c.url && c.try_curl) {
      empty.replaceChildren(
        el("p", {}, "No deliveries yet. Send a test webhook to " + c.url + ":"),
        el("pre", { id: "try-curl", class: "try mono" }, c.try_curl));
      if (c.try_trigger) {
        empty.append(
          el("p", {}, "or a realistic payload (signed when HOOKTAP_SECRET is set):"),
          el("pre", { id: "try-trigger", class: "try mono" }, c.try_trigger));
      }
    } else {
      empty.replaceChildren("No deliveries yet. Webhooks sent to the relay URL show up here as they arrive.");
    }
  }

  function markSelected() {
    const rows = $("rows").children;
    for (let i = 0; i < rows.length; i++) rows[i].classList.toggle("sel", i === state.sel);
  }

  async function loadList() {
    const q = $("filter").value.trim();
    try {
      const data = await api("GET", "/api/deliveries?limit=" + PAGE + "&q=" + encodeURIComponent(q));
      state.query = q;
      $("filter").classList.remove("bad");
      $("filter-error").textContent = data.hint || "";
      const keep = state.sel >= 0 && state.items[state.sel] ? state.items[state.sel].id : null;
      state.items = data.deliveries;
      state.ids = new Set(state.items.map((d) => d.id));
      state.nextBefore = data.next_before;
      state.sel = keep ? state.items.findIndex((d) => d.id === keep) : -1;
      $("download-har").href = "/api/export?format=har&q=" + encodeURIComponent(q);
      renderList();
    } catch (e) {
      $("filter").classList.add("bad");
      $("filter-error").textContent = e.message;
    }
  }

  async function loadOlder() {
    if (!state.nextBefore || state.loading) return;
    state.loading = true;
    try {
      const data = await api("GET", "/api/deliveries?limit=" + PAGE + "&before=" + state.nextBefore + "&q=" + encodeURIComponent(state.query));
      const rows = $("rows");
      for (const d of data.deliveries) {
        if (state.ids.has(d.id)) continue;
        state.items.push(d);
        state.ids.add(d.id);
        rows.append(rowFor(d));
      }
      state.nextBefore = data.next_before;
      $("older").hidden = !state.nextBefore;
    } catch (e) {
      $("filter-error").textContent = e.message;
    } finally {
      state.loading = false;
    }
  }

  function select(i) {
    if (state.items.length === 0) return;
    state.sel = Math.max(0, Math.min(i, state.items.length - 1));
    markSelected();
    const row = $("rows").children[state.sel];
    if (row) row.scrollIntoView({ block: "nearest" });
  }

  // ---- live -------------------------------------------------------------

  let refreshTimer = null;
  function refreshHead() {
    // With a filter, the server decides what matches: fetch the newest page
    // and add what is missing.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      try {
        const data = await api("GET", "/api/deliveries?limit=" + PAGE + "&q=" + encodeURIComponent(state.query));
        const fresh = data.deliveries.filter((d) => !state.ids.has(d.id)).reverse();
        for (const d of fresh) addNew(d);
        for (const d of data.deliveries) updateRow(d);
      } catch (e) { /* the next event retries */ }
    }, 250);
  }

  function addNew(d) {
    state.items.unshift(d);
    state.ids.add(d.id);
    if (state.sel >= 0) state.sel++;
    const tr = rowFor(d);
    tr.classList.add("new");
    $("rows").prepend(tr);
    $("empty").hidden = true;
    markSelected();
  }

  function updateRow(d) {
    const i = state.items.findIndex((x) => x.id === d.id);
    if (i < 0) return false;
    const merged = Object.assign({}, state.items[i], d, { seq: state.items[i].seq || d.seq });
    state.items[i] = merged;
    const old = $("rows").children[i];
    if (old) {
      const tr = rowFor(merged);
      if (i === state.sel) tr.classList.add("sel");
      old.replaceWith(tr);
    }
    return true;
  }

  function onDelivery(d, attempt) {
    if (!updateRow(d)) {
      if (state.query) refreshHead();
      else addNew(d);
    }
    if (attempt && state.open && state.open.id === d.id) refreshOpen();
    bumpCount();
  }

  let countTimer = null;
  function bumpCount() {
    clearTimeout(countTimer);
    countTimer = setTimeout(loadStatus, 500);
  }

  function connect() {
    if (!state.status || !state.status.live) return;
    const es = new EventSource("/api/events");
    es.addEventListener("conn", (ev) => showConn(JSON.parse(ev.data).conn));
    es.addEventListener("store", (ev) => showStore(JSON.parse(ev.data).store));
    es.addEventListener("app", (ev) => showApp(JSON.parse(ev.data).app));
    es.addEventListener("delivery", (ev) => onDelivery(JSON.parse(ev.data).delivery, null));
    es.addEventListener("attempt", (ev) => {
      const data = JSON.parse(ev.data);
      onDelivery(data.delivery, data.attempt);
    });
    es.addEventListener("open", () => { document.body.dataset.live = "1"; });
    es.addEventListener("error", () => {
      document.body.dataset.live = "0";
      if (es.readyState === EventSource.CLOSED) showConn({ state: "offline", error: "the inspector stopped" });
    });
  }

  function showConn(c) {
    const box = $("conn");
    box.className = "conn " + (c ? c.state : "") + (c && c.stalled ? " stalled" : "");
    if (!c) {
      $("conn-text").textContent = "store only";
      box.title = "browsing a store; no agent is running in this process";
      return;
    }
    let text = c.state;
    if (c.state === "reconnecting" && c.retry_at) {
      const s = Math.max(0, Math.round((new Date(c.retry_at) - Date.now()) / 1000));
      text += " in " + s + "s";
    }
    if ((c.state === "reconnecting" || c.state === "refused") && c.reason) text += " (" + c.reason + ")";
    if (c.state === "reconnecting" && c.stalled) text = "relay not answering, " + text;
    // dev's agent is attached in memory: a round trip under 0.1 ms says
    // nothing, and "0.0ms" reads as broken.
    if (c.state === "connected" && c.rtt_ms >= 0.1) text += " " + (c.rtt_ms < 10 ? c.rtt_ms.toFixed(1) : Math.round(c.rtt_ms)) + "ms";
    $("conn-text").textContent = text;
    box.title = c.error ? c.error : (c.relay || "relay connection") + (c.heartbeat_at ? "\nlast heartbeat " + new Date(c.heartbeat_at).toLocaleTimeString() : "");
    const routes = c.routes && c.routes.length ? "  +" + c.routes.length + (c.routes.length === 1 ? " route" : " routes") : "";
    $("ingress").textContent = c.url ? c.url + (c.target ? "  →  " + c.target : "") + routes : "";
    $("ingress").title = (c.routes || []).join("\n");
    if (c.url || !state.conn) state.conn = c; // keep the URL through reconnects
    renderEmpty();
  }

  // showApp says whether the app listens on the forward target: in red,
  // with what to do, while nothing does; in green once it does.
  function showApp(a) {
    const box = $("app");
    box.hidden = !a;
    if (!a) return;
    box.className = "app " + (a.listening ? "up" : "down") + (a.listening && a.failures_1m ? " failing" : "");
    box.setAttribute("role", a.listening ? "status" : "alert");
    let text = a.listening ? "● app listening on " + a.addr : a.problem;
    if (a.listening && a.last_status) text += " · last " + a.last_status;
    if (a.failures_1m) text += " · " + Math.round(a.error_rate_1m * 100) + "% failed (1 min)";
    box.textContent = text;
    box.title = a.target + (a.error ? ": " + a.error : "");
  }

  // showStore says, while the agent's store cannot write, that deliveries
  // are held and retried; h.error is "" once it writes again.
  function showStore(h) {
    const box = $("store");
    box.hidden = !h || !h.error;
    if (box.hidden) return;
    const n = h.waiting || 0;
    box.textContent = "store: cannot write (" + h.cause + ") — " + n + (n === 1 ? " delivery" : " deliveries") + " waiting; retrying";
    box.title = h.error;
  }

  async function loadStatus() {
    try {
      const st = await api("GET", "/api/status");
      state.status = st;
      $("count").textContent = st.deliveries.toLocaleString() + (st.deliveries === 1 ? " delivery" : " deliveries");
      if (!st.live) showConn(null);
      else if (st.conn) showConn(st.conn);
      showStore({ error: st.store_error, cause: st.store_cause, waiting: st.store_waiting });
      showApp(st.app);
      $("secret-box").hidden = st.has_secret;
      const pl = $("provider-link");
      pl.hidden = !st.provider_page;
      if (st.provider_page && /^https?:\/\//.test(st.provider_page)) pl.href = st.provider_page;
      return st;
    } catch (e) {
      $("count").textContent = e.message;
      return null;
    }
  }

  // ---- detail -----------------------------------------------------------

  async function openSelected() {
    const d = state.items[state.sel];
    if (!d) return;
    await openDetail(d.id);
  }

  async function openDetail(id) {
    try {
      const full = await api("GET", "/api/deliveries/" + encodeURIComponent(id));
      if (!state.open || state.open.id !== full.id) {
        $("result").hidden = true;
        closeEditor();
      }
      state.open = full;
      renderDetail(full);
      // The open delivery is in the URL, so that a reload or a link
      // (#<id>) opens it again.
      if (location.hash !== "#" + full.id) history.replaceState(null, "", "#" + full.id);
      const i = state.items.findIndex((x) => x.id === full.id);
      if (i >= 0 && i !== state.sel) select(i);
    } catch (e) {
      if (e.status === 404) showMissing(id);
      else showResult(false, e.message);
    }
  }

  // showMissing says that the URL names a delivery this store does not
  // have (a link from another store, or one pruned since).
  function showMissing(id) {
    state.open = null;
    $("detail-body").hidden = true;
    const box = $("detail-empty");
    box.hidden = false;
    box.classList.add("missing");
    box.textContent = "no delivery " + id + " in this store";
  }

  // openFromURL opens the delivery named by the URL's fragment, if any.
  function openFromURL() {
    const id = decodeURIComponent(location.hash.slice(1));
    if (id && (!state.open || state.open.id !== id)) return openDetail(id);
  }

  async function refreshOpen() {
    if (!state.open) return;
    try {
      state.open = await api("GET", "/api/deliveries/" + encodeURIComponent(state.open.id));
      renderDetail(state.open);
    } catch (e) { /* keep what is shown */ }
  }

  function headerTable(h) {
    const t = $("d-headers").cloneNode(false);
    t.removeAttribute("id");
    fillHeaders(t, h);
    return t;
  }
  // headersOf is a message's headers (a delivery, an attempt's request or
  // response): those whose values are not UTF-8 come under headers_base64,
  // and show with their bad bytes as U+FFFD, as in the TUI.
  function headersOf(m) {
    const h = Object.assign({}, (m && m.headers) || {});
    const utf8 = new TextDecoder();
    for (const [n, vs] of Object.entries((m && m.headers_base64) || {})) {
      h[n] = vs.map((v) => utf8.decode(Uint8Array.from(atob(v), (c) => c.charCodeAt(0))));
    }
    return h;
  }
  function fillHeaders(table, h) {
    const names = Object.keys(h || {}).sort();
    const rows = [];
    for (const n of names) for (const v of h[n]) rows.push(el("tr", null, el("td", null, n), el("td", null, v)));
    if (rows.length === 0) rows.push(el("tr", null, el("td", { class: "muted" }, "none")));
    table.replaceChildren(...rows);
  }

  function bodyBlock(b, encoding, contentType) {
    const pre = el("pre", { class: "code" });
    fillBody(pre, b, encoding, contentType);
    return pre;
  }
  function fillBody(pre, b, encoding, contentType) {
    pre.replaceChildren();
    if (!b) {
      pre.append(el("span", { class: "muted" }, "empty"));
      return;
    }
    if (encoding === "base64") {
      pre.append(el("span", { class: "muted" }, "binary body, base64:\n"), b);
      return;
    }
    const nodes = prettyJSON(b);
    if (nodes) pre.append(...nodes);
    else pre.textContent = b;
  }

  // elsewhere says where a replay or resend to another target went, apart
  // from the row (store.Elsewhere.String).
  function elsewhereText(e) {
    return (e.kind + " → " + e.target + " " + (e.status ? String(e.status) : (e.error || ""))).trim();
  }

  // latest is the attempt the row shows: the last that went to the row's
  // own target, as store.Ties decides; a replay elsewhere is apart.
  function latest(d) {
    let target = "", last = null;
    for (const a of d.history || []) {
      if (a.kind === "forward" || target === "" || a.target === target) { last = a; target = a.target; }
    }
    return last;
  }

  // sentBy is the request attempt a sent: what it recorded (a resend's new
  // signature, an edited body), else the delivery as received (a forward
  // or a replay sends the stored bytes and headers).
  function sentBy(d, a) {
    const m = a && a.request;
    if (!m) return { headers: headersOf(d), body: d.body, body_encoding: d.body_encoding, body_size: d.body_size };
    if (m.body == null) return { headers: headersOf(m), body: d.body, body_encoding: d.body_encoding, body_size: d.body_size };
    return { headers: headersOf(m), body: m.body, body_encoding: m.body_encoding, body_size: m.body_size };
  }

  // renderRequest shows the request of attempt a, the one the Response
  // pane shows, so that the two are one exchange.
  function renderRequest(d, a) {
    const sent = sentBy(d, a);
    $("d-req-line").textContent = a ? a.kind + " · " + clock(a.started_at) : "as received";
    fillHeaders($("d-headers"), sent.headers);
    $("d-body-size").textContent = size(sent.body_size);
    fillBody($("d-body"), sent.body, sent.body_encoding, ((sent.headers || {})["Content-Type"] || [""])[0]);
  }

  function renderResponse(d) {
    const a = latest(d);
    const err = $("d-resp-error");
    err.hidden = true;
    if (!a) {
      $("d-resp-line").textContent = "not forwarded yet";
      $("d-resp-size").textContent = "";
      fillHeaders($("d-resp-headers"), {});
      fillBody($("d-resp-body"), "", "text");
      return;
    }
    $("d-resp-line").textContent = (a.status ? a.status : (a.timeout ? "TIMEOUT" : "no answer")) + " · " + a.kind + " · " + ms(a.duration_ms);
    if (a.error) { err.textContent = a.error; err.hidden = false; }
    $("d-resp-size").textContent = size(a.response.body_size);
    fillHeaders($("d-resp-headers"), a.response.headers);
    fillBody($("d-resp-body"), a.response.body, a.response.body_encoding, ((a.response.headers || {})["Content-Type"] || [""])[0]);
  }

  function renderDetail(d) {
    $("detail-empty").hidden = true;
    $("detail-body").hidden = false;
    $("detail-empty").classList.remove("missing");
    $("d-method").textContent = d.method;
    $("d-path").textContent = (d.path || "/") + (d.query ? "?" + d.query : "");
    $("d-sub").textContent = d.id + "  ·  received " + dateTime(d.received_at) + " (" + ago(d.received_at) + ")";
    $("btn-json").href = "/api/deliveries/" + encodeURIComponent(d.id) + "?download=1";

    const meta = [];
    const add = (k, v) => { if (v) meta.push(el("dt", null, k), el("dd", null, v)); };
    add("action", d.action);
    add("object type", d.object_type);
    add("entity", d.entity_id);
    add("object", d.object_id);
    add("event id", d.event_id);
    add("channel", d.channel);
    add("from", d.remote_addr);
    add("host", d.host ? (d.proto ? d.proto + "://" : "") + d.host : "");
    add("target", d.target);
    // hooktap's provider emulator says which subscription and attempt this is.
    const hdr = (name) => ((d.headers || {})[name] || [""])[0];
    if (hdr("X-Hooktap-Attempt")) add("emulator", "subscription " + hdr("X-Hooktap-Subscription-Id") + ", attempt " + hdr("X-Hooktap-Attempt"));
    $("d-meta").replaceChildren(...meta);

    const sig = $("d-sig");
    sig.replaceChildren(el("span", { class: "state sig-" + d.signature }, d.signature));
    if (d.scheme) sig.append(el("span", { class: "muted" }, d.scheme + "  "));
    if (d.signature_reason) sig.append(el("span", null, d.signature_reason));

    renderRequest(d, latest(d));
    renderResponse(d);
    const away = $("d-elsewhere");
    away.hidden = !d.last_elsewhere;
    away.textContent = d.last_elsewhere ? "last: " + elsewhereText(d.last_elsewhere) + " (not this row's status)" : "";

    const list = $("d-attempts");
    if (!d.history || d.history.length === 0) {
      list.replaceChildren(el("div", { class: "muted" }, "Not forwarded yet."));
    } else {
      const items = d.history.slice().reverse().map((a, i) => attemptBlock(a, i === 0, d));
      list.replaceChildren(...items);
    }
  }

  // textOf is a body as the page shows it: JSON re-indented, else as is.
  function textOf(b) {
    const nodes = prettyJSON(b);
    return nodes ? nodes.map((x) => x.textContent).join("") : b;
  }

  // diffLines is a line diff of two texts (longest common subsequence):
  // [[" " | "-" | "+", line], ...]; null when they are too long to compare
  // here.
  function diffLines(a, b) {
    const x = a.split("\n"), y = b.split("\n");
    if (x.length * y.length > 4e6) return null;
    const n = x.length, m = y.length;
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
      }
    }
    const out = [];
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[i] === y[j]) { out.push([" ", x[i]]); i++; j++; }
      // On a tie the old line goes first, as diff and git show a change.
      else if (i < n && (j === m || L[i + 1][j] >= L[i][j + 1])) { out.push(["-", x[i]]); i++; }
      else { out.push(["+", y[j]]); j++; }
    }
    return out;
  }

  // diffBlock shows what an attempt sent against the original body.
  function diffBlock(original, sent) {
    const lines = diffLines(textOf(original), textOf(sent));
    if (!lines) return el("div", { class: "muted" }, "too large to compare here");
    const pre = el("pre", { class: "code diff" });
    for (const [op, line] of lines) {
      pre.append(el("span", { class: op === "+" ? "d-add" : op === "-" ? "d-del" : "d-same" }, op + " " + line + "\n"));
    }
    return pre;
  }

  function attemptBlock(a, open, d) {
    const sc = !a.status ? "error" : Math.floor(a.status / 100) + "xx";
    const det = el("details", { class: "attempt" },
      el("summary", null,
        el("span", { class: "kind" }, a.kind),
        el("span", { class: "st s-" + sc }, a.status ? String(a.status) : (a.timeout ? "TIMEOUT" : "ERR")),
        el("span", { class: "mono" }, ms(a.duration_ms)),
        el("span", { class: "target mono", title: a.target }, a.target),
        el("span", { class: "when mono", title: dateTime(a.started_at) }, clock(a.started_at))));
    det.open = open;
    const inner = el("div", { class: "inner" });
    if (a.error) inner.append(el("div", { class: "err" }, a.error));
    if (!a.request) {
      inner.append(el("div", { class: "muted sent-as" }, "Sent the delivery as received: its stored headers and body."));
    } else {
      inner.append(el("h3", null, "Sent headers (re-signed)"), headerTable(headersOf(a.request)));
      const edited = a.request.body != null && a.request.body !== d.body;
      if (edited && a.request.body_encoding !== "base64" && d.body_encoding !== "base64") {
        inner.append(el("h3", null, "Sent body against the original ", el("span", { class: "muted" }, size(a.request.body_size))),
          diffBlock(d.body || "", a.request.body));
      } else {
        inner.append(el("h3", null, "Sent body ", el("span", { class: "muted" }, edited ? size(a.request.body_size) : "the original")),
          bodyBlock(a.request.body, a.request.body_encoding));
      }
    }
    if (a.status) {
      inner.append(el("h3", null, "Response headers"), headerTable(headersOf(a.response)));
      inner.append(el("h3", null, "Response body ", el("span", { class: "muted" }, size(a.response.body_size))),
        bodyBlock(a.response.body, a.response.body_encoding));
    }
    det.append(inner);
    return det;
  }

  // prettyJSON re-indents JSON text token by token (numbers stay exactly as
  // sent: no JSON.parse round trip) and returns coloured nodes, or null when
  // the text is not JSON.
  function prettyJSON(text) {
    try { JSON.parse(text); } catch (e) { return null; }
    const out = [];
    let buf = "";
    const flush = () => { if (buf) { out.push(document.createTextNode(buf)); buf = ""; } };
    const span = (cls, s) => { flush(); out.push(el("span", { class: cls }, s)); };
    let depth = 0;
    const nl = () => { buf += "\n" + "  ".repeat(depth); };
    let i = 0;
    const n = text.length;
    let prev = "";
    while (i < n) {
      const c = text[i];
      if (c === " " || c === "\n" || c === "\r" || c === "\t") { i++; continue; }
      if (c === '"') {
        let j = i + 1;
        while (j < n && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
        const s = text.slice(i, j + 1);
        i = j + 1;
        let k = i;
        while (k < n && /\s/.test(text[k])) k++;
        span(text[k] === ":" ? "j-key" : "j-str", s);
        prev = "v";
        continue;
      }
      if (c === "{" || c === "[") {
        // empty containers stay on one line
        let k = i + 1;
        while (k < n && /\s/.test(text[k])) k++;
        if (text[k] === (c === "{" ? "}" : "]")) {
          span("j-punct", c + text[k]);
          i = k + 1;
          prev = "v";
          continue;
        }
        span("j-punct", c);
        depth++;
        nl();
        i++;
        prev = "open";
        continue;
      }
      if (c === "}" || c === "]") {
        depth--;
        nl();
        span("j-punct", c);
        i++;
        prev = "v";
        continue;
      }
      if (c === ",") { span("j-punct", ","); nl(); i++; prev = ","; continue; }
      if (c === ":") { span("j-punct", ":"); buf += " "; i++; prev = ":"; continue; }
      let j = i;
      while (j < n && !/[\s,:\]\}]/.test(text[j])) j++;
      const tok = text.slice(i, j);
      span(/^-?\d/.test(tok) ? "j-num" : "j-lit", tok);
      i = j;
      prev = "v";
    }
    flush();
    return out;
  }

  // ---- actions ----------------------------------------------------------

  function showResult(ok, msg, extra) {
    const r = $("result");
    r.className = "result " + (ok === null ? "busy" : ok ? "ok" : "bad");
    r.replaceChildren(el("span", null, msg));
    if (extra) r.append(el("pre", null, extra));
    r.hidden = false;
  }

  function describeAttempt(a) {
    const what = a.kind === "replay" ? "Replayed" : "Resent";
    if (!a.status) return [false, what + " to " + a.target + ": no answer (" + (a.error || "error") + ") after " + ms(a.duration_ms)];
    return [a.status < 400, what + " to " + a.target + ": " + a.status + " in " + ms(a.duration_ms)];
  }

  let busy = false;
  async function send(kind, extra) {
    const d = state.open;
    if (!d || busy) return;
    busy = true;
    const body = Object.assign({}, extra || {});
    const to = $("to").value.trim();
    if (to) body.to = to;
    if (kind === "resend") {
      const secret = $("secret").value;
      if (secret) body.secret = secret;
    }
    showResult(null, (kind === "replay" ? "Replaying " : "Resending ") + d.id + " …");
    for (const b of document.querySelectorAll(".actions button")) b.disabled = true;
    try {
      const res = await api("POST", "/api/deliveries/" + encodeURIComponent(d.id) + "/" + kind, body);
      const [ok, msg] = describeAttempt(res.attempt);
      showResult(ok, msg);
      updateRow(res.delivery);
      await refreshOpen();
      return true;
    } catch (e) {
      showResult(false, e.message);
      if (/secret/.test(e.message)) { $("secret-box").hidden = false; $("secret").focus(); }
      return false;
    } finally {
      busy = false;
      for (const b of document.querySelectorAll(".actions button")) b.disabled = false;
    }
  }

  async function copyCurl() {
    const d = state.open;
    if (!d) return;
    try {
      const to = $("to").value.trim();
      const cmd = (await api("GET", "/api/deliveries/" + encodeURIComponent(d.id) + "/curl" + (to ? "?to=" + encodeURIComponent(to) : ""))).trimEnd();
      let copied = false;
      try {
        await navigator.clipboard.writeText(cmd);
        copied = true;
      } catch (e) { /* no clipboard permission: the command is shown to copy by hand */ }
      showResult(true, copied ? "Copied a curl command to the clipboard:" : "curl command (select and copy):", cmd);
    } catch (e) {
      showResult(false, e.message);
    }
  }

  function openEditor() {
    const d = state.open;
    if (!d) return;
    if (d.body_encoding === "base64") {
      showResult(false, "This body is binary; only JSON bodies can be edited here.");
      return;
    }
    const ta = $("editor-text");
    let text = d.body || "";
    try {
      const nodes = prettyJSON(d.body);
      if (nodes) text = nodes.map((x) => x.textContent).join("");
    } catch (e) { /* keep the raw text */ }
    ta.value = text;
    $("editor").hidden = false;
    validateEditor();
    ta.focus();
  }
  function closeEditor() { $("editor").hidden = true; }
  function validateEditor() {
    const ta = $("editor-text");
    const st = $("editor-state");
    try {
      JSON.parse(ta.value);
      ta.classList.remove("bad");
      st.classList.remove("bad");
      st.textContent = "valid JSON · re-signed with a fresh timestamp when sent";
      $("editor-send").disabled = false;
      return true;
    } catch (e) {
      ta.classList.add("bad");
      st.classList.add("bad");
      st.textContent = "not valid JSON: " + e.message;
      $("editor-send").disabled = true;
      return false;
    }
  }
  async function sendEdited() {
    if (!validateEditor()) return;
    if (await send("resend", { body: $("editor-text").value })) closeEditor();
  }

  // ---- theme, help, keys ------------------------------------------------

  function setTheme(t) {
    if (t) document.documentElement.dataset.theme = t;
    else delete document.documentElement.dataset.theme;
  }
  function toggleTheme() {
    const cur = document.documentElement.dataset.theme ||
      (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
    const next = cur === "dark" ? "light" : "dark";
    setTheme(next);
    try { localStorage.setItem("hooktap-theme", next); } catch (e) { /* private mode */ }
  }
  try { setTheme(localStorage.getItem("hooktap-theme")); } catch (e) { /* private mode */ }

  function toggleHelp(show) {
    $("help").hidden = show === undefined ? !$("help").hidden : !show;
  }

  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement;
    if (ev.key === "Escape") {
      if (!$("help").hidden) { toggleHelp(false); return; }
      if (typing) { t.blur(); return; }
      if (!$("editor").hidden) closeEditor();
      return;
    }
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    switch (ev.key) {
      case "j": case "ArrowDown": select(state.sel + 1); break;
      case "k": case "ArrowUp": select(state.sel < 0 ? 0 : state.sel - 1); break;
      case "g": case "Home": select(0); break;
      case "G": case "End": select(state.items.length - 1); break;
      case "Enter": openSelected(); break;
      case "/": $("filter").focus(); $("filter").select(); break;
      case "r": send("replay"); break;
      case "R": send("resend"); break; // R, as in the terminal UI
      case "e": openEditor(); break;
      case "c": copyCurl(); break;
      case "t": toggleTheme(); break;
      case "?": toggleHelp(); break;
      default: return;
    }
    ev.preventDefault();
  });

  $("filter").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); loadList(); }
  });
  let filterTimer = null;
  $("filter").addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(loadList, 400);
  });
  $("older").addEventListener("click", loadOlder);
  $("btn-replay").addEventListener("click", () => send("replay"));
  $("btn-resend").addEventListener("click", () => send("resend"));
  $("btn-edit").addEventListener("click", openEditor);
  $("btn-curl").addEventListener("click", copyCurl);
  $("editor-text").addEventListener("input", validateEditor);
  $("editor-cancel").addEventListener("click", closeEditor);
  $("editor-send").addEventListener("click", sendEdited);
  $("theme").addEventListener("click", toggleTheme);
  $("help-btn").addEventListener("click", () => toggleHelp());
  $("help").addEventListener("click", (ev) => { if (ev.target === $("help")) toggleHelp(false); });

  (async function start() {
    await loadStatus();
    connect(); // before the first page, so nothing falls between the two
    await loadList();
    await openFromURL();
    addEventListener("hashchange", openFromURL);
    document.body.dataset.ready = "1";
  })();
})();
