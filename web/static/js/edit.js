/* geo-antt map editing (admin and officer accounts only; the page loads this file for them).
 *
 * "Edit" mode: a click on the map opens a form to add a model there (kind, name, field, host,
 * status, dates and the kind's parameters, prefilled from the layer spec defaults); a click on a
 * model (or the "Edit" button of its popup) selects it: its marker becomes draggable, a handle at
 * the end of each of a camera's sector axes sets that direction (bearing from the camera,
 * clockwise from north) and the range (metres, map.distance), a handle on a light's or
 * checkpoint's circle sets the radius; the footprint is redrawn live, and what the model would
 * really see (its footprint cut by the buildings, from the server) is drawn over it. Save writes through /api/registry (POST, or PATCH with
 * the version the edit is based on; 409 = someone saved first: the model is reloaded), "Retire"
 * sets the status to inactive after a confirmation. After each write the affected layers (the
 * kind's models, footprints, coverage, gaps) and the panel's figures are fetched again.
 * All user text is set with textContent; errors of the server are shown in the form in the
 * page's language. Runs after map.js (window.geoAntt). */
(function () {
  'use strict';
  var node = document.getElementById('geo-antt-edit-config');
  if (!node || !window.geoAntt) { return; }
  var ecfg = JSON.parse(node.textContent);
  var S = ecfg.strings;
  var G = window.geoAntt;
  var map = G.map;
  var mcfg = G.config;
  var KINDS = {};
  ecfg.kinds.forEach(function (k) { KINDS[k.code] = k; });
  // Leaflet's sphere (L.CRS.Earth.R): map.distance() and the handle geometry agree exactly
  var R = 6371000;
  var ATTR_FIELDS = ['name', 'field', 'host', 'status', 'start_date', 'end_date', 'lens'];
  var FIELD_REASON = {
    fov_deg: 'err_fov', range_m: 'err_metres', resolution_px: 'err_resolution', lens: 'err_code', radius_m: 'err_metres', height_m: 'err_metres',
    direction_deg: 'err_number', field: 'err_code', host: 'err_code', status: 'err_code', camera_type: 'err_code',
    start_date: 'err_date', end_date: 'err_date', geometry: 'err_geometry', kind: 'err_kind', unit_code: 'err_unit'
  };

  var editMode = false;
  var session = null;
  var refreshCount = 0;
  var previewCount = 0;  // footprint previews drawn (data-edit-preview, for tests)

  /* ---- DOM helpers: text is always set with textContent ---- */
  var el = window.geoAnttDom.el;
  var clear = window.geoAnttDom.clear;
  function setState(s) { document.body.setAttribute('data-edit-state', s); }
  function url(template, id) { return template.replace('__ID__', encodeURIComponent(id)); }

  /* ---- geometry on Leaflet's sphere ---- */
  function rad(d) { return d * Math.PI / 180; }
  function deg(r) { return r * 180 / Math.PI; }
  function destination(ll, bearingDeg, metres) {
    var d = metres / R, b = rad(bearingDeg), p1 = rad(ll.lat), l1 = rad(ll.lng);
    var p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
    var l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    return L.latLng(deg(p2), deg(l2));
  }
  function bearing(a, b) {
    var p1 = rad(a.lat), p2 = rad(b.lat), dl = rad(b.lng - a.lng);
    var y = Math.sin(dl) * Math.cos(p2);
    var x = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(dl);
    return (deg(Math.atan2(y, x)) + 360) % 360;
  }
  function sectorRing(c, dirDeg, fovDeg, rangeM) {
    var pts = [];
    var n = 32;
    if (fovDeg >= 360) {
      for (var j = 0; j < 64; j++) { pts.push(destination(c, j * 360 / 64, rangeM)); }
      return pts;
    }
    pts.push(c);
    for (var i = 0; i <= n; i++) { pts.push(destination(c, dirDeg - fovDeg / 2 + fovDeg * i / n, rangeM)); }
    return pts;
  }
  function round7(v) { return Math.round(v * 1e7) / 1e7; }

  /* ---- requests ---- */
  function send(method, address, body) {
    return window.geoAnttDom.request(method, address, { json: body });
  }
  function locate(latlng, prefer) {
    var q = '?lon=' + encodeURIComponent(latlng.lng.toFixed(7)) + '&lat=' + encodeURIComponent(latlng.lat.toFixed(7)) +
      (prefer ? '&unit=' + encodeURIComponent(prefer) : '');
    return send('GET', ecfg.urls.locate + q).catch(function (e) { e.context = 'locate'; throw e; });
  }
  function errorText(e) {
    if (e.status === 403) { return e.context === 'locate' ? S.err_outside : S.err_forbidden; }
    if (e.status === 404) { return e.context === 'locate' ? S.err_no_unit : S.err_not_found; }
    if (e.status === 409) { return S.err_conflict; }
    if (e.status === 401) { return S.err_login; }
    if (e.status === 400) { return (e.data && e.data.error === 'CSRFError') ? S.err_csrf : S.err_invalid; }
    if (e.status === 0) { return S.err_network; }
    return S.err_server + ' (HTTP ' + e.status + ')';
  }
  // {field: text} of a 400 answer: a ValidationError lists its problems, other 400s name the field
  function fieldErrors(data) {
    var out = {};
    function reason(field, text) {
      if (/not a number|finite number/.test(text || '') && field !== 'geometry') { return S.err_number; }
      return S[FIELD_REASON[field] || 'err_value'];
    }
    // the server's own reason, in the page's language (it names the allowed range: "từ 1 đến 300")
    var vi = document.documentElement.lang !== 'en';
    (data.problems || []).forEach(function (p) {
      if (!p.field) { return; }
      var own = vi ? p.reason_vi : p.reason;
      out[p.field] = own || reason(p.field, p.reason);
    });
    var m = /field '([a-z_]+)': (.*)/.exec(data.message || '');
    if (m && !out[m[1]]) { out[m[1]] = reason(m[1], m[2]); }
    return out;
  }

  /* ---- the control: mode toggle, hint, messages, form ---- */
  var box, toggle, hint, message, formSlot;
  var Control = L.Control.extend({
    options: { position: 'topleft' },
    onAdd: function () {
      box = el('div', 'edit-box leaflet-bar');
      box.id = 'edit-box';
      toggle = el('button', 'edit-toggle', S.edit_mode);
      toggle.type = 'button';
      toggle.id = 'edit-toggle';
      toggle.setAttribute('aria-pressed', 'false');
      toggle.addEventListener('click', function () { setMode(!editMode); });
      hint = el('p', 'edit-hint', S.edit_hint);
      hint.hidden = true;
      message = el('p', 'edit-message');
      message.id = 'edit-message';
      message.setAttribute('role', 'status');
      message.setAttribute('aria-live', 'polite');
      message.hidden = true;
      formSlot = el('div', 'edit-form-slot');
      box.appendChild(toggle);
      box.appendChild(hint);
      box.appendChild(message);
      box.appendChild(formSlot);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    }
  });
  new Control().addTo(map);

  function showMessage(text, isError) {
    message.textContent = text || '';
    message.hidden = !text;
    message.classList.toggle('error', !!isError);
  }

  function setMode(on) {
    if (!on && session) { cancelSession(); }
    editMode = on;
    toggle.textContent = on ? S.edit_mode_off : S.edit_mode;
    toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
    toggle.classList.toggle('active', on);
    hint.hidden = !on;
    map.getContainer().classList.toggle('geo-antt-editing', on);
    if (!on) { showMessage(''); }
    setState(on ? 'idle' : 'off');
  }

  /* ---- drawing of the model being edited ---- */
  map.createPane('geoAnttEdit').style.zIndex = '450';
  var drawn = L.layerGroup().addTo(map);

  function kindOf(s) { return KINDS[s.kind]; }
  function layerDesc(kind) {
    for (var i = 0; i < mcfg.layers.length; i++) { if (mcfg.layers[i].id === kind) { return mcfg.layers[i]; } }
    return null;
  }
  function editIcon(kind) {
    var d = layerDesc(kind) || {};
    var span = el('span', 'model-icon edit-icon');
    span.style.background = d.color || (KINDS[kind] && KINDS[kind].color) || '#555';
    span.appendChild(el('i', 'fa-solid fa-' + (d.icon || 'circle')));
    return L.divIcon({ html: span, className: 'model-marker edit-marker', iconSize: [30, 30], iconAnchor: [15, 15] });
  }
  var handleIcon = L.divIcon({ html: el('span', 'edit-handle-dot'), className: 'edit-handle', iconSize: [18, 18], iconAnchor: [9, 9] });

  // the numbers the drawing uses: the form's values, or the kind's defaults where empty
  function effective(s) {
    var k = kindOf(s), p = s.params, dflt = k.defaults;
    function num(name) { return typeof p[name] === 'number' ? p[name] : dflt[name]; }
    return {
      dirs: (p.direction_deg && p.direction_deg.length) ? p.direction_deg : [dflt.direction_deg || 0],
      fov: num('fov_deg'), range: num('range_m'), radius: num('radius_m')
    };
  }
  // one handle per direction of a camera (the range is shared), one on a light's circle
  function handlePos(s, i) {
    var v = effective(s);
    if (kindOf(s).rule === 'sector') { return destination(s.latlng, v.dirs[i], v.range || 0); }
    return destination(s.latlng, 90, v.radius || 0);
  }
  function syncHandles(s) {
    var n = kindOf(s).rule === 'sector' ? effective(s).dirs.length : 1;
    while (s.handles.length > n) { drawn.removeLayer(s.handles.pop()); }
    while (s.handles.length < n) {
      var i = s.handles.length;
      var h = L.marker(handlePos(s, i), { icon: handleIcon, draggable: true, autoPan: true, zIndexOffset: 1100, keyboard: false });
      h.on('drag', fromHandle.bind(null, s, i, false));
      h.on('dragend', fromHandle.bind(null, s, i, true));
      h.addTo(drawn);
      s.handles.push(h);
    }
  }
  // dragging: the index of the handle under the pointer (left where it is), or undefined
  function redraw(s, dragging) {
    var k = kindOf(s), v = effective(s);
    var style = { pane: 'geoAnttEdit', color: k.color, weight: 2, dashArray: '6 4', fillColor: k.color, fillOpacity: 0.22, interactive: false };
    s.shapes.clearLayers();
    if (k.rule === 'sector') {
      v.dirs.forEach(function (dir) {
        if (v.range > 0 && v.fov > 0) { s.shapes.addLayer(L.polygon(sectorRing(s.latlng, dir, v.fov, v.range), style)); }
      });
    } else if (v.radius > 0) {
      s.shapes.addLayer(L.polygon(sectorRing(s.latlng, 0, 360, v.radius), style));
    }
    syncHandles(s);
    s.handles.forEach(function (h, i) {
      var hp = i === dragging ? h.getLatLng() : handlePos(s, i);
      s.shapes.addLayer(L.polyline([s.latlng, hp], { pane: 'geoAnttEdit', color: '#263238', weight: 1.5, dashArray: '3 4', interactive: false }));
      if (i !== dragging) { h.setLatLng(hp); }
    });
    askPreview(s);
  }

  /* ---- what the model would see there: the server cuts the drawn sector (or disc) by the
   * buildings, exactly as the map will once it is saved (POST /api/edit/footprint). One request
   * at a time: while one is out, the latest state waits and is asked next, so a drag is followed
   * at the speed of the server's answers; a late answer of an older state is dropped. ---- */
  // a value the form shows as out of its kind's bounds is not sent: the save reports it
  function inBounds(k, name, value) {
    var b = (k.bounds || {})[name];
    return isFinite(value) && (!b || (value >= b[0] && value <= b[1]));
  }
  function previewBody(s) {
    var k = kindOf(s), v = effective(s), props = { kind: s.kind };
    if (k.rule === 'sector') {
      if (!(inBounds(k, 'fov_deg', v.fov) && inBounds(k, 'range_m', v.range))) { return null; }
      if (!v.dirs.every(function (d) { return isFinite(d); })) { return null; }
      props.direction_deg = v.dirs; props.fov_deg = v.fov; props.range_m = v.range;
    } else {
      if (!inBounds(k, 'radius_m', v.radius)) { return null; }
      props.radius_m = v.radius;
    }
    var geometry = { type: 'Point', coordinates: [round7(s.latlng.lng), round7(s.latlng.lat)] };
    return { type: 'Feature', geometry: geometry, properties: props };
  }
  function askPreview(s) {
    if (!ecfg.urls.footprint) { return; }
    s.previewWanted = previewBody(s);
    document.body.setAttribute('data-edit-preview-state', 'pending');
    if (s.previewOut) { return; }
    sendPreview(s);
  }
  function sendPreview(s) {
    var body = s.previewWanted;
    s.previewWanted = null;
    if (!body) { showVisible(s, null); previewDone(s); return; }
    var key = JSON.stringify(body);
    s.previewOut = true;
    send('POST', ecfg.urls.footprint, body).then(function (f) {
      s.previewOut = false;
      if (session !== s) { return; }
      showVisible(s, f, key);
      previewDone(s);
    }, function () {
      s.previewOut = false;
      if (session !== s) { return; }
      showVisible(s, null);  // the plain sector stays; a save reports any problem itself
      previewDone(s);
    });
  }
  // the next state waiting, or the page says the drawing is up to date (data-edit-preview-state)
  function previewDone(s) {
    if (s.previewWanted) { sendPreview(s); return; }
    document.body.setAttribute('data-edit-preview-state', 'done');
  }
  function showVisible(s, f, key) {
    if (s.visible) { drawn.removeLayer(s.visible); s.visible = null; }
    var seen = !!(f && f.properties && f.properties.occluded && f.geometry);
    if (seen) {
      var k = kindOf(s);
      s.visible = L.geoJSON(f, {
        pane: 'geoAnttEdit', interactive: false,
        style: { color: k.color, weight: 1, fillColor: k.color, fillOpacity: 0.5 }
      }).addTo(drawn);
    }
    // the drawn sector is an outline when the buildings' cut is shown over it
    s.shapes.eachLayer(function (l) { if (l instanceof L.Polygon) { l.setStyle({ fillOpacity: seen ? 0.06 : 0.22 }); } });
    s.previewKey = key || null;
    previewCount += 1;
    document.body.setAttribute('data-edit-preview', String(previewCount));
    if (f && f.properties) {
      document.body.setAttribute('data-edit-visible-m2', String(f.properties.area_m2));
      document.body.setAttribute('data-edit-sector-m2', String(f.properties.sector_m2));
    }
  }

  function drawSession(s) {
    s.shapes = L.featureGroup().addTo(drawn);
    s.handles = [];
    s.marker = L.marker(s.latlng, { icon: editIcon(s.kind), draggable: true, autoPan: true, zIndexOffset: 1000, keyboard: false });
    s.marker.addTo(drawn);
    s.marker.on('drag', function () {
      s.latlng = s.marker.getLatLng();
      redraw(s);
    });
    s.marker.on('dragend', function () { s.latlng = s.marker.getLatLng(); redraw(s); relocate(s); });
    redraw(s);
  }

  // direction i and the range (or the radius) from where handle i is
  function fromHandle(s, i, done) {
    var h = s.handles[i].getLatLng();
    var k = kindOf(s), b = (k.bounds || {})[k.rule === 'sector' ? 'range_m' : 'radius_m'] || [1, Infinity];
    // never further than the kind's bound (layers/*.toml [bounds]): the server refuses more
    var dist = Math.min(b[1], Math.max(b[0], Math.round(map.distance(s.latlng, h))));
    if (k.rule === 'sector') {
      var dirs = effective(s).dirs.slice();
      dirs[i] = Math.round(bearing(s.latlng, h)) % 360;
      s.params.direction_deg = dirs;
      s.params.range_m = dist;
      setInput('direction_deg', dirs.join(', '));
      setInput('range_m', dist);
    } else {
      s.params.radius_m = dist;
      setInput('radius_m', dist);
    }
    redraw(s, done ? undefined : i);
  }

  // the unit a (moved) model is filed under; a position outside the user's area is refused
  function relocate(s) {
    var prev = s.unit;
    s.locating = locate(s.latlng, prev ? prev.code : null).then(function (u) {
      if (session !== s) { return; }
      s.unit = u;
      s.lastGood = s.latlng;
      showUnit(s);
      formError('');
    }).catch(function (e) {
      if (session !== s) { return; }
      // back to the last accepted position
      s.latlng = s.lastGood;
      s.marker.setLatLng(s.latlng);
      redraw(s);
      formError(errorText(e));
    });
    return s.locating;
  }

  /* ---- the form ---- */
  var form = null;
  function inputId(name) { return 'edit-' + name; }
  function setInput(name, value) {
    var i = document.getElementById(inputId(name));
    if (i) { i.value = value === null || value === undefined ? '' : String(value); }
  }
  function row(parent, name, control, label) {
    var r = el('div', 'edit-row');
    r.setAttribute('data-field', name);
    var lab = el('label', null, label || S[name] || name);
    lab.htmlFor = inputId(name);
    control.id = inputId(name);
    control.name = name;
    r.appendChild(lab);
    r.appendChild(control);
    var err = el('span', 'field-error');
    err.setAttribute('data-error-for', name);
    err.hidden = true;
    r.appendChild(err);
    parent.appendChild(r);
    return r;
  }
  function select(options, value, allowEmpty) {
    var sel = el('select');
    if (allowEmpty) { var o0 = el('option', null, S.none); o0.value = ''; sel.appendChild(o0); }
    Object.keys(options).forEach(function (code) {
      var o = el('option', null, options[code]);
      o.value = code;
      if (code === value) { o.selected = true; }
      sel.appendChild(o);
    });
    return sel;
  }
  function numberInput(value, placeholder) {
    var i = el('input');
    i.type = 'number';
    i.step = 'any';
    i.inputMode = 'decimal';
    if (value !== null && value !== undefined) { i.value = String(value); }
    if (placeholder !== undefined && placeholder !== null) { i.placeholder = String(placeholder); }
    return i;
  }
  function formError(text) {
    if (!form) { return; }
    var p = form.querySelector('.edit-error');
    p.textContent = text || '';
    p.hidden = !text;
  }
  function clearFieldErrors() {
    if (!form) { return; }
    Array.prototype.forEach.call(form.querySelectorAll('.field-error'), function (n) { n.textContent = ''; n.hidden = true; });
    Array.prototype.forEach.call(form.querySelectorAll('.edit-row.invalid'), function (n) { n.classList.remove('invalid'); });
  }
  function markField(name, text) {
    var n = form && form.querySelector('[data-error-for="' + name + '"]');
    if (!n) { return false; }
    n.textContent = text;
    n.hidden = false;
    n.parentNode.classList.add('invalid');
    return true;
  }
  function showUnit(s) {
    var n = document.getElementById('edit-unit');
    if (!n) { return; }
    if (!s.unit) { n.textContent = S.locating; return; }
    // the unit and the one above it (the commune of a hamlet), then the code
    var above = s.unit.context ? s.unit.context.split(', ')[0] : '';
    n.textContent = (s.unit.name === s.unit.code ? '' : s.unit.name + (above ? ', ' + above : '') + ' · ') + s.unit.code;
    n.setAttribute('data-code', s.unit.code);
  }

  function paramRows(parent, s) {
    var k = kindOf(s);
    var dflt = k.defaults;
    var creating = s.mode === 'create';
    var pair = null;
    k.params.forEach(function (name) {
      var input;
      if (name === 'direction_deg') {
        input = el('input');
        input.type = 'text';
        input.inputMode = 'decimal';
        input.value = (s.params.direction_deg || []).join(', ');
        input.placeholder = '0–360';
      } else {
        // an existing model without a value uses the layer default: shown as a placeholder
        input = numberInput(s.params[name], creating ? null : dflt[name]);
        var bound = (k.bounds || {})[name];  // the kind's [low, high] (layers/*.toml [bounds])
        input.min = bound ? String(bound[0]) : '0';
        if (bound) { input.max = String(bound[1]); } else if (name === 'fov_deg') { input.max = '360'; }
      }
      input.addEventListener('input', function () { fromInputs(s); });
      if (name === 'resolution_px') { input.placeholder = '1920'; }
      if (name === 'fov_deg' || name === 'range_m') {
        // angle and range side by side
        if (!pair) { pair = el('div', 'edit-row-2'); parent.appendChild(pair); }
        row(pair, name, input);
      } else {
        row(parent, name, input);
      }
    });
  }

  // parse the parameter inputs into s.params; {field: text} of those that are not numbers
  function fromInputs(s) {
    var bad = {};
    kindOf(s).params.forEach(function (name) {
      var i = document.getElementById(inputId(name));
      if (!i) { return; }
      var raw = i.value.trim();
      if (name === 'direction_deg') {
        var parts = raw ? raw.split(/[,;\s]+/).filter(function (x) { return x !== ''; }) : [];
        var nums = parts.map(Number);
        if (nums.some(function (n) { return !isFinite(n); })) { bad[name] = S.err_number; return; }
        // a bearing is 0-360, as the server checks it: 400 is a typo, not 40 (a stored
        // 77.511131365 comes back unchanged; 360 is north)
        if (nums.some(function (n) { return n < 0 || n > 360; })) { bad[name] = S.err_direction; return; }
        s.params.direction_deg = nums.map(function (n) { return n === 360 ? 0 : n; });
      } else if (raw === '') {
        s.params[name] = i.validity && i.validity.badInput ? s.params[name] : null;
        if (i.validity && i.validity.badInput) { bad[name] = S.err_number; }
      } else if (isFinite(Number(raw))) {
        s.params[name] = Number(raw);
      } else {
        bad[name] = S.err_number;
      }
    });
    redraw(s);
    showTierRanges(s);
    return bad;
  }

  // the four ranges of a camera (map.js tierRanges: the engine's formula), live while its
  // resolution, field of view or lens change
  function showTierRanges(s) {
    var out = document.getElementById('edit-tier-ranges');
    if (!out) { return; }
    var lens = document.getElementById(inputId('lens'));
    var ranges = G.tierRanges(s.kind, { resolution_px: s.params.resolution_px, fov_deg: s.params.fov_deg,
                                        lens: lens && lens.value ? lens.value : null });
    clear(out);
    if (!ranges.length) { out.appendChild(el('span', 'muted', S.tier_no_resolution)); return; }
    out.appendChild(el('span', null, S.tier_ranges + ': '));
    ranges.forEach(function (r, i) {
      var b = el('strong', null, r.title + ' ' + window.geoAntt.fmt.number(Math.round(r.m * 100) / 100) + ' m');
      b.setAttribute('data-tier', r.code);
      if (i) { out.appendChild(el('span', null, ' · ')); }
      out.appendChild(b);
    });
  }

  function buildForm(s) {
    clear(formSlot);
    var k = kindOf(s);
    var p = s.props;
    form = el('form', 'edit-form');
    form.id = 'edit-form';
    form.noValidate = true;
    form.setAttribute('data-mode', s.mode);
    var title = el('h3', null, s.mode === 'create' ? S.add_title : S.edit_title);
    form.appendChild(title);
    if (s.mode === 'edit') {
      form.appendChild(el('p', 'edit-id', s.id + ' · ' + S.version + ' ' + s.version));
    }
    var unitLine = el('p', 'edit-unit-line');
    unitLine.appendChild(el('span', null, S.unit + ': '));
    var unitName = el('strong');
    unitName.id = 'edit-unit';
    unitLine.appendChild(unitName);
    form.appendChild(unitLine);
    var err = el('p', 'edit-error');
    err.setAttribute('role', 'alert');
    err.hidden = true;
    form.appendChild(err);

    var kinds = {};
    ecfg.kinds.forEach(function (x) { kinds[x.code] = x.title; });
    var kindSel = select(kinds, s.kind, false);
    kindSel.disabled = s.mode !== 'create';
    kindSel.addEventListener('change', function () {
      s.kind = kindSel.value;
      s.params = defaults(KINDS[s.kind]);
      s.marker.setIcon(editIcon(s.kind));
      buildForm(s);
      redraw(s);
    });
    row(form, 'kind', kindSel);
    var name = el('input');
    name.type = 'text';
    name.maxLength = 200;
    name.value = p.name || '';
    row(form, 'name', name);
    var params = el('div', 'edit-params');
    paramRows(params, s);
    form.appendChild(params);
    if (k.tiers) {
      var lensSel = select(mcfg.vocab.lens, p.lens, true);
      lensSel.addEventListener('change', function () { showTierRanges(s); });
      row(form, 'lens', lensSel);
      var tr = el('p', 'edit-tier-ranges');
      tr.id = 'edit-tier-ranges';
      form.appendChild(tr);
    }
    row(form, 'field', select(mcfg.vocab.field, p.field, true));
    row(form, 'host', select(mcfg.vocab.host, p.host, true));
    row(form, 'status', select(mcfg.vocab.status, p.status || 'active', false));
    var dates = el('div', 'edit-row-2');
    ['start_date', 'end_date'].forEach(function (nm) {
      var i = el('input');
      i.type = 'date';
      i.value = p[nm] ? String(p[nm]).slice(0, 10) : '';
      row(dates, nm, i);
    });
    form.appendChild(dates);
    form.appendChild(el('p', 'edit-note', k.rule === 'sector' ? S.drag_sector : S.drag_disc));

    var actions = el('div', 'edit-actions');
    var save = el('button', 'primary', S.save);
    save.type = 'submit';
    save.id = 'edit-save';
    var cancel = el('button', null, S.cancel);
    cancel.type = 'button';
    cancel.id = 'edit-cancel';
    cancel.addEventListener('click', function () { cancelSession(); showMessage(''); });
    actions.appendChild(save);
    actions.appendChild(cancel);
    form.appendChild(actions);
    if (s.mode === 'edit' && p.status !== 'inactive') {
      var retire = el('button', 'danger', S.retire);
      retire.type = 'button';
      retire.id = 'edit-retire';
      var confirmBox = el('div', 'edit-confirm');
      confirmBox.hidden = true;
      confirmBox.appendChild(el('p', null, S.retire_confirm));
      var yes = el('button', 'danger', S.retire_yes);
      yes.type = 'button';
      yes.id = 'edit-retire-yes';
      var no = el('button', null, S.retire_no);
      no.type = 'button';
      no.addEventListener('click', function () { confirmBox.hidden = true; retire.hidden = false; });
      retire.addEventListener('click', function () { confirmBox.hidden = false; retire.hidden = true; yes.focus(); });
      yes.addEventListener('click', function () { doRetire(s); });
      var answers = el('div', 'edit-actions');
      answers.appendChild(yes);
      answers.appendChild(no);
      confirmBox.appendChild(answers);
      actions.appendChild(retire);
      form.appendChild(confirmBox);
    }
    // what each attribute control showed at first: an untouched control keeps the stored value
    // even when it cannot show it (a free-text date, a code outside the list)
    ATTR_FIELDS.forEach(function (nm) {
      var c = form.querySelector('#' + inputId(nm));
      if (c) { c.setAttribute('data-initial', c.value); }
    });
    form.addEventListener('submit', function (ev) { ev.preventDefault(); doSave(s); });
    formSlot.appendChild(form);
    showTierRanges(s);
    box.classList.add('has-form');
    map.getContainer().classList.add('geo-antt-edit-form');
    hint.hidden = true;
    showUnit(s);
    setState(s.mode === 'create' ? 'creating' : 'editing');
  }

  /* ---- sessions ---- */
  function defaults(k) {
    var out = {};
    k.params.forEach(function (name) {
      var v = k.defaults[name];
      out[name] = name === 'direction_deg' ? [v || 0] : (typeof v === 'number' ? v : null);
    });
    return out;
  }
  function paramsOf(k, props) {
    var out = {};
    k.params.forEach(function (name) {
      var v = props[name];
      if (name === 'direction_deg') { out[name] = Array.isArray(v) ? v.slice() : (typeof v === 'number' ? [v] : []); }
      else { out[name] = typeof v === 'number' && isFinite(v) ? v : null; }
    });
    return out;
  }

  function begin(s) {
    s.lastGood = s.latlng;
    s.locating = Promise.resolve();
    session = s;
    showMessage('');
    drawSession(s);
    buildForm(s);
    keepVisible(s.latlng);
  }

  // the model being edited is not hidden by the form: beside it on a wide screen, above it on a
  // phone (where the form is a sheet at the bottom)
  function keepVisible(latlng) {
    var m = map.getContainer().getBoundingClientRect();
    var b = box.getBoundingClientRect();
    if (window.matchMedia('(max-width: 700px)').matches) {
      map.panInside(latlng, { paddingTopLeft: [30, 70], paddingBottomRight: [30, Math.max(30, m.bottom - b.top + 30)] });
    } else {
      map.panInside(latlng, { paddingTopLeft: [Math.max(30, b.right - m.left + 30), 30], paddingBottomRight: [30, 30] });
    }
  }

  // a click on the map: first the unit of the point (refused outside the user's area), then the form
  function startCreate(latlng) {
    var kind = ecfg.kinds[0].code;
    var pending = { mode: 'create', kind: kind, latlng: latlng, unit: null, props: { status: 'active' }, params: defaults(KINDS[kind]) };
    session = pending;
    setState('locating');
    showMessage(S.locating, false);
    locate(latlng, null).then(function (u) {
      if (session !== pending) { return; }
      pending.unit = u;
      begin(pending);
      var n = document.getElementById(inputId('name'));
      if (n) { n.focus(); }
    }).catch(function (e) {
      if (session !== pending) { return; }
      session = null;
      setState('idle');
      showMessage(errorText(e), true);
    });
  }

  function hideOriginal(id, kind, hide) {
    G.editingId = hide ? id : null;
    var d = layerDesc(kind);
    if (!d || !d.layer) { return; }
    if (hide) {
      var found = [];
      d.layer.eachLayer(function (l) { if (l.feature && l.feature.id === id) { found.push(l); } });
      found.forEach(function (l) { d.layer.removeLayer(l); });
    }
  }

  function startEdit(id, notice) {
    setState('loading');
    return send('GET', url(ecfg.urls.model, id)).then(function (f) {
      var p = f.properties || {};
      if (!KINDS[p.kind] || !f.geometry || f.geometry.type !== 'Point') { setState('idle'); return; }
      var c = f.geometry.coordinates;
      var s = { mode: 'edit', id: f.id, version: p.version, kind: p.kind, latlng: L.latLng(c[1], c[0]),
                orig: { lat: c[1], lng: c[0], unit: p.unit_code }, props: p, params: paramsOf(KINDS[p.kind], p),
                unit: { code: p.unit_code, name: p.unit_code, context: '' } };
      hideOriginal(f.id, p.kind, true);
      begin(s);
      if (notice) { formError(notice); }
      // the unit's name (the model stays filed under its unit while that covers it)
      locate(s.latlng, p.unit_code).then(function (u) {
        if (session === s && u.code === p.unit_code) { s.unit = u; showUnit(s); }
      }).catch(function () { /* the stored unit is shown by its code */ });
    }).catch(function (e) { setState('idle'); showMessage(errorText(e), true); });
  }

  function endSession() {
    var s = session;
    session = null;
    form = null;
    clear(formSlot);
    box.classList.remove('has-form');
    map.getContainer().classList.remove('geo-antt-edit-form');
    hint.hidden = !editMode;
    drawn.clearLayers();
    if (s && s.mode === 'edit') { hideOriginal(s.id, s.kind, false); }
    setState(editMode ? 'idle' : 'off');
    return s;
  }
  function cancelSession() {
    var s = endSession();
    if (s && s.mode === 'edit') { G.reloadLayers([s.kind]); }
  }

  /* ---- writing ---- */
  function collect(s) {
    clearFieldErrors();
    formError('');
    var bad = fromInputs(s);
    var props = {};
    ATTR_FIELDS.forEach(function (name) {
      var i = document.getElementById(inputId(name));
      if (s.mode === 'edit' && (!i || i.value === i.getAttribute('data-initial'))) {
        props[name] = s.props[name] === undefined ? null : s.props[name];
        return;
      }
      var v = i ? i.value.trim() : '';
      props[name] = v === '' ? null : v;
    });
    kindOf(s).params.forEach(function (name) { props[name] = s.params[name]; });
    return { props: props, bad: bad };
  }
  function sameValue(a, b) {
    if (Array.isArray(a) || Array.isArray(b)) { return JSON.stringify(a || []) === JSON.stringify(b || []); }
    if ((a === null || a === undefined || a === '') && (b === null || b === undefined || b === '')) { return true; }
    if (typeof a === 'number' || typeof b === 'number') { return Number(a) === Number(b); }
    return String(a) === String(b);
  }

  function busy(s, on) {
    if (!form) { return; }
    Array.prototype.forEach.call(form.querySelectorAll('button'), function (b) { b.disabled = on; });
    if (on) { setState('saving'); } else { setState(s.mode === 'create' ? 'creating' : 'editing'); }
  }

  function fail(s, e) {
    if (session !== s) { return; }
    busy(s, false);
    if (e.status === 409 && s.mode === 'edit') {
      // someone saved first: drop this edit, show the stored model
      endSession();
      startEdit(s.id, S.err_conflict);
      return;
    }
    var text = errorText(e);
    if (e.status === 400) {
      var fe = fieldErrors(e.data || {});
      var other = [];
      Object.keys(fe).forEach(function (name) {
        if (!markField(name, fe[name])) { other.push((S[name] || name) + ': ' + fe[name]); }
      });
      if (other.length) { text += ' ' + other.join('; '); }
    }
    formError(text);
  }

  function doSave(s) {
    if (session !== s || !s.marker) { return; }
    var c = collect(s);
    var badNames = Object.keys(c.bad);
    if (badNames.length) {
      badNames.forEach(function (n) { markField(n, c.bad[n]); });
      formError(S.err_invalid);
      return;
    }
    busy(s, true);
    s.locating.then(function () {
      if (session !== s || !s.unit) { return; }
      var geometry = { type: 'Point', coordinates: [round7(s.latlng.lng), round7(s.latlng.lat)] };
      var req;
      if (s.mode === 'create') {
        var props = { kind: s.kind, unit_code: s.unit.code };
        Object.keys(c.props).forEach(function (k) { if (c.props[k] !== null) { props[k] = c.props[k]; } });
        req = send('POST', ecfg.urls.models, { type: 'Feature', geometry: geometry, properties: props });
      } else {
        var changes = {};
        Object.keys(c.props).forEach(function (k) { if (!sameValue(c.props[k], s.props[k])) { changes[k] = c.props[k]; } });
        if (round7(s.latlng.lat) !== round7(s.orig.lat) || round7(s.latlng.lng) !== round7(s.orig.lng)) { changes.geometry = geometry; }
        if (s.unit.code !== s.orig.unit) { changes.unit_code = s.unit.code; }
        if (!Object.keys(changes).length) { endSession(); G.reloadLayers([s.kind]); return; }
        req = send('PATCH', url(ecfg.urls.model, s.id), { version: s.version, changes: changes });
      }
      return req.then(function (f) { done(s, f, S.saved); });
    }).catch(function (e) { fail(s, e); });
  }

  function doRetire(s) {
    busy(s, true);
    send('POST', url(ecfg.urls.retire, s.id), { version: s.version })
      .then(function (f) { done(s, f, S.retired); })
      .catch(function (e) { fail(s, e); });
  }

  // after a write: the kind's models, footprints, coverage and gaps, and the panel's figures
  function done(s, f, text) {
    if (session === s) { endSession(); }
    var kinds = [s.kind];
    if (f.properties && f.properties.kind && f.properties.kind !== s.kind) { kinds.push(f.properties.kind); }
    showMessage(text, false);
    document.body.setAttribute('data-edit-saved', f.id + '@' + (f.properties ? f.properties.version : ''));
    Promise.all([G.reloadLayers(kinds.concat(['footprints', 'coverage', 'gaps'])), G.refreshFigures()])
      .catch(function (e) { if (window.console) { console.error(e); } })
      .then(function () { refreshCount += 1; document.body.setAttribute('data-edit-refreshed', String(refreshCount)); });
  }

  /* ---- entry points: map clicks, model clicks, the popup's "Edit" button ---- */
  map.on('click', function (e) {
    if (!editMode) { return; }
    if (session && !session.marker) { return; }  // still finding the unit of the last click
    if (session && session.mode === 'create') {
      session.latlng = e.latlng;
      session.marker.setLatLng(e.latlng);
      redraw(session);
      relocate(session);
      return;
    }
    if (session) { showMessage(S.finish_first, true); return; }
    startCreate(e.latlng);
  });
  function editable(d, f) { return !!(KINDS[d.id] && f.geometry && f.geometry.type === 'Point'); }
  G.onModelClick = function (d, f) {
    if (!editMode || !editable(d, f)) { return false; }
    if (session) { showMessage(S.finish_first, true); return true; }
    startEdit(f.id);
    return true;
  };
  G.modelPopupExtra = function (popupBox, d, f) {
    if (!editable(d, f)) { return; }
    var b = el('button', 'edit-popup-button', S.edit_button);
    b.type = 'button';
    b.setAttribute('data-edit-id', String(f.id));
    b.addEventListener('click', function () {
      map.closePopup();
      if (!editMode) { setMode(true); }
      if (session) { showMessage(S.finish_first, true); return; }
      startEdit(f.id);
    });
    popupBox.appendChild(b);
  };
  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape' && session && session.marker) { cancelSession(); showMessage(''); }
  });
  G.edit = { setMode: setMode, startEdit: startEdit, session: function () { return session; } };
  setState('off');
}());
