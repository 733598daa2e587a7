// EdgeWatch reviewer page: box overlay, charts, camera map, small helpers.
// Self-contained (no libraries, no network beyond this site); data comes from
// <script type="application/json"> blocks the server writes into the page.
"use strict";

(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var PALETTE = ["#0b4f8a", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6cab",
    "#2e4057", "#f07167", "#3d5a80", "#9c6644"];
  var HEAT = ["#9aa5b4", "#f2c94c", "#f2994a", "#eb7a34", "#e0502b", "#b3261e"];

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function svgEl(name, attrs, parent) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(el); }
    return el;
  }

  function text(parent, x, y, s, attrs) {
    var t = svgEl("text", Object.assign({ x: x, y: y, "font-size": 12, fill: "#1b2430" }, attrs || {}), parent);
    t.textContent = s;
    return t;
  }

  // --- evidence: boxes over the scene (the stored image itself is never changed) ---
  function overlay() {
    var fig = document.querySelector("figure.scene");
    var img = document.getElementById("scene-img");
    var boxes = data("boxes");
    if (!fig || !img || !boxes) { return; }
    function draw() {
      var w = img.naturalWidth, h = img.naturalHeight;
      if (!w || !h) { return; }
      var old = fig.querySelector("svg");
      if (old) { old.remove(); }
      var svg = svgEl("svg", { viewBox: "0 0 " + w + " " + h, preserveAspectRatio: "none",
        "aria-hidden": "true", "class": "boxes" }, fig);
      var stroke = Math.max(1, Math.round(Math.max(w, h) / 300));
      boxes.forEach(function (b) {
        var c = b.kind === "face" ? "#ffbf47" : "#37d67a";
        var x1 = b.box[0], y1 = b.box[1], x2 = b.box[2], y2 = b.box[3];
        svgEl("rect", { x: x1, y: y1, width: Math.max(1, x2 - x1), height: Math.max(1, y2 - y1),
          fill: "none", stroke: c, "stroke-width": stroke, "data-kind": b.kind }, svg);
        var fs = Math.max(6, Math.round(Math.max(w, h) / 40));
        text(svg, x1, Math.max(fs, y1 - stroke), b.label, { fill: c, "font-size": fs,
          "font-weight": "700", stroke: "#000", "stroke-width": fs / 12, "paint-order": "stroke" });
      });
    }
    if (img.complete) { draw(); } else { img.addEventListener("load", draw); }
    var btn = document.getElementById("toggle-boxes");
    if (btn) {
      btn.addEventListener("click", function () {
        var hidden = fig.classList.toggle("hide-boxes");
        btn.setAttribute("aria-pressed", hidden ? "false" : "true");
      });
    }
  }

  // --- analytics: stacked bars, one colour per camera ---
  function chart() {
    var box = document.getElementById("chart");
    var d = data("chart-data");
    if (!box || !d) { return; }
    var W = 960, H = 300, L = 44, R = 10, T = 10, B = 60;
    var n = d.labels.length;
    var totals = d.labels.map(function (_, i) {
      return d.series.reduce(function (s, c) { return s + c.values[i]; }, 0);
    });
    var max = Math.max(1, Math.max.apply(null, totals.concat([0])));
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, "class": "bars" }, box);
    svgEl("title", {}, svg).textContent = box.getAttribute("aria-label") || "";
    var step = Math.pow(10, Math.floor(Math.log10(max)));
    if (max / step < 3) { step = step / 2; }
    step = Math.max(1, Math.round(step));
    for (var v = 0; v <= max; v += step) {
      var y = T + (H - T - B) * (1 - v / max);
      svgEl("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#d5dbe3" }, svg);
      text(svg, L - 6, y + 4, String(v), { "text-anchor": "end", fill: "#5b6675" });
    }
    var bw = (W - L - R) / Math.max(1, n);
    var every = Math.max(1, Math.ceil(n / 16));
    d.labels.forEach(function (label, i) {
      var x = L + i * bw, base = H - B;
      d.series.forEach(function (s, k) {
        var val = s.values[i];
        if (!val) { return; }
        var hgt = (H - T - B) * val / max;
        base -= hgt;
        var r = svgEl("rect", { x: x + bw * 0.1, y: base, width: Math.max(1, bw * 0.8), height: hgt,
          fill: PALETTE[k % PALETTE.length], "class": "bar" }, svg);
        svgEl("title", {}, r).textContent = label + " · " + s.name + ": " + val;
      });
      if (i % every === 0) {
        text(svg, x + bw / 2, H - B + 14, label, { "text-anchor": "end", fill: "#5b6675",
          transform: "rotate(-35 " + (x + bw / 2) + " " + (H - B + 14) + ")", "font-size": 11 });
      }
    });
    var legend = document.createElement("div");
    legend.className = "legend";
    d.series.forEach(function (s, k) {
      var item = document.createElement("span");
      var sw = document.createElement("i");
      sw.style.background = PALETTE[k % PALETTE.length];
      item.appendChild(sw);
      item.appendChild(document.createTextNode(s.name));
      legend.appendChild(item);
    });
    box.appendChild(legend);
  }

  // --- analytics: cameras placed by lat/lon, coloured by match count ---
  function map() {
    var box = document.getElementById("map");
    var pts = data("map-data");
    if (!box || !pts) { return; }
    var W = 480, H = 320, P = 40;
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, "class": "cams" }, box);
    svgEl("rect", { x: 0, y: 0, width: W, height: H, fill: "#eef2f6", rx: 6 }, svg);
    if (!pts.length) { return; }
    var lats = pts.map(function (p) { return p.lat; }), lons = pts.map(function (p) { return p.lon; });
    var minLat = Math.min.apply(null, lats), maxLat = Math.max.apply(null, lats);
    var minLon = Math.min.apply(null, lons), maxLon = Math.max.apply(null, lons);
    var span = Math.max(maxLat - minLat, maxLon - minLon, 0.002);
    var cx = (minLon + maxLon) / 2, cy = (minLat + maxLat) / 2;
    var scale = Math.min(W, H) - 2 * P;
    pts.forEach(function (p) {
      var x = W / 2 + (p.lon - cx) / span * scale;
      var y = H / 2 - (p.lat - cy) / span * scale;
      var c = svgEl("circle", { cx: x, cy: y, r: 8 + 3 * p.level, fill: HEAT[p.level] || HEAT[0],
        stroke: "#1b2430", "stroke-width": 1, "fill-opacity": 0.85, "class": "cam" }, svg);
      svgEl("title", {}, c).textContent = p.name + ": " + p.count;
      text(svg, x, y - 12 - 3 * p.level, p.name + " (" + p.count + ")", { "text-anchor": "middle", "font-size": 11 });
    });
  }

  // --- dispatch state: refresh in place while an attempt is pending ---
  function pollDispatch() {
    var sec = document.querySelector("[data-poll]");
    if (!sec) { return; }
    var url = sec.getAttribute("data-poll");
    var tries = 0;
    function tick() {
      tries += 1;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (rows) {
          if (!rows) { return; }
          var tbody = sec.querySelector("tbody");
          if (tbody && rows.length === tbody.rows.length) {
            rows.forEach(function (row, i) {
              var cells = tbody.rows[i].cells;
              var badge = cells[0].querySelector(".badge");
              badge.textContent = row.label;
              badge.className = "badge badge-" + row.state;
              cells[1].textContent = String(row.attempts);
              cells[2].textContent = row.last_status || "—";
              cells[3].textContent = row.next;
            });
          }
          var pending = rows.some(function (r) { return r.state === "pending"; });
          if (pending && tries < 300) { setTimeout(tick, 1000); }
        })
        .catch(function () { if (tries < 300) { setTimeout(tick, 3000); } });
    }
    setTimeout(tick, 500);
  }

  function confirms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        if (!window.confirm(f.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    overlay();
    chart();
    map();
    pollDispatch();
    confirms();
  });
})();
