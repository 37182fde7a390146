/* geo-antt import page: preview an uploaded spreadsheet (POST /api/registry/import), then write
 * it to the registry with the preview's fingerprint (all or nothing). Both run on the server as
 * a background job (202 + Location: /api/registry/jobs/<id>) that this page polls, showing its
 * phase and rows. All user and file text is set with textContent; nothing from the server or
 * the file is parsed as HTML. */
(function () {
  'use strict';
  var cfgNode = document.getElementById('geo-antt-import-config');
  if (!cfgNode) { return; }
  var cfg = JSON.parse(cfgNode.textContent);
  var S = cfg.strings;
  var F = cfg.fields || {};
  var form = document.getElementById('import-form');
  var unitSel = document.getElementById('import-unit');
  var fileInput = document.getElementById('import-file');
  var previewBtn = document.getElementById('import-preview');
  var commitBtn = document.getElementById('import-commit');
  var statusEl = document.getElementById('import-status');
  var resultEl = document.getElementById('import-result');
  var current = null; // {file, unit, fingerprint}
  var NF = window.geoAntt.fmt;  // format.js (geo_antt/numbers.py)

  var el = window.geoAnttDom.el;
  var clear = window.geoAnttDom.clear;
  var request = window.geoAnttDom.request;
  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k] !== undefined ? String(values[k]) : ''; });
  }
  function showStatus(text, kind) {
    statusEl.hidden = !text;
    statusEl.className = 'notice' + (kind ? ' ' + kind : '');
    statusEl.textContent = text || '';
  }
  function valueText(v) {
    if (v === null || v === undefined || v === '') { return '—'; }
    if (typeof v === 'boolean') { return v ? '✓' : '✗'; }
    if (typeof v === 'number') { return NF.number(v, 6); }
    if (Array.isArray(v)) { return v.length ? v.map(valueText).join(', ') : '—'; }
    if (typeof v === 'object') {
      if (v.type === 'Point' && Array.isArray(v.coordinates)) {
        return NF.number(v.coordinates[1], 6) + ', ' + NF.number(v.coordinates[0], 6);
      }
      return JSON.stringify(v);
    }
    return String(v);
  }
  function fieldLabel(name) { return name ? (F[name] || name) : '—'; }
  // a problem's reason in the page's language: the server writes it in both (reason: English,
  // reason_vi: from the translation catalog geo_antt/locale/vi/LC_MESSAGES/messages.po)
  function reasonText(p) {
    if (!p) { return ''; }
    return String((cfg.lang === 'vi' && p.reason_vi) || p.reason || '');
  }
  function reasonCell(p) { return { text: reasonText(p), cls: 'reason', title: String((p && p.reason) || '') }; }
  function kindText(k) { return (cfg.kinds && cfg.kinds[k]) || k || '—'; }
  function table(id, headers, rows, rowClass) {
    var t = el('table', 'data');
    t.id = id;
    var thead = el('thead');
    var hr = el('tr');
    headers.forEach(function (h) { hr.appendChild(el('th', null, h)); });
    thead.appendChild(hr);
    t.appendChild(thead);
    var tb = el('tbody');
    rows.slice(0, cfg.maxRows).forEach(function (cells) {
      var tr = el('tr', rowClass || null);
      cells.forEach(function (c) {
        var td = el('td', c && c.cls ? c.cls : null, c && typeof c === 'object' && 'text' in c ? c.text : c);
        if (c && c.title && c.title !== td.textContent) { td.title = c.title; }
        tr.appendChild(td);
      });
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    var box = el('div');
    box.appendChild(t);
    if (rows.length > cfg.maxRows) { box.appendChild(el('p', 'detail', fmt(S.more, { n: rows.length - cfg.maxRows }))); }
    return box;
  }
  function section(title, node) {
    var s = el('section');
    s.appendChild(el('h2', null, title));
    s.appendChild(node);
    resultEl.appendChild(s);
  }
  function byRow(a, b) {
    var ra = a.row === null || a.row === undefined ? Infinity : a.row;
    var rb = b.row === null || b.row === undefined ? Infinity : b.row;
    return ra - rb;
  }

  function renderPreview(p) {
    clear(resultEl);
    var c = p.counts || {};
    var outside = p.outside || [];
    var counts = el('ul', 'counts');
    counts.id = 'import-counts';
    [['new', S.n_new, c['new']], ['update', S.n_update, c.update], ['unchanged', S.n_unchanged, c.unchanged],
     ['rejected', S.n_rejected, c.rejected], ['outside', S.n_outside, outside.length]].forEach(function (x) {
      var li = el('li', 'c-' + x[0]);
      li.setAttribute('data-count', x[0]);
      li.appendChild(el('span', 'n', x[2] || 0));
      li.appendChild(el('span', 'label', x[1]));
      counts.appendChild(li);
    });
    section(S.counts + (p.source ? ' — ' + p.source : ''), counts);

    var rejected = (p.rejected || []).slice().sort(byRow);
    if (rejected.length) {
      section(S.rejected, table('import-rejected', [S.row, S.id, S.field, S.value, S.reason], rejected.map(function (r) {
        return [{ text: r.row === null || r.row === undefined ? '—' : r.row, cls: 'num row' }, r.id || '—',
                fieldLabel(r.field), valueText(r.value), reasonCell(r)];
      }), 'rej'));
    }
    if (outside.length) {
      section(S.outside, table('import-outside', [S.row, S.id, S.lat, S.lon, S.unit_code], outside.slice().sort(byRow).map(function (o) {
        return [{ text: o.row === null || o.row === undefined ? '—' : o.row, cls: 'num' }, o.id || '—',
                { text: valueText(o.lat), cls: 'num' }, { text: valueText(o.lon), cls: 'num' }, o.unit_code || '—'];
      })));
    }
    var upd = p.updates || {};
    var updRows = [];
    Object.keys(upd).forEach(function (id) {
      Object.keys(upd[id]).forEach(function (col) {
        var pair = upd[id][col];
        updRows.push([id, fieldLabel(col), valueText(pair[0]) + ' → ' + valueText(pair[1])]);
      });
    });
    if (updRows.length) { section(S.updates, table('import-updates', [S.id, S.field, S.old_new], updRows)); }
    var news = p['new'] || [];
    if (news.length) {
      section(S['new'], table('import-new', [S.id, S.kind, S.name, S.unit_code], news.map(function (r) {
        return [r.id, kindText(r.kind), r.name || '—', r.unit_code || '—'];
      })));
    }
    var warns = p.warnings || [];
    if (warns.length) {
      var ul = el('ul', 'warnings');
      warns.forEach(function (w) {
        ul.appendChild(el('li', null, (w.row ? S.row + ' ' + w.row + ': ' : '') + (w.field ? fieldLabel(w.field) + ': ' : '') + reasonText(w)));
      });
      section(S.warnings, ul);
    }

    var changes = (c['new'] || 0) + (c.update || 0);
    var ok = !c.rejected && changes > 0 && !!p.fingerprint;
    commitBtn.disabled = !ok;
    if (c.rejected) { showStatus(S.fix_first, 'error'); }
    else if (!changes) { showStatus(S.nothing, 'ok'); }
    else { showStatus(S.ready, null); }
    document.body.setAttribute('data-import-state', c.rejected ? 'rejected' : (changes ? 'ready' : 'nothing'));
  }

  function send(commit) {
    var file = commit ? current.file : fileInput.files[0];
    var unit = commit ? current.unit : unitSel.value;
    var fd = new FormData();
    fd.append('file', file, file.name);
    fd.append('unit', unit);
    if (commit) {
      fd.append('commit', '1');
      fd.append('fingerprint', current.fingerprint);
    }
    return request('POST', cfg.urls['import'], { form: fd, raw: true }).then(function (r) {
      var body = r.data || { message: 'HTTP ' + r.status };
      if (r.status !== 202) { return { status: r.status, ok: r.ok, body: body }; }
      return follow(r.headers.get('Location') || (cfg.urls.jobs + body.id));
    });
  }
  // Poll a job until it ends; its result (done) or its error (failed) as {status, ok, body}.
  function follow(url) {
    return new Promise(function (resolve, reject) {
      var delay = 250;
      function poll() {
        request('GET', url, { raw: true }).then(function (r) {
          var job = r.data;
          if (!r.ok || !job) {
            resolve({ status: r.status, ok: false, body: job || { message: 'HTTP ' + r.status } });
            return;
          }
          if (job.state === 'done') { resolve({ status: 200, ok: true, body: job.result }); return; }
          if (job.state === 'failed') {
            var err = job.error || {};
            resolve({ status: err.status || 500, ok: false, body: err });
            return;
          }
          showProgress(job.progress || {});
          delay = Math.min(delay * 1.5, 2000);
          window.setTimeout(poll, delay);
        }).catch(reject);
      }
      poll();
    });
  }
  function showProgress(p) {
    var text = (p.text && p.text[cfg.lang === 'en' ? 'en' : 'vi']) || S.working;
    if (typeof p.rows === 'number' && typeof p.total === 'number' && p.total > 0) {
      text += ' — ' + fmt(S.progress_rows, { rows: NF.number(p.rows, 0), total: NF.number(p.total, 0) });
    }
    showStatus(text + '…', null);
    document.body.setAttribute('data-import-phase', p.phase || '');
  }
  function busy(on) {
    previewBtn.disabled = on;
    if (on) { commitBtn.disabled = true; showStatus(S.working, null); }
  }
  function showError(res) {
    var b = res.body || {};
    var msg = res.status === 409 ? S.conflict : ((cfg.lang === 'vi' && b.message_vi) || b.message || (S.error + ' ' + res.status));
    showStatus(msg, 'error');
    document.body.setAttribute('data-import-state', 'error');
    if (Array.isArray(b.problems) && b.problems.length) {
      clear(resultEl);
      section(S.rejected, table('import-rejected', [S.row, S.field, S.value, S.reason], b.problems.slice().sort(byRow).map(function (r) {
        return [{ text: r.row === null || r.row === undefined ? '—' : r.row, cls: 'num row' }, fieldLabel(r.field), valueText(r.value), reasonCell(r)];
      }), 'rej'));
    }
  }
  function reset() {
    current = null;
    commitBtn.disabled = true;
    clear(resultEl);
    showStatus('', null);
    document.body.removeAttribute('data-import-state');
  }

  fileInput.addEventListener('change', reset);
  unitSel.addEventListener('change', reset);
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (!fileInput.files || !fileInput.files.length) { showStatus(S.choose_file, 'warn'); return; }
    var file = fileInput.files[0];
    var unit = unitSel.value;
    reset();
    busy(true);
    send(false).then(function (res) {
      busy(false);
      if (!res.ok) { showError(res); return; }
      current = { file: file, unit: unit, fingerprint: res.body.fingerprint };
      renderPreview(res.body);
    }).catch(function (e) { busy(false); showStatus(S.error + ': ' + e, 'error'); });
  });
  commitBtn.addEventListener('click', function () {
    if (!current) { return; }
    busy(true);
    send(true).then(function (res) {
      busy(false);
      commitBtn.disabled = true;
      if (!res.ok) { showError(res); return; }
      var c = res.body.counts || {};
      var nothing = !(c['new'] || c.update);
      showStatus(nothing ? S.committed_nothing : fmt(S.committed, { 'new': c['new'] || 0, update: c.update || 0, unchanged: c.unchanged || 0 }), 'ok');
      var p = el('p');
      var a = el('a', null, S.see_audit);
      a.href = cfg.urls.audit;
      a.id = 'import-audit-link';
      p.appendChild(a);
      resultEl.insertBefore(p, resultEl.firstChild);
      current = null;
      document.body.setAttribute('data-import-state', 'committed');
    }).catch(function (e) { busy(false); showStatus(S.error + ': ' + e, 'error'); });
  });
}());
