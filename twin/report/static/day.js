// The animated day (twin/report/day_page.py writes the data into this page).
// Draws the roads once, then, for the clock's time: the stops by status, the
// vehicles where they were, and the tiles. No network access, no libraries.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("day-data").textContent);
  const $ = (id) => document.getElementById(id);
  const canvas = $("map");
  const ctx = canvas.getContext("2d");
  const clock = $("clock");
  const [minLon, minLat, maxLon, maxLat] = D.bbox;
  const midLat = ((minLat + maxLat) / 2) * Math.PI / 180;
  const spanX = (maxLon - minLon) * Math.cos(midLat);
  const spanY = maxLat - minLat;
  const scale = Math.min((canvas.width - 20) / spanX, (canvas.height - 20) / spanY);
  const left = (canvas.width - spanX * scale) / 2;  // the map centred in the canvas
  const bottom = (canvas.height - spanY * scale) / 2;
  const x = (lon) => left + (lon - minLon) * Math.cos(midLat) * scale;
  const y = (lat) => canvas.height - bottom - (lat - minLat) * scale;
  const OUT = 0, DONE = 1, FAILED = 2;

  // The roads, drawn once into an off-screen canvas.
  const roads = document.createElement("canvas");
  roads.width = canvas.width;
  roads.height = canvas.height;
  (function drawRoads() {
    const r = roads.getContext("2d");
    r.strokeStyle = "#d0d5d9";
    r.lineWidth = 0.6;
    r.beginPath();
    for (const line of D.roads) {
      r.moveTo(x(line[0]), y(line[1]));
      for (let i = 2; i < line.length; i += 2) r.lineTo(x(line[i]), y(line[i + 1]));
    }
    r.stroke();
  })();

  // Where a vehicle is at time t: on a leg (along its path), or where the last one ended.
  function position(vehicle, t) {
    let last = null;
    for (const [t0, t1, pts] of vehicle.legs) {
      if (t < t0) break;
      if (t >= t1) { last = [pts[pts.length - 2], pts[pts.length - 1]]; continue; }
      return along(pts, (t - t0) / Math.max(t1 - t0, 1e-9));
    }
    return last;
  }

  function along(pts, frac) {
    let total = 0;
    const lengths = [];
    for (let i = 2; i < pts.length; i += 2) {
      const d = Math.hypot(pts[i] - pts[i - 2], pts[i + 1] - pts[i - 1]);
      lengths.push(d);
      total += d;
    }
    let goal = frac * total;
    for (let k = 0; k < lengths.length; k++) {
      if (goal <= lengths[k] || k === lengths.length - 1) {
        const f = lengths[k] > 0 ? Math.min(goal / lengths[k], 1) : 1;
        const i = 2 * k;
        return [pts[i] + f * (pts[i + 2] - pts[i]), pts[i + 1] + f * (pts[i + 3] - pts[i + 1])];
      }
      goal -= lengths[k];
    }
    return [pts[0], pts[1]];
  }

  function onRoad(vehicle, t) {
    return vehicle.out.some(([a, b]) => t >= a && (b === null || t < b));
  }

  function hhmm(t) {
    const s = Math.max(0, Math.round(t - D.day_start_s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
  }

  const state = { t: D.start_s, delivered: 0, failed: 0, onTime: 0, onRoad: 0, positions: 0 };

  function draw(t) {
    state.t = t;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(roads, 0, 0);
    let delivered = 0, failed = 0, onTime = 0;
    for (const [lon, lat, tOut, tDone, outcome, windowEnd] of D.stops) {
      let colour = "#aab7b8";
      if (tDone !== null && t >= tDone) {
        if (outcome === DONE) { delivered++; if (tDone <= windowEnd) onTime++; colour = "#1e8449"; }
        else if (outcome === FAILED) { failed++; colour = "#c0392b"; }
      } else if (t >= tOut) colour = "#2e86c1";
      ctx.fillStyle = colour;
      ctx.fillRect(x(lon) - 1.5, y(lat) - 1.5, 3, 3);
    }
    ctx.fillStyle = "#000";
    for (const hub of D.hubs) ctx.fillRect(x(hub.lon) - 5, y(hub.lat) - 5, 10, 10);
    let moving = 0, drawn = 0;
    ctx.strokeStyle = "#000";
    for (const v of D.vehicles) {
      if (onRoad(v, t)) moving++;
      const p = position(v, t);
      if (!p) continue;
      drawn++;
      ctx.fillStyle = "#f39c12";
      ctx.beginPath();
      ctx.arc(x(p[0]), y(p[1]), 4, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
    Object.assign(state, { delivered, failed, onTime, onRoad: moving, positions: drawn });
    $("tile-time").textContent = hhmm(t);
    $("tile-delivered").textContent = String(delivered);
    $("tile-failed").textContent = String(failed);
    $("tile-on-time").textContent = delivered ? `${(100 * onTime / delivered).toFixed(1)} %` : "—";
    $("tile-on-road").textContent = String(moving);
  }

  clock.min = String(Math.floor(D.start_s));
  clock.max = String(Math.ceil(D.end_s));
  clock.value = clock.min;
  clock.addEventListener("input", () => draw(Number(clock.value)));

  let playing = null;
  $("play").addEventListener("click", () => {
    if (playing) { clearInterval(playing); playing = null; $("play").textContent = "▶"; return; }
    $("play").textContent = "❚❚";
    let last = performance.now();
    playing = setInterval(() => {
      const now = performance.now();
      const t = Math.min(Number(clock.value) + ((now - last) / 1000) * Number($("speed").value), D.end_s);
      last = now;
      clock.value = String(t);
      draw(t);
      if (t >= D.end_s) $("play").click();
    }, 50);
  });

  $("title").textContent = `${D.title}: day ${D.day} replayed`;
  $("subtitle").textContent = `${D.date}, ${D.vehicles.length} vehicles, ${D.stops.length} ` +
    `parcels taken out` + (D.synthetic ? " — synthetic map" : "");
  $("attribution").textContent = D.attribution;
  draw(D.start_s);
  window.twinDay = { ready: true, state, draw, data: D };
})();
