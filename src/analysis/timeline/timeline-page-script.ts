/**
 * The script of the HTML timeline page (timeline-html.ts): it reads the trace-event JSON
 * embedded in the page and draws it — a row per vCPU track with its segments, instants and
 * transfer ends, a counter row under it, flow arrows between rows, a ruler — zooms with the
 * wheel, pans by dragging, and names what is under the pointer. Plain browser JavaScript
 * with no imports: the page must work from a file, with no network.
 */
export const PAGE_SCRIPT = String.raw`
'use strict';
(function () {
  var trace = JSON.parse(document.getElementById('trace-data').textContent);
  var meta = (trace.otherData && trace.otherData.rrkit) || {};
  var COLORS = { segment: '#dfe7f2', crew: '#d9480f', interrupt: '#1971c2', input: '#2f9e44', checkpoint: '#7048e8',
    stop: '#000000', divergence: '#e03131', state: '#adb5bd', serialized: '#f08c00', other: '#868e96' };
  var STATE_COLORS = { running: '#b2f2bb', 'page-wait': '#ffa8a8', cut: '#d0bfff', sleep: '#dee2e6', 'spin-wait': '#ffec99' };
  var ROW = 34, COUNTER_ROW = 22, LABEL = 150;

  var tracks = new Map();
  function track(pid) {
    var t = tracks.get(pid);
    if (!t) { t = { pid: pid, name: 'process ' + pid, sort: pid, slices: [], instants: [], counters: {} }; tracks.set(pid, t); }
    return t;
  }
  var flows = new Map();
  var minTs = Infinity, maxTs = -Infinity;
  trace.traceEvents.forEach(function (e) {
    if (e.ph === 'M') {
      var t = track(e.pid);
      if (e.name === 'process_name') t.name = e.args.name;
      if (e.name === 'process_sort_index') t.sort = e.args.sort_index;
      return;
    }
    var end = e.ts + (e.dur || 0);
    if (e.ts < minTs) minTs = e.ts;
    if (end > maxTs) maxTs = end;
    var t = track(e.pid);
    if (e.ph === 'X') {
      t.slices.push(e);
      if (e.bind_id !== undefined) {
        var f = flows.get(e.bind_id) || {};
        if (e.flow_out) f.from = e; else f.to = e;
        flows.set(e.bind_id, f);
      }
    } else if (e.ph === 'i') t.instants.push(e);
    else if (e.ph === 'C') {
      var series = t.counters[e.name] || (t.counters[e.name] = []);
      series.push(e);
    }
  });
  if (!isFinite(minTs)) { minTs = 0; maxTs = 1; }
  if (maxTs <= minTs) maxTs = minTs + 1;
  // A margin, so that marks at either end are not cut in half.
  var margin = (maxTs - minTs) * 0.02;
  minTs -= margin; maxTs += margin;
  var ordered = Array.from(tracks.values()).sort(function (a, b) { return a.sort - b.sort; });
  ordered.forEach(function (t) {
    var byTs = function (a, b) { return a.ts - b.ts; };
    t.slices.sort(byTs); t.instants.sort(byTs);
    Object.keys(t.counters).forEach(function (k) { t.counters[k].sort(byTs); });
  });

  // --- the page ----------------------------------------------------------------------------
  document.getElementById('summary').textContent =
    (meta.log || 'trace') + ' — ' + (meta.engine || '?') + ', ' + ordered.length + ' vCPU tracks, ' +
    (meta.transfers === undefined ? '' : meta.transfers + ' transfers, ') +
    (meta.window && meta.window !== 'all' ? 'window ' + meta.window + ', ' : '') +
    'time axis: ' + (meta.axis || 'µs');
  var legend = document.getElementById('legend');
  Object.keys(COLORS).forEach(function (k) {
    var item = document.createElement('span');
    item.className = 'key';
    item.innerHTML = '<i style="background:' + COLORS[k] + '"></i>' + k;
    legend.appendChild(item);
  });

  var hasStates = ordered.some(function (t) { return t.slices.some(function (e) { return e.cat === 'state'; }); });
  if (hasStates) {
    Object.keys(STATE_COLORS).forEach(function (k) {
      var item = document.createElement('span');
      item.className = 'key';
      item.innerHTML = '<i style="background:' + STATE_COLORS[k] + '"></i>' + k;
      legend.appendChild(item);
    });
  }

  var list = document.getElementById('tracks');
  var ruler = document.getElementById('ruler');
  var overlay = document.getElementById('flows');
  var tip = document.getElementById('tip');
  var rows = ordered.map(function (t) {
    var row = document.createElement('div');
    row.className = 'track';
    row.dataset.pid = String(t.pid);
    row.dataset.name = t.name;
    var label = document.createElement('div');
    label.className = 'label';
    label.textContent = t.name;
    var canvas = document.createElement('canvas');
    canvas.className = 'lane';
    row.appendChild(label);
    row.appendChild(canvas);
    var counterNames = Object.keys(t.counters);
    var counterCanvas = null;
    if (counterNames.length > 0) {
      counterCanvas = document.createElement('canvas');
      counterCanvas.className = 'counters';
      var counterLabel = document.createElement('div');
      counterLabel.className = 'label small';
      counterLabel.textContent = counterNames.join(' / ');
      row.appendChild(counterLabel);
      row.appendChild(counterCanvas);
    }
    list.appendChild(row);
    return { track: t, row: row, canvas: canvas, counterCanvas: counterCanvas };
  });

  var view = { from: minTs, to: maxTs };
  function width() { return Math.max(100, list.clientWidth - LABEL); }
  function x(ts) { return ((ts - view.from) / (view.to - view.from)) * width(); }
  function tsAt(px) { return view.from + (px / width()) * (view.to - view.from); }
  function fit(canvas, h) {
    var ratio = window.devicePixelRatio || 1;
    canvas.width = width() * ratio; canvas.height = h * ratio;
    canvas.style.width = width() + 'px'; canvas.style.height = h + 'px';
    var g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    return g;
  }
  function firstAtOrAfter(events, ts) {
    var lo = 0, hi = events.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (events[mid].ts + (events[mid].dur || 0) < ts) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function visible(events) {
    var out = [];
    for (var i = firstAtOrAfter(events, view.from); i < events.length && events[i].ts <= view.to; i++) out.push(events[i]);
    return out;
  }

  function drawRuler() {
    var g = fit(ruler, 24);
    g.fillStyle = '#495057'; g.font = '11px sans-serif';
    var span = view.to - view.from, step = Math.pow(10, Math.floor(Math.log10(span / 5)));
    if (span / step > 12) step *= 5; else if (span / step > 6) step *= 2;
    for (var v = Math.ceil(view.from / step) * step; v <= view.to; v += step) {
      var px = x(v);
      g.fillRect(px, 14, 1, 10);
      g.fillText(label(v), px + 3, 11);
    }
  }
  function label(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + 'G';
    if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
    if (a >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    return String(Math.round(v * 1000) / 1000);
  }

  function drawTrack(r) {
    var g = fit(r.canvas, ROW);
    g.fillStyle = '#f8f9fa'; g.fillRect(0, 0, width(), ROW);
    visible(r.track.slices).forEach(function (e) {
      var a = x(e.ts), b = x(e.ts + (e.dur || 0));
      if (e.cat === 'segment' || e.cat === 'state') {
        g.fillStyle = e.cat === 'state' ? (STATE_COLORS[e.name] || COLORS.state) : COLORS.segment;
        g.fillRect(a, 2, Math.max(1, b - a), ROW - 4);
        g.strokeStyle = '#adb5bd'; g.strokeRect(a, 2, Math.max(1, b - a), ROW - 4);
      } else if (e.cat === 'serialized') {
        // serialized membership and turns: a band along the row's foot, under the instants
        g.fillStyle = COLORS.serialized;
        g.fillRect(a, e.name === 'turn' ? ROW - 6 : ROW - 10, Math.max(1, b - a), e.name === 'turn' ? 4 : 3);
      } else {
        g.fillStyle = COLORS[e.cat] || COLORS.other;
        g.fillRect(a - 1, ROW / 2 - 8, Math.max(3, b - a), 16);
      }
    });
    visible(r.track.instants).forEach(function (e) {
      g.fillStyle = COLORS[e.cat] || COLORS.other;
      var a = x(e.ts);
      g.beginPath(); g.moveTo(a, 6); g.lineTo(a + 4, 12); g.lineTo(a, 18); g.lineTo(a - 4, 12); g.closePath(); g.fill();
    });
    if (r.counterCanvas) {
      var c = fit(r.counterCanvas, COUNTER_ROW);
      var names = Object.keys(r.track.counters);
      names.forEach(function (name, i) {
        var series = r.track.counters[name];
        var top = 0;
        series.forEach(function (e) { if (e.args.value > top) top = e.args.value; });
        if (top === 0) return;
        c.fillStyle = i === 0 ? 'rgba(73,80,87,0.45)' : 'rgba(217,72,15,0.6)';
        for (var k = Math.max(0, firstAtOrAfter(series, view.from) - 1); k < series.length && series[k].ts <= view.to; k++) {
          var e = series[k], next = series[k + 1];
          var a = x(e.ts), b = next ? x(next.ts) : a + 2;
          var h = (e.args.value / top) * (COUNTER_ROW - 2);
          c.fillRect(a, COUNTER_ROW - h, Math.max(1, b - a - 0.5), h);
        }
      });
    }
  }

  function drawFlows() {
    var g = fit(overlay, list.clientHeight);
    overlay.style.left = LABEL + 'px';
    var top = new Map();
    rows.forEach(function (r) { top.set(r.track.pid, r.row.offsetTop + ROW / 2); });
    g.strokeStyle = 'rgba(217,72,15,0.7)'; g.fillStyle = 'rgba(217,72,15,0.9)'; g.lineWidth = 1;
    flows.forEach(function (f) {
      if (!f.from || !f.to) return;
      var x1 = x(f.from.ts), x2 = x(f.to.ts);
      if ((x1 < 0 && x2 < 0) || (x1 > width() && x2 > width())) return;
      var y1 = top.get(f.from.pid), y2 = top.get(f.to.pid);
      g.beginPath(); g.moveTo(x1, y1); g.lineTo(x2, y2); g.stroke();
      var angle = Math.atan2(y2 - y1, x2 - x1);
      g.beginPath(); g.moveTo(x2, y2);
      g.lineTo(x2 - 7 * Math.cos(angle - 0.4), y2 - 7 * Math.sin(angle - 0.4));
      g.lineTo(x2 - 7 * Math.cos(angle + 0.4), y2 - 7 * Math.sin(angle + 0.4));
      g.closePath(); g.fill();
    });
  }

  function draw() {
    drawRuler();
    rows.forEach(drawTrack);
    drawFlows();
    document.body.dataset.drawn = String(Number(document.body.dataset.drawn || 0) + 1);
  }

  // --- interaction -------------------------------------------------------------------------
  list.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    var at = tsAt(ev.clientX - list.getBoundingClientRect().left - LABEL);
    var k = ev.deltaY > 0 ? 1.25 : 0.8;
    var from = at - (at - view.from) * k, to = at + (view.to - at) * k;
    if (to - from < 1e-3) return;
    view.from = Math.max(minTs - (maxTs - minTs), from); view.to = Math.min(maxTs + (maxTs - minTs), to);
    draw();
  }, { passive: false });
  var drag = null;
  list.addEventListener('mousedown', function (ev) { drag = { x: ev.clientX, from: view.from, to: view.to }; });
  window.addEventListener('mouseup', function () { drag = null; });
  window.addEventListener('mousemove', function (ev) {
    if (drag) {
      var shift = ((ev.clientX - drag.x) / width()) * (drag.to - drag.from);
      view.from = drag.from - shift; view.to = drag.to - shift;
      draw();
      return;
    }
    var r = rows.find(function (r) { return r.canvas === ev.target; });
    if (!r) { tip.style.display = 'none'; return; }
    var px = ev.offsetX, best = null, bestD = 6;
    visible(r.track.instants).concat(visible(r.track.slices)).forEach(function (e) {
      var a = x(e.ts), b = x(e.ts + (e.dur || 0));
      var d = px < a ? a - px : px > b ? px - b : 0;
      if (e.cat === 'segment' || e.cat === 'state') d += 3;
      if (d < bestD) { bestD = d; best = e; }
    });
    if (!best) { tip.style.display = 'none'; return; }
    tip.textContent = best.name + ' @ ' + best.ts + (best.dur ? ' +' + best.dur : '') + '\n' + JSON.stringify(best.args || {}, null, 1);
    tip.style.display = 'block';
    tip.style.left = ev.pageX + 12 + 'px'; tip.style.top = ev.pageY + 12 + 'px';
  });
  list.addEventListener('dblclick', function () { view.from = minTs; view.to = maxTs; draw(); });
  window.addEventListener('resize', draw);
  draw();
})();
`;
