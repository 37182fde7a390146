/* geo-antt map page: fills folium's empty layers from the OGC API by bounding box, builds
 * popups with textContent only (user text is never parsed as HTML), draws the coverage legend
 * and runs the side panel (drill-down, search, figures, least-covered hamlets, downloads). */
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('geo-antt-config').textContent);
  var map = window[cfg.map];
  var S = cfg.strings;
  var LEVEL_COLLECTION = { province: 'provinces', district: 'districts', commune: 'communes', hamlet: 'hamlets' };
  // covered-share classes from the server's settings (fine at the low end); pale = uncovered,
  // dark green = covered; red is kept for the gaps
  var BREAKS = cfg.coverageClasses.breaks;
  var COLORS = cfg.coverageClasses.colors;
  var kindColor = {};
  var BOOL_FIELDS = { data_sharing: true, approximate: true };
  var state = { unit: null, stats: null, tier: null };
  // the collections whose features follow the tier switch (the server's ogcapi.TIER_GROUPS)
  var TIER_GROUPS = { footprints: true, coverage: true, gaps: true };
  var F = window.geoAntt.fmt;  // format.js: the one way to write a number (geo_antt/numbers.py)

  /* ---- DOM helpers: text is always set with textContent ---- */
  var el = window.geoAnttDom.el;
  var clear = window.geoAnttDom.clear;
  function fmt(v) { return (typeof v === 'number') ? F.number(v) : String(v); }
  // shares keep enough digits: 0.03 % is not "0 %" (rural hamlets often have a few hundredths
  // of a percent covered by area)
  function pct(v) { return (typeof v === 'number') ? F.percent(v) : null; }
  function area(m2) {  // m² under a hectare, else ha
    if (typeof m2 !== 'number') { return null; }
    return m2 < 10000 ? F.number(Math.round(m2)) + ' m²' : fmt(m2 / 10000) + ' ha';
  }
  function apiGet(url) {
    return fetch(url, { headers: { Accept: 'application/json' } }).then(function (r) {
      if (!r.ok) { throw new Error(url + ': HTTP ' + r.status); }
      return r.json();
    });
  }
  function withParams(url, params) {
    var q = Object.keys(params).filter(function (k) { return params[k] !== null && params[k] !== undefined && params[k] !== ''; })
      .map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]); }).join('&');
    return q ? url + (url.indexOf('?') >= 0 ? '&' : '?') + q : url;
  }

  /* ---- styles and popups ---- */
  function pctColor(p) {
    if (typeof p !== 'number') { return '#9e9e9e'; }
    for (var i = 0; i < BREAKS.length; i++) { if (p < BREAKS[i]) { return COLORS[i]; } }
    return COLORS[COLORS.length - 1];
  }
  function valueText(field, v) {
    if (v === null || v === undefined || v === '') { return null; }
    if (cfg.vocab[field] && cfg.vocab[field][v]) { return cfg.vocab[field][v]; }
    if (Array.isArray(v)) { return v.map(fmt).join(', '); }
    if (typeof v === 'boolean' || (BOOL_FIELDS[field] && (v === 0 || v === 1))) { return v ? S.yes : S.no; }
    return fmt(v);
  }
  function popupTable(title, rows) {
    var box = el('div', 'popup');
    box.appendChild(el('h3', null, title));
    var tbl = el('table');
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined) { return; }
      var tr = el('tr');
      tr.appendChild(el('th', null, r[0]));
      tr.appendChild(el('td', null, r[1]));
      tbl.appendChild(tr);
    });
    box.appendChild(tbl);
    return box;
  }
  /* a camera's range for each tier (geo_antt/tiers.py, layers/camera.toml [tiers]): R / (2 p
   * tan(fov/2)) for a rectilinear lens under 180 degrees, R / (p fov_rad) otherwise, at most
   * the kind's largest range; [] without a resolution or for a kind without tiers */
  function tierRanges(kind, p) {
    var k = cfg.tiers.kinds[kind];
    var res = p.resolution_px;
    if (!k || typeof res !== 'number' || !isFinite(res)) { return []; }
    var fov = (typeof p.fov_deg === 'number' && isFinite(p.fov_deg)) ? p.fov_deg : k.fov_deg;
    var angular = p.lens === 'fisheye' || p.lens === 'panoramic' || fov >= 180;
    var rad = fov * Math.PI / 180;
    var width = angular ? rad : 2 * Math.tan(rad / 2);
    return cfg.tiers.list.filter(function (t) { return k.px_per_m[t.code]; }).map(function (t) {
      return { code: t.code, title: t.title, m: Math.min(res / (k.px_per_m[t.code] * width), k.max_range_m) };
    });
  }
  function tierRangesText(kind, p) {
    var r = tierRanges(kind, p);
    return r.length ? r.map(function (x) { return x.title + ' ' + fmt(Math.round(x.m * 100) / 100) + ' m'; }).join(' · ') : null;
  }
  function modelPopup(d, f) {
    var p = f.properties || {};
    var fields = d.popupFields && d.popupFields.length ? d.popupFields : ['name', 'status'];
    var rows = fields.filter(function (k) { return k !== 'name'; }).map(function (k) {
      return [S[k] || k, k === 'tier_ranges' ? tierRangesText(p.kind || d.id, p) : valueText(k, p[k])];
    });
    rows.unshift([S.code, f.id]);
    var box = popupTable((p.name || f.id) + ' — ' + d.title, rows);
    // edit.js (editors only) adds its buttons ("Sửa")
    if (window.geoAntt && window.geoAntt.modelPopupExtra) { window.geoAntt.modelPopupExtra(box, d, f); }
    return box;
  }
  // the share a unit is shaded and ranked by: its covered street length where streets are known
  // (the server's rule: geo_antt.placement.rank_uncovered), else its covered area
  function hasStreets(p) { return typeof p.road_m === 'number' && p.road_m > 0 && typeof p.road_covered_m === 'number'; }
  function shareOf(p) {
    if (hasStreets(p)) { return 100 * Math.min(p.road_covered_m, p.road_m) / p.road_m; }
    return p.covered_pct;
  }
  function coveragePopup(f) {
    var p = f.properties || {};
    var rows = [[S.code, f.id]];
    if (hasStreets(p)) {
      rows.push([S.road_covered_pct, pct(shareOf(p))], [S.road_m, fmt(Math.round(p.road_m)) + ' m']);
    }
    rows.push([S.covered_pct, pct(p.covered_pct)],
      [S.area_m2, area(p.area_m2)],
      [S.covered_m2, area(p.covered_m2)],
      [S.rank, valueText('rank', p.rank)]);
    Object.keys(p).forEach(function (k) {
      if (k.indexOf('n_') === 0 && cfg.kinds[k.slice(2)]) { rows.push([cfg.kinds[k.slice(2)], valueText(k, p[k])]); }
    });
    return popupTable(p.name || f.id, rows);
  }
  function unitPopup(f) {
    var p = f.properties || {};
    return popupTable(p.name || f.id, [[S.code, f.id], [S.level, S[p.level] || p.level]]);
  }
  function footprintPopup(f) {
    var p = f.properties || {};
    var kind = p.kind ? (cfg.kinds[p.kind] || p.kind) : null;
    return popupTable(p.name || (p.model_id || f.id), [[S.kind, kind], [S.code, p.model_id || f.id]]);
  }
  function markerIcon(d, status) {
    // models that do not count (inactive, proposed) are drawn faded
    var html = el('span', 'model-icon' + (status && status !== 'active' ? ' not-active' : ''));
    html.style.background = d.color;
    html.appendChild(el('i', 'fa-solid fa-' + d.icon));
    return L.divIcon({ html: html, className: 'model-marker', iconSize: [24, 24], iconAnchor: [12, 12], popupAnchor: [0, -12] });
  }
  // zoom range in which a unit level shows its names permanently (hover tooltip otherwise)
  // (hamlet names from zoom 13, each only where it fits inside its hamlet: fitLabels)
  var LABEL_ZOOMS = { provinces: [0, 10], districts: [9, 12], communes: [11, 19], hamlets: [13, 19], roads: [16, 19] };
  // a permanent name is shown only when it fits in its unit's width on screen (zoomed out, the
  // names of small hamlets would pile up over each other)
  function fitLabels(d) {
    if (d.group !== 'units' || !labelsOn(d) || !map.hasLayer(d.layer)) { return; }
    d.layer.eachLayer(function (layer) {
      var tip = layer.getTooltip && layer.getTooltip();
      var node = tip && tip.getElement && tip.getElement();
      if (!node || !layer.getBounds) { return; }
      var b = layer.getBounds();
      var w = map.latLngToContainerPoint(b.getNorthEast()).x - map.latLngToContainerPoint(b.getSouthWest()).x;
      node.classList.toggle('label-hidden', node.offsetWidth > w);
    });
  }
  function labelsOn(d) { var r = LABEL_ZOOMS[d.id] || [15, 19]; var z = map.getZoom(); return z >= r[0] && z <= r[1]; }

  // drawing order: base map (tilePane) < buildings < roads < choropleth < footprints < gaps <
  // outlines (overlayPane, 400) < markers
  [['geoAnttBuildings', 330], ['geoAnttRoads', 340], ['geoAnttCoverage', 350], ['geoAnttFootprints', 360],
    ['geoAnttGaps', 370]].forEach(function (p) {
    map.createPane(p[0]).style.zIndex = String(p[1]);
  });
  var PANES = { coverage: 'geoAnttCoverage', footprints: 'geoAnttFootprints', gaps: 'geoAnttGaps',
                roads: 'geoAnttRoads', buildings: 'geoAnttBuildings' };
  // the dataset's streets as a plain street map: grey lines, wider for main roads
  var ROAD_WIDTH = { motorway: 8, trunk: 8, primary: 7, secondary: 6, tertiary: 5, residential: 4,
                     unclassified: 4, living_street: 3.5, service: 3, track: 2, path: 1.5, footway: 1.5 };
  var ROAD_LABEL = { 'font-size': '11px', 'font-family': 'sans-serif', fill: '#37474f', stroke: '#ffffff',
                     'stroke-width': '3', 'paint-order': 'stroke', 'class': 'road-label' };
  function roadLabel(f, layer) {
    // names along the line (leaflet-textpath, SVG text nodes: never parsed as HTML), turned so
    // that they read from left to right
    var name = f.properties && f.properties.name;
    if (!name || !layer.setText) { return; }
    var ll = layer.getLatLngs();
    while (ll.length && Array.isArray(ll[0])) { ll = ll[0]; }
    var flip = ll.length > 1 && ll[0].lng > ll[ll.length - 1].lng;
    layer.setText(String(name), { center: true, offset: 4, orientation: flip ? 'flip' : 0, attributes: ROAD_LABEL });
  }

  function makeGeoJSON(d, data) {
    var opts = {};
    if (PANES[d.group]) { opts.pane = PANES[d.group]; }
    if (d.group === 'context') {
      opts.pane = PANES[d.id] || 'geoAnttBuildings';
      opts.interactive = false;
      if (d.id === 'roads') {
        var named = labelsOn(d);
        opts.style = function (f) {
          return { color: '#a3a3a3', weight: ROAD_WIDTH[(f.properties || {}).highway] || 2.5, opacity: 1, lineCap: 'round' };
        };
        // set before the line is added: leaflet-textpath draws it when the line reaches the map
        opts.onEachFeature = function (f, layer) { if (named) { roadLabel(f, layer); } };
      } else {
        opts.style = function () { return { color: '#c9bfb0', weight: 0.6, fillColor: '#e3dccf', fillOpacity: 1 }; };
      }
    } else if (d.group === 'units') {
      opts.style = function () { return d.style || { color: '#455a64', weight: 1, fill: false }; };
      var permanent = labelsOn(d);
      opts.onEachFeature = function (f, layer) {
        layer.bindTooltip(el('span', null, (f.properties && f.properties.name) || f.id),
          { permanent: permanent, direction: 'center', className: 'unit-label unit-label-' + d.id, sticky: !permanent });
        layer.bindPopup(function () { return unitPopup(f); });
      };
    } else if (d.group === 'coverage') {
      opts.style = function (f) {
        return { color: '#455a64', weight: 0.6, fillColor: pctColor(shareOf(f.properties)), fillOpacity: 0.6 };
      };
      opts.onEachFeature = function (f, layer) { layer.bindPopup(function () { return coveragePopup(f); }); };
    } else if (d.group === 'gaps') {
      opts.style = function () { return { color: '#b71c1c', weight: 1, fillColor: '#e53935', fillOpacity: 0.7 }; };
      opts.onEachFeature = function (f, layer) {
        layer.bindPopup(function () { return popupTable(d.title, [[S.code, f.id], [S.unit_code, f.properties.unit_code || f.properties.hamlet_code]]); });
      };
    } else if (d.group === 'footprints') {
      opts.style = function (f) {
        var c = kindColor[f.properties.kind] || '#1565c0';
        return { color: c, weight: 1, fillColor: c, fillOpacity: 0.25 };
      };
      opts.onEachFeature = function (f, layer) { layer.bindPopup(function () { return footprintPopup(f); }); };
    } else {
      // the model being edited is drawn by edit.js (draggable), not by its layer
      opts.filter = function (f) { return !(window.geoAntt && window.geoAntt.editingId === f.id); };
      opts.pointToLayer = function (f, latlng) { return L.marker(latlng, { icon: markerIcon(d, (f.properties || {}).status), title: '' }); };
      opts.style = function () { return { color: d.color, weight: 3 }; };
      opts.onEachFeature = function (f, layer) {
        layer.bindPopup(function () { return modelPopup(d, f); });
        // the popup opens from our own click handler: in edit mode (edit.js) a click selects the
        // model for editing instead, and no popup opens at all
        layer.off('click');
        layer.on('click', function () {
          var G = window.geoAntt;
          if (G && G.onModelClick && G.onModelClick(d, f, layer)) { return; }
          if (layer.isPopupOpen()) { layer.closePopup(); } else { layer.openPopup(); }
        });
      };
    }
    return L.geoJSON(data, opts);
  }

  /* ---- loading by bounding box ---- */
  var notice = L.control({ position: 'bottomleft' });
  notice.onAdd = function () { this._div = el('div', 'map-notice'); this._div.hidden = true; return this._div; };
  notice.addTo(map);
  function updateNotice() {
    var partial = cfg.layers.filter(function (d) { return d.partial && map.hasLayer(d.layer); });
    notice._div.hidden = partial.length === 0;
    notice._div.textContent = partial.length ? S.zoom_in + ': ' + partial.map(function (d) { return d.title; }).join(', ') : '';
  }

  function loadLayer(d) {
    if (!map.hasLayer(d.layer)) { return Promise.resolve(); }
    if (map.getZoom() < d.minZoom) {
      d.layer.clearLayers(); d.loaded = null; d.partial = false; updateNotice(); return Promise.resolve();
    }
    var view = map.getBounds();
    if (d.loaded && d.loaded.complete && d.loaded.bounds.contains(view) &&
        ((d.group !== 'units' && d.group !== 'context') || labelsOn(d) === d.loaded.labels)) { return Promise.resolve(); }
    var b = view.pad(0.3);
    var bbox = [Math.max(-180, b.getWest()), Math.max(-90, b.getSouth()), Math.min(180, b.getEast()), Math.min(90, b.getNorth())]
      .map(function (v) { return v.toFixed(6); }).join(',');
    if (d.abort) { d.abort.abort(); }
    d.abort = new AbortController();
    var url = withParams(cfg.urls.collections + '/' + encodeURIComponent(d.id) + '/items',
      { bbox: bbox, limit: d.limit || 5000, tier: TIER_GROUPS[d.group] ? state.tier : null });
    return fetch(url, { signal: d.abort.signal, headers: { Accept: 'application/geo+json' } })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
      .then(function (fc) {
        d.layer.clearLayers();
        var gj = makeGeoJSON(d, fc);
        if (d.cluster) { d.layer.addLayers(gj.getLayers()); } else { gj.eachLayer(function (l) { d.layer.addLayer(l); }); }
        d.partial = fc.numberMatched > fc.numberReturned;
        d.loaded = { bounds: b, complete: !d.partial, labels: labelsOn(d) };
        updateNotice();
        fitLabels(d);
      })
      .catch(function (err) { if (err.name !== 'AbortError' && window.console) { console.error(d.id, err); } });
  }
  function loadAll() { cfg.layers.forEach(loadLayer); }

  cfg.layers.forEach(function (d) {
    d.layer = window[d.var];
    if (d.color) { kindColor[d.id] = d.color; }
  });
  map.on('moveend', loadAll);
  map.on('zoomend', function () { cfg.layers.forEach(fitLabels); });
  map.on('overlayadd', function (e) {
    cfg.layers.forEach(function (d) { if (d.layer === e.layer) { d.loaded = null; loadLayer(d); } });
  });
  map.on('overlayremove', updateNotice);

  /* ---- legend: the classes of the layers that are on (coverage shares, gaps) ---- */
  var legend = null;
  function layerOn(id) {
    var d = cfg.layers.filter(function (x) { return x.id === id; })[0];
    return d && d.layer ? map.hasLayer(d.layer) : false;
  }
  function drawLegend() {
    if (!legend) { return; }
    var box = legend.getContainer();
    if (!box) { return; }
    clear(box);
    var coverageOn = layerOn('coverage');
    var gapLayer = cfg.layers.filter(function (d) { return d.id === 'gaps'; })[0];
    var gapsOn = !!gapLayer && layerOn('gaps');
    box.hidden = !coverageOn && !gapsOn;
    box.setAttribute('data-layers', [coverageOn ? 'coverage' : null, gapsOn ? 'gaps' : null].filter(Boolean).join(' '));
    if (coverageOn) {
      box.appendChild(el('strong', null, S.legend));
      // what "covered" means: with buildings, only what a camera sees and a light reaches
      box.appendChild(el('div', 'legend-note', cfg.occluded ? S.legend_occluded : S.legend_covered));
      var lows = [0].concat(BREAKS);
      COLORS.forEach(function (c, i) {
        var row = el('div', 'legend-row');
        var sw = el('span', 'swatch'); sw.style.background = c;
        row.appendChild(sw);
        row.appendChild(el('span', null, fmt(lows[i]) + '–' + fmt(i < BREAKS.length ? BREAKS[i] : 100)));
        box.appendChild(row);
      });
    }
    if (gapsOn) {
      var gap = el('div', 'legend-row legend-gaps');
      var gs = el('span', 'swatch'); gs.style.background = '#e53935';
      gap.appendChild(gs);
      gap.appendChild(el('span', null, gapLayer.title));
      box.appendChild(gap);
    }
  }
  if (cfg.hasCoverage) {
    legend = L.control({ position: 'bottomright' });
    legend.onAdd = function () { return el('div', 'legend'); };
    legend.addTo(map);
    drawLegend();
    map.on('overlayadd overlayremove', drawLegend);
  }

  /* ---- the view around the panel and the map's controls ---- */
  // Padding (px) that keeps fitted bounds clear of what lies over the map: the side panel where
  // it slides over the map (a phone's sheet), and the controls in the map's corners (layer list,
  // edit button, legend), each counted on the side where it costs the least of the map.
  function viewPadding() {
    var box = map.getContainer().getBoundingClientRect();
    var W = box.width, H = box.height;
    var pad = { left: 10, top: 10, right: 10, bottom: 10 };
    var panel = document.getElementById('panel');
    if (panel) {
      var pr = panel.getBoundingClientRect();
      var overlapH = Math.min(pr.bottom, box.bottom) - Math.max(pr.top, box.top);
      var overlapW = Math.min(pr.right, box.right) - Math.max(pr.left, box.left);
      if (overlapH > 0 && overlapW > W / 2) { pad.bottom = Math.max(pad.bottom, Math.min(box.bottom, pr.bottom) - Math.max(pr.top, box.top) + 10); }
      else if (overlapW > 0 && overlapH > H / 2) { pad.left = Math.max(pad.left, overlapW + 10); }
    }
    ['topleft', 'topright', 'bottomleft', 'bottomright'].forEach(function (corner) {
      var c = map._controlCorners && map._controlCorners[corner];
      if (!c) { return; }
      var r = c.getBoundingClientRect();
      if (!r.width || !r.height) { return; }
      var vert = corner.indexOf('top') === 0 ? 'top' : 'bottom';
      var horiz = corner.indexOf('left') > 0 ? 'left' : 'right';
      var h = (vert === 'top' ? r.bottom - box.top : box.bottom - r.top) + 6;
      var w = (horiz === 'left' ? r.right - box.left : box.right - r.left) + 6;
      if (w / W <= h / H) { pad[horiz] = Math.max(pad[horiz], w); } else { pad[vert] = Math.max(pad[vert], h); }
    });
    // always leave at least 100 px (or a third of the map) to show the bounds in
    var sx = Math.min(1, Math.min(W - 100, Math.max(W / 3, W - 100)) / (pad.left + pad.right));
    var sy = Math.min(1, Math.min(H - 100, Math.max(H / 3, H - 100)) / (pad.top + pad.bottom));
    return { paddingTopLeft: [Math.round(pad.left * sx), Math.round(pad.top * sy)],
             paddingBottomRight: [Math.round(pad.right * sx), Math.round(pad.bottom * sy)] };
  }
  function fitPadded(bounds, opts) {
    var o = viewPadding();
    var m = (opts && opts.margin) || 0;  // more room on every side (markers are drawn around their points)
    o.paddingTopLeft = [o.paddingTopLeft[0] + m, o.paddingTopLeft[1] + m];
    o.paddingBottomRight = [o.paddingBottomRight[0] + m, o.paddingBottomRight[1] + m];
    Object.keys(opts || {}).forEach(function (k) { if (k !== 'margin') { o[k] = opts[k]; } });
    map.fitBounds(bounds, o);
  }

  /* ---- selected-area outline ---- */
  var highlight = L.geoJSON(null, { style: function () { return { color: '#0d47a1', weight: 4, fill: false, dashArray: null }; }, interactive: false }).addTo(map);

  /* ---- side panel ---- */
  var drill = document.getElementById('drill');
  var figures = document.getElementById('figures');
  var least = document.getElementById('least-covered');
  var downloads = document.getElementById('downloads');
  var areaName = document.getElementById('area-name');

  function fitUnit(u) {
    if (u && u.bbox) { fitPadded([[u.bbox[1], u.bbox[0]], [u.bbox[3], u.bbox[2]]], { maxZoom: 17 }); }
  }

  function buildDrill(path) {
    clear(drill);
    var parents = [null].concat(path);
    function addSelect(depth) {
      var parent = parents[depth];
      if (depth > 0 && !parent) { return Promise.resolve(); }
      return apiGet(withParams(cfg.urls.units, { parent: parent })).then(function (data) {
        if (!data.units.length) { return; }
        var sel = el('select', 'drill-select');
        sel.setAttribute('data-depth', String(depth));
        sel.setAttribute('aria-label', S[data.units[0].level] || data.units[0].level);
        var opt0 = el('option', null, (S[data.units[0].level] || '') + ' ' + S.choose); opt0.value = '';
        sel.appendChild(opt0);
        data.units.forEach(function (u) {
          var o = el('option', null, u.name); o.value = u.code;
          if (path[depth] === u.code) { o.selected = true; }
          sel.appendChild(o);
        });
        sel.addEventListener('change', function () {
          var code = sel.value || (depth > 0 ? parents[depth] : null);
          selectUnit(code, { zoom: true });
        });
        var slot = drill.querySelector('[data-slot="' + depth + '"]');
        if (slot) { slot.appendChild(sel); }
      }).catch(function (e) { if (window.console) { console.error(e); } });
    }
    var pending = [];
    for (var i = 0; i <= path.length; i++) {
      var slot = el('div', 'drill-slot'); slot.setAttribute('data-slot', String(i));
      drill.appendChild(slot);
      pending.push(addSelect(i));
    }
    return Promise.all(pending);
  }

  function countTable(title, rows) {
    var box = el('div', 'fig-block');
    box.appendChild(el('h3', null, title));
    var tbl = el('table', 'fig-table');
    rows.forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('td', null, r.label));
      tr.appendChild(el('td', 'num', fmt(r.count)));
      tbl.appendChild(tr);
    });
    box.appendChild(tbl);
    return box;
  }

  function renderStats(st) {
    clear(figures);
    var total = el('p', 'fig-total');
    total.appendChild(el('span', null, S.models_total + ': '));
    total.appendChild(el('strong', null, fmt(st.models_total)));
    figures.appendChild(total);
    if (st.coverage) {
      var cov = el('p', 'fig-total');
      var street = st.coverage.measure === 'street';
      var share = street ? st.coverage.road_covered_pct : st.coverage.covered_pct;
      cov.setAttribute('data-measure', street ? 'street' : 'area');
      cov.appendChild(el('span', null, (street ? S.coverage_street : S.coverage) + ': '));
      cov.appendChild(el('strong', null, share === null || share === undefined ? '—' : pct(share)));
      cov.appendChild(el('span', null, ' (' + S.hamlets + ': ' + fmt(st.coverage.hamlets) + ')'));
      if (street) {  // the street share first; the area share (#fig-coverage) beside it
        var areaLine = el('p', 'fig-total muted');
        areaLine.appendChild(el('span', null, S.coverage_area + ': '));
        areaLine.appendChild(el('strong', null, st.coverage.covered_pct === null ? '—' : pct(st.coverage.covered_pct)));
        cov.id = 'fig-coverage-street';
        figures.appendChild(cov);
        cov = areaLine;
      }
      cov.id = 'fig-coverage';
      figures.appendChild(cov);
      var cm2 = el('p', 'fig-total');
      cm2.appendChild(el('span', null, S.covered_m2 + ': '));
      cm2.appendChild(el('strong', null, area(st.coverage.covered_m2)));
      cm2.id = 'fig-covered-m2';
      figures.appendChild(cm2);
    } else {
      figures.appendChild(el('p', 'muted', S.no_coverage));
    }
    if (st.tier) {  // the cameras without a resolution keep their recorded range
      var tu = el('p', 'fig-total');
      tu.id = 'fig-tier-unknown';
      tu.appendChild(el('span', null, st.tier.title + ' — ' + S.tier_unknown + ': '));
      tu.appendChild(el('strong', null, fmt(st.tier.unknown)));
      figures.appendChild(tu);
    }
    [['by_kind', S.by_kind], ['by_field', S.by_field], ['by_host', S.by_host], ['by_status', S.by_status]].forEach(function (k) {
      if (st[k[0]] && st[k[0]].length) { figures.appendChild(countTable(k[1], st[k[0]])); }
    });
    clear(least);
    // hamlets of several communes: each named with its commune ("Khu phố 1 (Phường 2)")
    var parents = {};
    st.least_covered.forEach(function (h) { parents[h.parent_name || ''] = true; });
    var several = Object.keys(parents).length > 1;
    st.least_covered.forEach(function (h) {
      var li = el('li');
      var label = h.name + (several && h.parent_name ? ' (' + h.parent_name + ')' : '');
      var hs = h.measure === 'street' ? h.road_covered_pct : h.covered_pct;
      var btn = el('button', 'link-button', label + ' — ' + (hs === null || hs === undefined ? '—' : pct(hs)));
      btn.type = 'button';
      btn.setAttribute('data-code', h.code);
      btn.addEventListener('click', function () { selectUnit(h.code, { zoom: true }); });
      li.appendChild(btn);
      least.appendChild(li);
    });
    if (!st.least_covered.length) { least.appendChild(el('li', 'muted', S.no_coverage)); }
  }

  function renderDownloads(code) {
    clear(downloads);
    cfg.exports.forEach(function (x) {
      var li = el('li');
      li.appendChild(el('span', 'dl-title', x.title));
      ['geojson', 'gpkg'].forEach(function (fmtName) {
        var a = el('a', 'dl', fmtName === 'geojson' ? 'GeoJSON' : 'GPKG');
        a.href = withParams(cfg.urls.export.replace('__NAME__', encodeURIComponent(x.id + '.' + fmtName)), { unit: code });
        a.setAttribute('download', '');
        a.setAttribute('data-collection', x.id);
        a.setAttribute('data-format', fmtName);
        li.appendChild(a);
      });
      downloads.appendChild(li);
    });
  }

  function selectUnit(code, opts) {
    state.unit = code;
    highlight.clearLayers();
    var tier = state.tier;
    return apiGet(withParams(cfg.urls.stats, { unit: code, lang: cfg.lang, tier: tier })).then(function (st) {
      if (tier !== state.tier) { return null; }  // the switch moved on meanwhile: its own request draws
      state.stats = st;
      areaName.textContent = st.unit ? st.unit.name : S.all_areas;
      renderStats(st);
      renderDownloads(code);
      var drilled = buildDrill(st.unit ? st.unit.path : []);
      if (st.unit) {
        var coll = LEVEL_COLLECTION[st.unit.level];
        if (coll) {
          apiGet(cfg.urls.collections + '/' + coll + '/items/' + encodeURIComponent(st.unit.code))
            .then(function (f) { highlight.clearLayers(); highlight.addData(f); })
            .catch(function () { /* unit without geometry: nothing to outline */ });
        }
        if (opts && opts.zoom) { fitUnit(st.unit); }
      }
      // set once the panel (figures, drill-down selects) shows the new area
      return drilled.then(function () {
        document.body.setAttribute('data-selected-unit', code || '');
        document.body.setAttribute('data-tier', tier || '');
      });
    });
  }

  /* ---- the tier switch: footprints, coverage, gaps and figures for one purpose ---- */
  var tierSelect = document.getElementById('tier');
  if (tierSelect) {
    tierSelect.addEventListener('change', function () {
      state.tier = tierSelect.value || null;
      document.body.setAttribute('data-tier-loading', state.tier || '');
      Promise.all([reloadLayers(Object.keys(TIER_GROUPS)), refreshFigures()]).then(function () {
        document.body.setAttribute('data-tier-drawn', state.tier || 'recorded');
      });
    });
  }

  /* search: server-side folding (diacritics, case, đ -> d) */
  var searchBox = document.getElementById('search');
  var results = document.getElementById('search-results');
  var timer = null;
  searchBox.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = searchBox.value.trim();
      clear(results);
      if (!q) { return; }
      apiGet(withParams(cfg.urls.search, { q: q })).then(function (data) {
        if (searchBox.value.trim() !== q) { return; }
        clear(results);
        if (!data.results.length) { results.appendChild(el('li', 'muted', S.no_results)); return; }
        data.results.forEach(function (u) {
          var li = el('li');
          var btn = el('button', 'link-button', u.name);
          btn.type = 'button';
          btn.setAttribute('data-code', u.code);
          btn.appendChild(el('small', null, ' ' + (S[u.level] || u.level) + (u.context ? ' · ' + u.context : '')));
          btn.addEventListener('click', function () { clear(results); selectUnit(u.code, { zoom: true }); });
          li.appendChild(btn);
          results.appendChild(li);
        });
      });
    }, 200);
  });

  /* phone: the panel folds away */
  document.getElementById('panel-toggle').addEventListener('click', function () {
    document.body.classList.toggle('panel-open');
    setTimeout(function () { map.invalidateSize(); }, 250);
  });

  /* phones: the layer control starts folded (Leaflet builds its toggle when re-added) */
  var layerControl = window.geoAnttLayerControl;
  if (layerControl && window.matchMedia('(max-width: 700px)').matches) {
    layerControl.remove();
    layerControl.options.collapsed = true;
    layerControl.addTo(map);
  }

  /* ---- offline base map (geo-antt serve --basemap FILE): tiles from this server only ---- */
  // Leaflet writes layer names and attributions as HTML: the file's texts go in escaped
  function escapeHtml(s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
  // the app's flavour of a vector base map: a plain street map (cream land, white streets,
  // light buildings, pale water) under the blue-grey boundaries; protomaps' "light" for the rest
  function basemapFlavor() {
    return Object.assign({}, window.basemaps.namedFlavor('light'), {
      background: '#f2efe9', earth: '#f2efe9', water: '#aad3df', buildings: '#e0d9ce',
      park_a: '#e1ebd9', park_b: '#cfe3c3', wood_a: '#dde8d5', wood_b: '#c5dcb8', scrub_a: '#e1ebd9', scrub_b: '#cfe3c3',
      pedestrian: '#ebe7e0', other: '#ffffff', minor_service: '#ffffff',
      minor_a: '#ffffff', minor_b: '#ffffff', link: '#ffffff', major: '#ffffff', highway: '#fbe3b0',
      minor_casing: '#cfc8bd', minor_service_casing: '#cfc8bd', link_casing: '#cfc8bd',
      major_casing_early: '#c2baae', major_casing_late: '#c2baae', highway_casing_early: '#d9b36c', highway_casing_late: '#d9b36c',
      roads_label_minor: '#5f6368', roads_label_major: '#455a64', city_label: '#37474f', subplace_label: '#546e7a'
    });
  }
  function addBasemap(b) {
    var bounds = b.bounds ? L.latLngBounds([b.bounds[1], b.bounds[0]], [b.bounds[3], b.bounds[2]]) : undefined;
    var common = { attribution: escapeHtml(b.attribution || ''), bounds: bounds, maxZoom: 19 };
    var layer;
    if (b.vector) {
      var flavor = basemapFlavor();
      layer = window.protomapsL.leafletLayer(Object.assign(common, {
        url: b.url, maxDataZoom: b.maxZoom, backgroundColor: flavor.background,
        paintRules: window.protomapsL.paintRules(flavor),
        // labels from name:vi (name:en on the English page), else the tiles' own name
        labelRules: window.protomapsL.labelRules(flavor, cfg.lang)
      }));
    } else {
      layer = L.tileLayer(b.url, Object.assign(common, { minNativeZoom: b.minZoom, maxNativeZoom: b.maxZoom }));
    }
    // the file's map is the one shown at start; a --tile-url layer stays in the control
    map.eachLayer(function (l) { if (l instanceof L.TileLayer) { map.removeLayer(l); } });
    layer.addTo(map);
    if (layerControl) { layerControl.addBaseLayer(layer, escapeHtml(S.basemap + (b.name ? ' — ' + b.name : ''))); }
    return layer;
  }
  var basemapLayer = cfg.basemap ? addBasemap(cfg.basemap) : null;

  /* reload some layers now (after an edit: the models of a kind, footprints, coverage, gaps);
   * layers not shown reload when they are ticked again */
  function reloadLayers(ids) {
    var pending = [];
    cfg.layers.forEach(function (d) {
      if (ids.indexOf(d.id) < 0 && ids.indexOf(d.group) < 0) { return; }
      if (d.abort) { d.abort.abort(); }
      d.loaded = null;
      pending.push(loadLayer(d));
    });
    return Promise.all(pending);
  }
  /* the figures of the area shown in the panel, fetched again */
  function refreshFigures() { return selectUnit(state.unit); }

  // the first view: every unit in scope, clear of the panel and the controls. Fitted once the
  // page's later scripts (plan.js: the "Proposed" overlay, edit.js: the edit button) have added
  // their controls, so that their sizes count.
  function firstView() {
    // a zoom animation still running (Leaflet's) would end on its own zoom after our fit
    if (map._animatingZoom) { map.once('zoomend', function () { setTimeout(firstView, 0); }); return; }
    map.invalidateSize({ pan: false });  // the container's size now that the page is laid out
    if (cfg.extent) { fitPadded([[cfg.extent[1], cfg.extent[0]], [cfg.extent[3], cfg.extent[2]]], { animate: false }); }
    document.body.setAttribute('data-first-view', 'done');
  }
  if (document.readyState !== 'complete') { window.addEventListener('load', function () { setTimeout(firstView, 0); }); } else { setTimeout(firstView, 0); }
  selectUnit(null);
  loadAll();
  Object.assign(window.geoAntt, { map: map, config: cfg, selectUnit: selectUnit, state: state, reloadLayers: reloadLayers,
                                 basemap: basemapLayer, refreshFigures: refreshFigures, markerIcon: markerIcon,
                                 formatPct: pct, formatArea: area, viewPadding: viewPadding, fitPadded: fitPadded,
                                 tierRanges: tierRanges });
}());
