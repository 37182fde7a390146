/* geo-antt planning panel: "Suggest new sites" (POST /api/plan, drawn as a "Proposed" layer:
 * numbered markers + dashed footprints) and the conference-report downloads of the selected
 * area. Runs after map.js (window.geoAntt); all user text is set with textContent. */
(function () {
  'use strict';
  var node = document.getElementById('geo-antt-plan-config');
  if (!node || !window.geoAntt) { return; }
  var pcfg = JSON.parse(node.textContent);
  var S = pcfg.strings;
  var G = window.geoAntt;
  var map = G.map;
  var PLANNABLE = { commune: true, hamlet: true, ward: true, township: true };
  var COLOR = '#ef6c00';
  var F = G.fmt;  // format.js: the one way to write a number (geo_antt/numbers.py)

  var el = window.geoAnttDom.el;
  var clear = window.geoAnttDom.clear;
  function m2(v) { return typeof v === 'number' ? F.number(v, 1) + ' m²' : '—'; }
  function pct(v, digits) { return typeof v === 'number' ? F.percent(v, digits) : '—'; }
  var request = window.geoAnttDom.request;

  /* ---- the "Proposed" layer: footprints (dashed) under numbered markers ---- */
  // A camera's 20 m footprint is 5 px wide at zoom 15 and 2 px at 13: a '6 5' dash along a
  // perimeter shorter than the dash is mostly gap, and a 0.18 fill over a few pixels shows
  // nothing, so the footprints "vanished" below street zoom. Below STREET_ZOOM they are drawn
  // solid and denser, and each site gets a dashed ring of a fixed size in pixels (a halo
  // around its marker) that stays visible at any zoom.
  var STREET_ZOOM = 17;
  var HALO_ZOOM = 16;
  function footprintStyle() {
    var z = map.getZoom();
    if (z >= STREET_ZOOM) { return { color: COLOR, weight: 2, dashArray: '6 5', fillColor: COLOR, fillOpacity: 0.18, className: 'proposed-footprint' }; }
    return { color: COLOR, weight: 2, dashArray: null, fillColor: COLOR, fillOpacity: 0.35, className: 'proposed-footprint' };
  }
  var proposed = L.featureGroup();
  var footprints = L.geoJSON(null, { style: footprintStyle, interactive: false }).addTo(proposed);
  var halos = L.featureGroup().addTo(proposed);
  var markers = L.featureGroup().addTo(proposed);
  function updateZoomStyle() {
    footprints.setStyle(footprintStyle);
    var show = map.getZoom() < HALO_ZOOM;
    halos.eachLayer(function (h) { h.setStyle({ opacity: show ? 1 : 0, fillOpacity: show ? 0.12 : 0 }); });
  }
  map.on('zoomend', updateZoomStyle);
  proposed.addTo(map);
  if (window.geoAnttLayerControl) { window.geoAnttLayerControl.addOverlay(proposed, S.plan_layer); }

  function kindTitle(code) {
    for (var i = 0; i < pcfg.kinds.length; i++) { if (pcfg.kinds[i].code === code) { return pcfg.kinds[i].title; } }
    return code;
  }
  function sitePopup(p) {
    var box = el('div', 'popup');
    box.appendChild(el('h3', null, S.plan_site + ' ' + p.rank + ' — ' + kindTitle(p.kind)));
    var tbl = el('table');
    var rows = [[S.plan_gain, m2(p.gain_m2)], [S.plan_hamlet, siteHamlet(p)]];
    if (Array.isArray(p.direction_deg) && p.direction_deg.length) { rows.push([S.plan_direction, p.direction_deg.join(', ')]); }
    rows.forEach(function (r) {
      var tr = el('tr'); tr.appendChild(el('th', null, r[0])); tr.appendChild(el('td', null, r[1])); tbl.appendChild(tr);
    });
    box.appendChild(tbl);
    return box;
  }
  function siteHamlet(p) { return (p.unit_name || p.unit_code || '') + (p.unit_name && p.unit_code ? ' (' + p.unit_code + ')' : ''); }
  function sitePlace(f) {
    var c = f.geometry.coordinates;  // lat, lon: as an officer reads them off a phone
    return c[1].toFixed(5) + ', ' + c[0].toFixed(5);
  }
  function siteIcon(rank) {
    var span = el('span', 'model-icon proposed-icon', String(rank));
    return L.divIcon({ html: span, className: 'model-marker proposed-marker', iconSize: [26, 26], iconAnchor: [13, 13], popupAnchor: [0, -13] });
  }

  /* ---- panel ---- */
  var form = document.getElementById('plan-form');
  var runBtn = document.getElementById('plan-run');
  var clearBtn = document.getElementById('plan-clear');
  var status = document.getElementById('plan-status');
  var result = document.getElementById('plan-result');
  var budget = document.getElementById('plan-budget');
  var costRow = document.getElementById('plan-unit-cost-row');
  var reportFrom = document.getElementById('report-from');
  var reportTo = document.getElementById('report-to');
  var reportStatus = document.getElementById('report-status');
  var reportLinks = document.querySelectorAll('#report-links a[data-format]');
  var busy = false;
  var kindSelect = document.getElementById('plan-kind');
  var spacingInput = document.getElementById('plan-min-spacing');
  // the least spacing follows the kind chosen (its layer spec's default) until typed over
  function kindSpacing() {
    for (var i = 0; i < pcfg.kinds.length; i++) { if (pcfg.kinds[i].code === kindSelect.value) { return pcfg.kinds[i].minSpacing; } }
    return 0;
  }
  // a purpose (tier) only for kinds that have tiers (cameras)
  var tierSelect = document.getElementById('plan-tier');
  function kindHasTiers() {
    for (var i = 0; i < pcfg.kinds.length; i++) { if (pcfg.kinds[i].code === kindSelect.value) { return pcfg.kinds[i].tiers; } }
    return false;
  }
  function syncTier() {
    if (!tierSelect) { return; }
    document.getElementById('plan-tier-row').hidden = !kindHasTiers();
    if (!kindHasTiers()) { tierSelect.value = ''; }
  }
  syncTier();
  kindSelect.addEventListener('change', function () { spacingInput.value = String(kindSpacing()); syncTier(); });

  function selected() {
    var st = G.state.stats;
    return (st && st.unit) ? st.unit : null;
  }
  function canPlan() {
    var u = selected();
    return !!(u && PLANNABLE[u.level]);
  }
  function refresh() {
    runBtn.disabled = busy || !canPlan();
    if (!busy) { status.textContent = canPlan() ? '' : S.plan_need_area; }
    costRow.hidden = !budget.value;
    updateReportLinks();
  }

  function updateReportLinks() {
    var u = selected();
    var a = reportFrom.value, b = reportTo.value;
    var ok = !!(u && a && b && a <= b);
    reportStatus.textContent = u ? (a && b && a > b ? S.report_from + ' > ' + S.report_to : '') : S.plan_need_area;
    Array.prototype.forEach.call(reportLinks, function (link) {
      var fmtName = link.getAttribute('data-format');
      if (ok) {
        link.href = pcfg.urls.report.replace('__NAME__', encodeURIComponent(u.code) + '.' + fmtName) +
          '?period=' + encodeURIComponent(a + ':' + b) + '&lang=' + encodeURIComponent(pcfg.lang);
        link.removeAttribute('aria-disabled');
      } else {
        link.removeAttribute('href');
        link.setAttribute('aria-disabled', 'true');
      }
    });
  }

  function clearPlan() {
    footprints.clearLayers();
    halos.clearLayers();
    markers.clearLayers();
    clear(result);
    clearBtn.hidden = true;
    document.body.removeAttribute('data-plan-sites');
  }

  function table(headers, rows, numeric) {
    var tbl = el('table', 'fig-table plan-table');
    var tr = el('tr');
    headers.forEach(function (h) { tr.appendChild(el('th', null, h)); });
    tbl.appendChild(tr);
    rows.forEach(function (r) {
      var row = el('tr');
      r.forEach(function (v, i) { row.appendChild(el('td', numeric[i] ? 'num' : null, v)); });
      tbl.appendChild(row);
    });
    return tbl;
  }

  // A proposed site becomes an active model of the registry (the server checks role and scope).
  function acceptButton(f) {
    var p = f.properties;
    var b = el('button', 'small accept', S.plan_accept);
    b.type = 'button';
    b.setAttribute('data-accept', String(p.rank));
    b.addEventListener('click', function () {
      b.disabled = true;
      var props = {
        kind: p.kind, unit_code: p.unit_code, status: 'active',
        name: kindTitle(p.kind) + ' (' + S.plan_accept_name + ' ' + p.rank + ')',
        direction_deg: p.direction_deg, fov_deg: p.fov_deg, range_m: p.range_m, radius_m: p.radius_m,
        notes: 'geo-antt plan'
      };
      request('POST', pcfg.urls.accept, { json: { type: 'Feature', properties: props, geometry: f.geometry } })
        .then(function (feat) {
          b.textContent = S.plan_accepted;
          b.setAttribute('data-model-id', String(feat.id));
          map.fire('moveend');  // the layers reload from the registry
        })
        .catch(function (err) { b.disabled = false; status.textContent = S.plan_error + ': ' + err.message; });
    });
    return b;
  }

  function showResult(fc) {
    clearPlan();
    var sm = fc.summary;
    var sites = fc.features.filter(function (f) { return f.properties.layer === 'site'; });
    footprints.addData({ type: 'FeatureCollection', features: fc.features.filter(function (f) { return f.properties.layer === 'footprint'; }) });
    var byRank = {};
    sites.forEach(function (f) {
      var p = f.properties;
      var c = f.geometry.coordinates;
      halos.addLayer(L.circleMarker([c[1], c[0]], { radius: 19, color: COLOR, weight: 2, dashArray: '5 4', fillColor: COLOR,
                                                     fillOpacity: 0.12, interactive: false, className: 'proposed-halo' }));
      var mk = L.marker([c[1], c[0]], { icon: siteIcon(p.rank), title: S.plan_site + ' ' + p.rank, zIndexOffset: 1000 });
      mk.bindPopup(function () { return sitePopup(p); });
      markers.addLayer(mk);
      byRank[p.rank] = mk;
    });
    if (!map.hasLayer(proposed)) { proposed.addTo(map); }
    updateZoomStyle();

    if (sm.tier) {  // planned for one purpose: the new cameras' range and the unrated ones
      var tname = sm.tier;
      (pcfg.tiers || []).forEach(function (t) { if (t.code === sm.tier) { tname = t.title; } });
      var tl = el('p', 'muted', S.plan_tier_range.replace('{px}', window.geoAntt.fmt.number(sm.resolution_px))
        .replace('{tier}', tname).replace('{m}', window.geoAntt.fmt.number(sm.tier_range_m))
        .replace('{n}', window.geoAntt.fmt.number(sm.tier_unknown)));
      tl.id = 'plan-tier-line';
      result.appendChild(tl);
    }
    var head = el('p', 'fig-total');
    head.appendChild(el('span', null, S.plan_total + ': '));
    head.appendChild(el('strong', null, m2(sm.objective_m2)));
    result.appendChild(head);
    var cov = el('p', 'fig-total');
    // enough digits that a gain shows ("0,82 % → 0,82 %" read as none): up to 4 decimals
    var digits = 2;
    while (digits < 4 && sm.covered_pct_after > sm.covered_pct_before &&
           pct(sm.covered_pct_after, digits) === pct(sm.covered_pct_before, digits)) { digits++; }
    function pctFine(v) { return pct(v, digits); }
    cov.appendChild(el('span', null, sm.unit_name + ': ' + pctFine(sm.covered_pct_before) + ' → '));
    cov.appendChild(el('strong', null, pctFine(sm.covered_pct_after)));
    // the gain itself, in m²: a share of a large commune can move less than its last digit
    if (typeof sm.covered_m2_after === 'number' && typeof sm.covered_m2_before === 'number') {
      cov.appendChild(el('span', 'plan-gain', ' (+' + m2(sm.covered_m2_after - sm.covered_m2_before) + ')'));
    }
    result.appendChild(cov);
    var solver = S.plan_solver + ': ' + (S['solver_' + sm.solver] || sm.solver) + (sm.optimal ? ' (' + S.plan_optimal + ')' : '');
    result.appendChild(el('p', 'note', solver));
    if (sm.proven_by_bound) { result.appendChild(el('p', 'note', S.plan_by_bound)); }
    if (typeof sm.gap_to_optimum === 'number') {
      result.appendChild(el('p', 'note', S.plan_gap + ' ' + pct(100 * sm.gap_to_optimum)));
    }
    if (!sites.length) {
      result.appendChild(el('p', 'muted', S.plan_none));
    } else {
      result.appendChild(el('h3', null, S.plan_sites));
      var ol = el('ol', 'list plan-sites');
      sites.forEach(function (f) {
        var p = f.properties;
        var li = el('li');
        var btn = el('button', 'link-button', kindTitle(p.kind) + ' — ' + (p.unit_name || p.unit_code || '') + ' (' +
          sitePlace(f) + ') — ' + S.plan_gain.toLowerCase() + ' ' + m2(p.gain_m2));
        btn.type = 'button';
        btn.setAttribute('data-rank', String(p.rank));
        btn.addEventListener('click', function () {
          var mk = byRank[p.rank];
          map.setView(mk.getLatLng(), Math.max(map.getZoom(), 17));
          mk.openPopup();
        });
        li.appendChild(btn);
        if (pcfg.canEdit) { li.appendChild(acceptButton(f)); }
        ol.appendChild(li);
      });
      result.appendChild(ol);
    }
    if (sm.hamlets && sm.hamlets.length) {
      result.appendChild(table([S.plan_hamlet, S.plan_before, S.plan_after, S.plan_gain],
        sm.hamlets.map(function (h) { return [h.name, pct(h.covered_pct_before), pct(h.covered_pct_after), m2(h.gain_m2)]; }),
        [false, true, true, true]));
    }
    clearBtn.hidden = false;
    if (sites.length && markers.getBounds().isValid()) {
      // clear of the open panel (a phone's sheet) and of the map's controls (edit button, layer
      // list, legend): no marker is left under them
      G.fitPadded(proposed.getBounds(), { maxZoom: 17, margin: 20 });
    }
    document.body.setAttribute('data-plan-sites', String(sites.length));
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var u = selected();
    if (!u || !canPlan() || busy) { refresh(); return; }
    var body = { unit: u.code, kind: document.getElementById('plan-kind').value, count: document.getElementById('plan-count').value || null, solver: 'auto' };
    if (spacingInput.value !== '') { body.min_spacing_m = spacingInput.value; }
    if (tierSelect && tierSelect.value) { body.tier = tierSelect.value; }
    if (budget.value) {
      body.budget_vnd = budget.value;
      body.unit_cost_vnd = document.getElementById('plan-unit-cost').value || null;
    }
    busy = true;
    runBtn.disabled = true;
    status.classList.remove('warn');
    status.textContent = S.plan_running;
    document.body.removeAttribute('data-plan-sites');
    request('POST', pcfg.urls.plan, { json: body })
      .then(function (fc) { busy = false; status.textContent = ''; showResult(fc); refresh(); })
      .catch(function (err) {
        busy = false;
        refresh();
        status.classList.add('warn');
        status.textContent = S.plan_error + ': ' + err.message;
      });
  });
  clearBtn.addEventListener('click', clearPlan);
  budget.addEventListener('input', refresh);
  reportFrom.addEventListener('change', updateReportLinks);
  reportTo.addEventListener('change', updateReportLinks);

  /* follow the area chosen in the panel (map.js sets body[data-selected-unit] when it is shown) */
  new MutationObserver(function () { clearPlan(); refresh(); })
    .observe(document.body, { attributes: true, attributeFilter: ['data-selected-unit'] });
  refresh();
  G.plan = { layer: proposed, show: showResult, clear: clearPlan };
}());
