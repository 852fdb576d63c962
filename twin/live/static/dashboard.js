// Twin live dashboard: plain ES2020, no build step, no external requests.
//
// It polls the twin's read API (docs/reference/live-api.md) and draws the road network itself
// on a canvas (no map tiles: the dashboard must work on a depot network without
// internet). State lives in one object; every poll updates it and asks for a
// redraw. `window.twinDashboard` exposes what is drawn so tests can check it.
"use strict";

(() => {
  // -- settings ---------------------------------------------------------------------
  const FAST_MS = 1000; // KPIs and vehicle positions
  const SLOW_MS = 2500; // orders, alerts, predictions, selected order
  const ANIM_MS = 900; // vehicles glide to a new position over this long
  const ORDERS_LIMIT = 1000; // the API's largest page
  const ORDER_STATUSES = ["routed", "open", "failed", "cancelled", "delivered"];
  const RISK_MEDIUM = 0.2; // miss probability where a stop turns amber
  const RISK_HIGH = 0.5; // ... and red (the API's "predicted late" threshold)

  // Road classes (twin.maps.network.ROAD_CLASSES), least important first so that
  // major roads are drawn on top. width in CSS px at zoom 1.
  const ROAD_STYLE = {
    other: { color: "#d5d9df", width: 0.8 },
    residential: { color: "#c3c9d2", width: 1.1 },
    tertiary: { color: "#aab2be", width: 1.6 },
    secondary: { color: "#e9c46a", width: 2.2, casing: "#c9a443" },
    primary: { color: "#f4a259", width: 2.8, casing: "#cf8338" },
    trunk: { color: "#e76f51", width: 3.4, casing: "#b9533a" },
    motorway: { color: "#d1495b", width: 4.2, casing: "#9c3142" },
  };
  const ROAD_ORDER = ["other", "residential", "tertiary", "secondary", "primary", "trunk", "motorway"];

  const COLORS = {
    low: "#2e9d5b",
    medium: "#e69b00",
    high: "#d64541",
    routed: "#2f7de1",
    open: "#8a94a6",
    delivered: "#b4bfcc",
    failed: "#8e44ad",
    cancelled: "#5c6470",
    vehicle: "#1c8fd6",
    vehicleBreak: "#e6b800",
    vehicleOff: "#8a94a6",
    hub: "#1c2430",
    route: "#1c8fd6",
    selected: "#111827",
  };

  // -- state ------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);
  const canvas = $("map");
  const ctx = canvas.getContext("2d");
  const roadLayer = document.createElement("canvas");

  const S = {
    token: null,
    network: null, // {bbox, classes, hubs, attribution}
    view: { zoom: 1, panX: 0, panY: 0 },
    size: { w: 0, h: 0, dpr: 1 },
    roadsDirty: true,
    vehicles: new Map(), // id -> {data, from: [lat, lon], to: [lat, lon], t0}
    orders: new Map(), // id -> order
    risk: new Map(), // order id -> p_miss_window
    kpis: null,
    state: null,
    alerts: [],
    day0: null, // Date (UTC fields hold the local wall clock) of midnight, day 0
    selectedOrder: null,
    selectedVehicle: null,
    searchSeq: 0,
    drag: null,
    ok: null,
  };

  const dash = {
    vehicles: {}, // id -> {lat, lon, status, x, y}: the latest positions drawn
    lastUpdate: null, // ms since epoch of the latest successful vehicle poll
    updates: 0,
    networkDrawn: false,
    roadsDrawn: 0,
    stopsDrawn: 0,
    kpis: null,
    now: null,
    errors: [],
  };
  window.twinDashboard = dash;

  // -- API --------------------------------------------------------------------------
  function readToken() {
    const m = /(?:^|[#&])token=([^&]+)/.exec(window.location.hash || "");
    S.token = m ? decodeURIComponent(m[1]) : null;
  }

  class ApiError extends Error {
    constructor(status, path) {
      super(`${path}: HTTP ${status}`);
      this.status = status;
    }
  }

  async function api(path) {
    const headers = { Accept: "application/json" };
    if (S.token) headers.Authorization = `Bearer ${S.token}`;
    const res = await fetch(path, { headers, cache: "no-store" });
    if (!res.ok) throw new ApiError(res.status, path);
    return res.json();
  }

  function setConnection(ok, text) {
    if (S.ok === ok && $("conn-text").textContent === text) return;
    S.ok = ok;
    const box = $("conn");
    box.className = `conn ${ok ? "conn-ok" : "conn-bad"}`;
    $("conn-text").textContent = text;
  }

  function noteError(err) {
    const msg = err && err.message ? err.message : String(err);
    dash.errors.push(msg);
    if (dash.errors.length > 50) dash.errors.shift();
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      setConnection(false, "token needed: open with #token=…");
    } else {
      setConnection(false, "offline, retrying");
    }
  }

  // -- time -------------------------------------------------------------------------
  // The twin's times are local wall-clock times of the operation. They are kept in
  // the UTC fields of a Date so that the browser's own time zone never shifts them.
  const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function parseLocal(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?/.exec(iso || "");
    if (!m) return null;
    return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)));
  }

  const pad = (n) => String(n).padStart(2, "0");
  const hhmm = (d) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;

  function dayOf(d) {
    return Math.floor(d.getTime() / 86400000);
  }

  function fromSeconds(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return null;
    if (S.day0) return new Date(S.day0.getTime() + s * 1000);
    return new Date(Date.UTC(2000, 0, 1) + s * 1000); // day unknown: clock time still right
  }

  // "10:15", with the weekday when it is not the twin's current day.
  function fmtTime(d) {
    if (!d) return "—";
    const now = parseLocal(dash.now);
    const sameDay = !now || !S.day0 || dayOf(now) === dayOf(d);
    return sameDay ? hhmm(d) : `${WEEKDAYS[d.getUTCDay()]} ${hhmm(d)}`;
  }

  const fmtS = (s) => fmtTime(fromSeconds(s));

  function fmtIsoOrS(iso, s) {
    const d = iso ? parseLocal(iso) : null;
    return fmtTime(d || fromSeconds(s));
  }

  function fmtClock(iso) {
    const d = parseLocal(iso);
    if (!d) return "—";
    const date = `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
    return `${date} · ${hhmm(d)}:${pad(d.getUTCSeconds())}`;
  }

  const pct = (x) => (x === null || x === undefined || !Number.isFinite(x) ? "—" : `${(100 * x).toFixed(1)}%`);

  function riskLevel(p) {
    if (p === null || p === undefined || !Number.isFinite(p)) return null;
    if (p >= RISK_HIGH) return "high";
    if (p >= RISK_MEDIUM) return "medium";
    return "low";
  }

  // -- DOM helpers ------------------------------------------------------------------
  // Text goes in with textContent only: ids and reasons come from the field.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "class") node.className = v;
      else if (k === "style") node.setAttribute("style", v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function setTile(id, text, bad) {
    const node = $(id);
    if (node.textContent !== text) {
      node.textContent = text;
      node.classList.add("changed");
      setTimeout(() => node.classList.remove("changed"), 600);
    }
    node.classList.toggle("bad", Boolean(bad));
  }

  // -- projection and view ----------------------------------------------------------
  function baseFrame() {
    const [minLon, minLat, maxLon, maxLat] = S.network.bbox;
    const cLat = (minLat + maxLat) / 2;
    const cLon = (minLon + maxLon) / 2;
    const kx = Math.cos((cLat * Math.PI) / 180);
    const spanX = Math.max((maxLon - minLon) * kx, 1e-6);
    const spanY = Math.max(maxLat - minLat, 1e-6);
    // Keep the legend (bottom left) off the roads when the panel is wide enough.
    const legend = $("legend");
    const inset = legend && legend.offsetWidth ? legend.offsetWidth + 24 : 0;
    const room = S.size.w - inset >= 0.6 * S.size.w ? inset : 0;
    const scale = 0.92 * Math.min((S.size.w - room) / spanX, S.size.h / spanY);
    return { cLat, cLon, kx, scale, shiftX: room / 2 };
  }

  let frame = null;

  function project(lat, lon) {
    const v = S.view;
    const x = S.size.w / 2 + frame.shiftX + v.panX + (lon - frame.cLon) * frame.kx * frame.scale * v.zoom;
    const y = S.size.h / 2 + v.panY - (lat - frame.cLat) * frame.scale * v.zoom;
    return [x, y];
  }

  function resize() {
    const rect = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(rect.width));
    const h = Math.max(1, Math.round(rect.height));
    if (w === S.size.w && h === S.size.h && dpr === S.size.dpr) return;
    S.size = { w, h, dpr };
    for (const c of [canvas, roadLayer]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    if (S.network) frame = baseFrame();
    S.roadsDirty = true;
    requestDraw();
  }

  function zoomAt(factor, mx, my) {
    const v = S.view;
    const z = Math.min(40, Math.max(0.5, v.zoom * factor));
    if (!frame) return;
    const cx = S.size.w / 2 + frame.shiftX;
    const wx = (mx - cx - v.panX) / v.zoom;
    const wy = (my - S.size.h / 2 - v.panY) / v.zoom;
    v.panX = mx - cx - wx * z;
    v.panY = my - S.size.h / 2 - wy * z;
    v.zoom = z;
    S.roadsDirty = true;
    requestDraw();
  }

  // -- drawing ----------------------------------------------------------------------
  function drawRoads() {
    const c = roadLayer.getContext("2d");
    c.setTransform(S.size.dpr, 0, 0, S.size.dpr, 0, 0);
    c.clearRect(0, 0, S.size.w, S.size.h);
    c.fillStyle = "#f7f8fa";
    c.fillRect(0, 0, S.size.w, S.size.h);
    c.lineCap = "round";
    c.lineJoin = "round";
    const grow = Math.min(2.5, Math.sqrt(S.view.zoom));
    const classes = S.network.classes || {};
    const names = [...ROAD_ORDER, ...Object.keys(classes).filter((n) => !ROAD_ORDER.includes(n))];
    let drawn = 0;
    // Casings first for all major classes, then the fills, so junctions look clean.
    for (const pass of ["casing", "fill"]) {
      for (const name of names) {
        const lines = classes[name];
        if (!lines || !lines.length) continue;
        const style = ROAD_STYLE[name] || ROAD_STYLE.other;
        if (pass === "casing" && !style.casing) continue;
        c.strokeStyle = pass === "casing" ? style.casing : style.color;
        c.lineWidth = style.width * grow + (pass === "casing" ? 1.6 : 0);
        c.beginPath();
        for (const line of lines) {
          if (line.length < 4) continue;
          let [x, y] = project(line[1], line[0]);
          c.moveTo(x, y);
          for (let i = 2; i + 1 < line.length; i += 2) {
            [x, y] = project(line[i + 1], line[i]);
            c.lineTo(x, y);
          }
          if (pass === "fill") drawn += 1;
        }
        c.stroke();
      }
    }
    S.roadsDirty = false;
    dash.roadsDrawn = drawn;
    dash.networkDrawn = drawn > 0;
  }

  function vehiclePosition(v, t) {
    if (!v.from) return v.to;
    const k = Math.min(1, (t - v.t0) / ANIM_MS);
    const e = k < 0.5 ? 2 * k * k : 1 - (-2 * k + 2) ** 2 / 2; // ease in-out
    return [v.from[0] + (v.to[0] - v.from[0]) * e, v.from[1] + (v.to[1] - v.from[1]) * e];
  }

  function stopStyle(o) {
    if (o.status === "routed") {
      const level = riskLevel(S.risk.get(o.order_id));
      return { color: level ? COLORS[level] : COLORS.routed, r: 4.2, layer: level === "high" ? 6 : 5 };
    }
    if (o.status === "open") return { color: COLORS.open, r: 4, ring: true, layer: 4 };
    if (o.status === "failed") return { color: COLORS.failed, r: 4, layer: 3 };
    if (o.status === "cancelled") return { color: COLORS.cancelled, r: 3, square: true, layer: 2 };
    return { color: COLORS.delivered, r: 2.6, layer: 1 }; // delivered
  }

  function draw(t) {
    if (!S.network || !frame) return false;
    if (S.roadsDirty) drawRoads();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(roadLayer, 0, 0);
    ctx.setTransform(S.size.dpr, 0, 0, S.size.dpr, 0, 0);

    // Stops, least important underneath.
    const stops = [];
    for (const o of S.orders.values()) {
      if (!Number.isFinite(o.lat) || !Number.isFinite(o.lon)) continue;
      stops.push([stopStyle(o), o]);
    }
    stops.sort((a, b) => a[0].layer - b[0].layer);
    for (const [st, o] of stops) {
      const [x, y] = project(o.lat, o.lon);
      o._xy = [x, y];
      ctx.beginPath();
      if (st.square) {
        ctx.rect(x - st.r, y - st.r, 2 * st.r, 2 * st.r);
      } else {
        ctx.arc(x, y, st.r, 0, 2 * Math.PI);
      }
      if (st.ring) {
        ctx.fillStyle = "#ffffff";
        ctx.fill();
        ctx.lineWidth = 1.8;
        ctx.strokeStyle = st.color;
        ctx.stroke();
      } else {
        ctx.fillStyle = st.color;
        ctx.fill();
        ctx.lineWidth = 0.8;
        ctx.strokeStyle = "rgba(255,255,255,0.9)";
        ctx.stroke();
      }
    }
    dash.stopsDrawn = stops.length;

    // The selected vehicle's remaining route, stop by stop, back to its hub.
    let moving = false;
    const now = t || performance.now();
    const positions = new Map();
    for (const [id, v] of S.vehicles) {
      const p = vehiclePosition(v, now);
      if (v.from && now - v.t0 < ANIM_MS) moving = true;
      positions.set(id, p);
    }
    if (S.selectedVehicle && positions.has(S.selectedVehicle)) {
      const v = S.vehicles.get(S.selectedVehicle);
      const pts = [project(...positions.get(S.selectedVehicle))];
      for (const oid of v.data.route || []) {
        const o = S.orders.get(oid);
        if (o) pts.push(project(o.lat, o.lon));
      }
      ctx.save();
      ctx.setLineDash([6, 5]);
      ctx.lineWidth = 2;
      ctx.strokeStyle = COLORS.route;
      ctx.beginPath();
      pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
      ctx.restore();
    }

    // Hubs.
    for (const h of S.network.hubs || []) {
      if (!Number.isFinite(h.lat) || !Number.isFinite(h.lon)) continue;
      const [x, y] = project(h.lat, h.lon);
      ctx.fillStyle = COLORS.hub;
      ctx.fillRect(x - 7, y - 7, 14, 14);
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 7, y - 7, 14, 14);
      ctx.fillStyle = "#fff";
      ctx.font = "bold 9px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("H", x, y + 0.5);
      const name = h.hub_id || h.id || h.name;
      if (name) {
        ctx.fillStyle = COLORS.hub;
        ctx.font = "600 11px system-ui, sans-serif";
        ctx.textAlign = "left";
        ctx.fillText(String(name), x + 10, y);
      }
    }

    // The selected order.
    const sel = S.selectedOrder && S.orders.get(S.selectedOrder);
    if (sel && sel._xy) {
      ctx.beginPath();
      ctx.arc(sel._xy[0], sel._xy[1], 9, 0, 2 * Math.PI);
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = COLORS.selected;
      ctx.stroke();
    }

    // Vehicles on top.
    const shown = {};
    ctx.font = "600 11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    for (const [id, v] of S.vehicles) {
      const [lat, lon] = positions.get(id);
      const [x, y] = project(lat, lon);
      v._xy = [x, y];
      const status = v.data.status;
      const color =
        status === "on_break" ? COLORS.vehicleBreak : status === "off_duty" ? COLORS.vehicleOff : COLORS.vehicle;
      const r = id === S.selectedVehicle ? 9 : 7;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = color;
      ctx.fill();
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
      ctx.lineWidth = 1;
      ctx.strokeStyle = "rgba(0,0,0,0.35)";
      ctx.stroke();
      const label = shortId(id);
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.strokeText(label, x + r + 3, y);
      ctx.fillStyle = "#1c2430";
      ctx.fillText(label, x + r + 3, y);
      shown[id] = { lat: v.to[0], lon: v.to[1], drawnLat: lat, drawnLon: lon, status, x, y };
    }
    dash.vehicles = shown;
    return moving;
  }

  const shortId = (id) => String(id).split("/").pop();

  let drawPending = false;
  function requestDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame((t) => {
      drawPending = false;
      if (draw(t)) requestDraw();
    });
  }

  // -- polling ----------------------------------------------------------------------
  function loop(fn, every) {
    const tick = async () => {
      try {
        await fn();
      } catch (err) {
        noteError(err);
      }
      setTimeout(tick, every);
    };
    tick();
  }

  async function loadNetwork() {
    try {
      S.network = await api("/network");
    } catch (err) {
      noteError(err);
      $("map-status").textContent = "Waiting for the road network…";
      setTimeout(loadNetwork, 3000);
      return;
    }
    // The map's own credit line: "© OpenStreetMap contributors" for OSM data (the
    // server adds it to a real map's), the synthetic label for a generated map.
    const attribution = S.network.attribution || "";
    $("attribution").textContent = attribution;
    $("map-credit").textContent = attribution ? `Map: ${attribution}.` : "";
    $("map-status").hidden = true;
    if (S.network.name) {
      $("scenario-line").textContent = `Map: ${S.network.name}${S.network.synthetic ? " (synthetic)" : ""}`;
    }
    frame = baseFrame();
    S.roadsDirty = true;
    requestDraw();
  }

  async function pollFast() {
    const [kpis, vehicles] = await Promise.all([api("/kpis"), api("/vehicles")]);
    S.kpis = kpis;
    dash.kpis = kpis;
    dash.now = kpis.now || dash.now;
    $("clock").textContent = fmtClock(dash.now);
    setTile("kpi-on-time", pct(kpis.on_time_rate), kpis.on_time_rate !== null && kpis.on_time_rate < 0.9);
    setTile(
      "kpi-first-attempt",
      pct(kpis.first_attempt_success_rate),
      kpis.first_attempt_success_rate !== null && kpis.first_attempt_success_rate < 0.9,
    );
    setTile("kpi-open", String(kpis.open_orders ?? "—"));
    setTile("kpi-late", String(kpis.predicted_late ?? "—"), (kpis.predicted_late || 0) > 0);
    updateVehicles(Array.isArray(vehicles) ? vehicles : vehicles.vehicles || []);
    dash.lastUpdate = Date.now();
    dash.updates += 1;
    $("last-update").textContent = `Updated ${new Date(dash.lastUpdate).toLocaleTimeString()} · polling every ${FAST_MS / 1000} s`;
    setConnection(true, "live");
  }

  function updateVehicles(list) {
    const t = performance.now();
    const seen = new Set();
    for (const data of list) {
      const id = data.vehicle_id;
      if (!Number.isFinite(data.lat) || !Number.isFinite(data.lon)) continue;
      seen.add(id);
      const to = [data.lat, data.lon];
      const old = S.vehicles.get(id);
      if (!old) {
        S.vehicles.set(id, { data, from: null, to, t0: t });
      } else {
        const moved = old.to[0] !== to[0] || old.to[1] !== to[1];
        const from = moved ? vehiclePosition(old, t) : null;
        S.vehicles.set(id, { data, from, to, t0: t });
      }
    }
    for (const id of [...S.vehicles.keys()]) if (!seen.has(id)) S.vehicles.delete(id);
    renderFleet(list);
    requestDraw();
  }

  function renderFleet(list) {
    const body = $("fleet-body");
    const rows = list
      .slice()
      .sort((a, b) => String(a.vehicle_id).localeCompare(String(b.vehicle_id)))
      .map((v) => {
        const status = v.status || "unknown";
        const dot = status === "on_break" ? COLORS.vehicleBreak : status === "on_duty" ? COLORS.vehicle : COLORS.vehicleOff;
        const pOver = Number.isFinite(v.p_overtime) ? pct(v.p_overtime) : "—";
        return el(
          "tr",
          {
            class: v.vehicle_id === S.selectedVehicle ? "selected" : null,
            "data-vehicle-id": v.vehicle_id,
            title: v.driver_id ? `driver ${v.driver_id}` : null,
            onclick: () => selectVehicle(v.vehicle_id),
          },
          el("td", {}, shortId(v.vehicle_id)),
          el("td", {}, el("i", { class: "sw", style: `background:${dot}` }), status.replace("_", " ")),
          el("td", {}, `${v.delivered ?? 0} / ${v.failed ?? 0}`),
          el("td", {}, String((v.route || []).length)),
          el("td", { class: v.p_overtime >= 0.5 ? "risk-high" : null }, pOver),
        );
      });
    body.replaceChildren(...rows);
    const onDuty = list.filter((v) => v.status === "on_duty" || v.status === "on_break").length;
    setTile("kpi-vehicles", `${onDuty} / ${list.length}`);
  }

  async function pollSlow() {
    // Orders by status: the API returns at most ORDERS_LIMIT per request, newest
    // first, so a busy day still shows every stop that needs attention.
    const results = await Promise.allSettled([
      api("/alerts"),
      api("/predictions"),
      api("/state"),
      ...ORDER_STATUSES.map((s) => api(`/orders?status=${s}&limit=${ORDERS_LIMIT}`)),
    ]);
    const values = results.map((r) => (r.status === "fulfilled" ? r.value : null));
    const [alerts, predictions, state] = values;
    const byStatus = values.slice(3);
    const orders = byStatus.every((v) => Array.isArray(v)) ? byStatus.flat() : null;
    if (state) {
      S.state = state;
      if (state.now && Number.isFinite(state.now_s)) {
        const now = parseLocal(state.now);
        if (now) S.day0 = new Date(now.getTime() - state.now_s * 1000);
        if (S.day0) S.day0 = new Date(Math.round(S.day0.getTime() / 86400000) * 86400000);
      }
      const done = (state.orders_delivered ?? 0) + (state.orders_failed ?? 0);
      $("kpi-open-note").textContent = `${state.orders ?? 0} orders today · ${done} attempted`;
    }
    if (predictions) {
      S.risk.clear();
      const list = Array.isArray(predictions.orders) ? predictions.orders : Object.values(predictions.orders || {});
      for (const f of list) if (f && f.order_id) S.risk.set(f.order_id, f.p_miss_window);
    }
    if (orders) S.orders = new Map(orders.map((o) => [o.order_id, o]));
    if (alerts) renderAlerts(Array.isArray(alerts) ? alerts : alerts.alerts || []);
    if (S.selectedOrder) await showOrder(S.selectedOrder, { quiet: true });
    requestDraw();
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  function renderAlerts(list) {
    S.alerts = list;
    const rank = { critical: 0, error: 0, high: 0, warning: 1, medium: 1, info: 2, low: 2 };
    const sorted = list
      .slice()
      .sort((a, b) => (rank[a.severity] ?? 3) - (rank[b.severity] ?? 3) || (b.time_s ?? 0) - (a.time_s ?? 0));
    const items = sorted.slice(0, 100).map((a) =>
      el(
        "li",
        {
          class: a.order_id || a.vehicle_id ? "clickable" : null,
          "data-kind": a.kind,
          onclick: () => {
            if (a.order_id) showOrder(a.order_id);
            else if (a.vehicle_id) selectVehicle(a.vehicle_id);
          },
        },
        el("span", { class: `sev sev-${a.severity || "info"}` }, a.severity || "info"),
        el("div", {}, el("div", {}, a.message || a.kind || ""), el("div", { class: "alert-time" }, fmtS(a.time_s))),
      ),
    );
    const box = $("alerts");
    box.replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No alerts.")]));
    const badge = $("alert-count");
    badge.textContent = String(list.length);
    badge.classList.toggle("hot", list.some((a) => rank[a.severity] === 0));
  }

  // -- search and order detail ------------------------------------------------------
  let searchTimer = null;

  async function search(q, openFirst) {
    const seq = ++S.searchSeq;
    const box = $("search-results");
    if (!q) {
      box.replaceChildren();
      return;
    }
    let list;
    try {
      list = await api(`/orders?q=${encodeURIComponent(q)}&limit=20`);
    } catch (err) {
      noteError(err);
      return;
    }
    if (seq !== S.searchSeq) return; // a newer search has started
    list = Array.isArray(list) ? list : list.orders || [];
    box.replaceChildren(
      ...(list.length
        ? list.map((o) =>
            el(
              "li",
              { "data-testid": "search-result", "data-order-id": o.order_id, onclick: () => showOrder(o.order_id) },
              el("span", {}, o.order_id),
              el("span", { class: `status status-${o.status}` }, o.status),
            ),
          )
        : [el("li", { class: "muted" }, "No order matches.")]),
    );
    if (openFirst && list.length) {
      const exact = list.find((o) => o.order_id.toLowerCase() === q.toLowerCase());
      showOrder((exact || list[0]).order_id);
    }
  }

  async function showOrder(id, opts = {}) {
    const box = $("order-detail");
    let o;
    try {
      o = await api(`/orders/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        box.replaceChildren(el("p", { class: "muted" }, `No order ${id}.`));
        S.selectedOrder = null;
        return;
      }
      if (!opts.quiet) noteError(err);
      return;
    }
    if (opts.quiet && S.selectedOrder !== id) return; // the selection changed meanwhile
    S.selectedOrder = id;
    renderOrder(o);
    requestDraw();
  }

  function renderOrder(o) {
    const box = $("order-detail");
    const p = o.p_miss_window;
    const level = riskLevel(p);
    const hasEta = Number.isFinite(o.eta_p50_s);
    const rows = [
      ["Window", `${fmtS(o.window_start_s)} – ${fmtS(o.window_end_s)}`, "order-window"],
      [
        "ETA P10–P50–P90",
        hasEta
          ? `${fmtIsoOrS(o.eta_p10, o.eta_p10_s)} – ${fmtIsoOrS(o.eta_p50, o.eta_p50_s)} – ${fmtIsoOrS(o.eta_p90, o.eta_p90_s)}`
          : "—",
        "order-eta",
      ],
      [
        "Miss risk",
        level ? el("span", { class: `risk-${level}` }, `${pct(p)} (${level})`) : "—",
        "order-risk",
      ],
      ["Vehicle", o.vehicle_id ? vehicleLine(o) : "—", "order-vehicle"],
      ["Attempts", String(o.attempts ?? 0), "order-attempts"],
    ];
    if (o.status === "delivered") {
      const verdict = o.delivered_on_time === true ? "on time" : o.delivered_on_time === false ? "late" : "";
      rows.push(["Delivered", `${fmtS(o.delivered_s)} ${verdict}`.trim(), "order-delivered"]);
    }
    rows.push(["Option", `${o.option || "home"} · ${o.parcels ?? 1} parcel${o.parcels === 1 ? "" : "s"}`, "order-option"]);
    const dl = el("dl", {});
    for (const [k, v, tid] of rows) {
      dl.append(el("dt", {}, k), el("dd", { "data-testid": tid }, v));
    }
    const parts = [
      el(
        "h3",
        {},
        el("span", { "data-testid": "order-id" }, o.order_id),
        el("span", { class: `status status-${o.status}`, "data-testid": "order-status" }, o.status),
      ),
      dl,
    ];
    if (hasEta) parts.push(etaBand(o));
    box.replaceChildren(...parts);
  }

  function vehicleLine(o) {
    const v = S.vehicles.get(o.vehicle_id);
    const route = v ? v.data.route || [] : [];
    const k = route.indexOf(o.order_id);
    const where = k >= 0 ? ` · stop ${k + 1} of ${route.length}` : "";
    return el(
      "a",
      { href: "#", onclick: (ev) => (ev.preventDefault(), selectVehicle(o.vehicle_id)) },
      `${o.vehicle_id}${where}`,
    );
  }

  // The window (green) and the ETA band P10–P90 (blue) with P50 on one time axis.
  function etaBand(o) {
    const lo = Math.min(o.window_start_s, o.eta_p10_s);
    const hi = Math.max(o.window_end_s, o.eta_p90_s);
    const span = Math.max(hi - lo, 1);
    const at = (s) => `${(100 * (s - lo)) / span}%`;
    const width = (a, b) => `${(100 * Math.max(b - a, 0)) / span}%`;
    return el(
      "div",
      { class: "eta-band", "data-testid": "eta-band", title: "window (green), ETA P10–P90 (blue), P50 (line)" },
      el("div", { class: "win", style: `left:${at(o.window_start_s)};width:${width(o.window_start_s, o.window_end_s)}` }),
      el("div", { class: "band", style: `left:${at(o.eta_p10_s)};width:${width(o.eta_p10_s, o.eta_p90_s)}` }),
      el("div", { class: "p50", style: `left:${at(o.eta_p50_s)}` }),
    );
  }

  function selectVehicle(id) {
    S.selectedVehicle = S.selectedVehicle === id ? null : id;
    for (const tr of $("fleet-body").querySelectorAll("tr")) {
      tr.classList.toggle("selected", tr.dataset.vehicleId === S.selectedVehicle);
    }
    requestDraw();
  }

  // -- map interaction --------------------------------------------------------------
  function hit(mx, my) {
    let best = null;
    let bestD = 12;
    for (const [id, v] of S.vehicles) {
      if (!v._xy) continue;
      const d = Math.hypot(v._xy[0] - mx, v._xy[1] - my);
      if (d < bestD) [best, bestD] = [{ kind: "vehicle", id, v }, d];
    }
    if (best) return best;
    bestD = 8;
    for (const o of S.orders.values()) {
      if (!o._xy) continue;
      const d = Math.hypot(o._xy[0] - mx, o._xy[1] - my);
      if (d < bestD) [best, bestD] = [{ kind: "order", id: o.order_id, o }, d];
    }
    return best;
  }

  function tooltipText(h) {
    if (h.kind === "vehicle") {
      const d = h.v.data;
      const seen = Number.isFinite(d.seen_s) ? `seen ${fmtS(d.seen_s)}` : "not seen yet";
      const back = Number.isFinite(d.return_p50_s) ? ` · back ~${fmtS(d.return_p50_s)}` : "";
      return [`${d.vehicle_id} (${(d.status || "unknown").replace("_", " ")})`, `${(d.route || []).length} stops left · ${d.delivered ?? 0} delivered${back}`, seen];
    }
    const o = h.o;
    const p = S.risk.get(o.order_id);
    const risk = Number.isFinite(p) ? ` · miss risk ${pct(p)}` : "";
    return [`${o.order_id}: ${o.status}${risk}`, `window ${fmtS(o.window_start_s)}–${fmtS(o.window_end_s)}`];
  }

  function localXY(ev) {
    const r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const [mx, my] = localXY(ev);
    zoomAt(ev.deltaY < 0 ? 1.2 : 1 / 1.2, mx, my);
  }, { passive: false });

  canvas.addEventListener("mousedown", (ev) => {
    const [mx, my] = localXY(ev);
    S.drag = { x: mx, y: my, panX: S.view.panX, panY: S.view.panY, moved: false };
  });

  window.addEventListener("mouseup", (ev) => {
    const drag = S.drag;
    S.drag = null;
    canvas.classList.remove("dragging");
    if (!drag || drag.moved || ev.target !== canvas) return;
    const [mx, my] = localXY(ev);
    const h = hit(mx, my);
    if (h && h.kind === "order") showOrder(h.id);
    else if (h && h.kind === "vehicle") selectVehicle(h.id);
  });

  canvas.addEventListener("mousemove", (ev) => {
    const [mx, my] = localXY(ev);
    const tip = $("tooltip");
    if (S.drag) {
      const dx = mx - S.drag.x;
      const dy = my - S.drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) S.drag.moved = true;
      if (S.drag.moved) {
        canvas.classList.add("dragging");
        S.view.panX = S.drag.panX + dx;
        S.view.panY = S.drag.panY + dy;
        S.roadsDirty = true;
        requestDraw();
      }
      tip.hidden = true;
      return;
    }
    const h = hit(mx, my);
    if (!h) {
      tip.hidden = true;
      canvas.style.cursor = "";
      return;
    }
    canvas.style.cursor = "pointer";
    tip.replaceChildren(...tooltipText(h).map((line) => el("div", {}, line)));
    tip.hidden = false;
    tip.style.left = `${Math.min(mx + 14, S.size.w - 270)}px`;
    tip.style.top = `${my + 14}px`;
  });

  canvas.addEventListener("mouseleave", () => {
    $("tooltip").hidden = true;
  });

  $("zoom-in").addEventListener("click", () => zoomAt(1.5, S.size.w / 2, S.size.h / 2));
  $("zoom-out").addEventListener("click", () => zoomAt(1 / 1.5, S.size.w / 2, S.size.h / 2));
  $("zoom-reset").addEventListener("click", () => {
    S.view = { zoom: 1, panX: 0, panY: 0 };
    S.roadsDirty = true;
    requestDraw();
  });

  const searchBox = $("search");
  searchBox.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => search(searchBox.value.trim(), false), 250);
  });
  searchBox.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      clearTimeout(searchTimer);
      search(searchBox.value.trim(), true);
    }
  });

  // -- start ------------------------------------------------------------------------
  readToken();
  window.addEventListener("hashchange", readToken);
  new ResizeObserver(resize).observe(canvas);
  resize();
  loadNetwork();
  loop(pollFast, FAST_MS);
  loop(pollSlow, SLOW_MS);
})();
