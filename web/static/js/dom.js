/* geo-antt: the DOM helpers every page script shares (loaded first). Text is only ever set with
 * textContent: nothing from the server, a file or a user is parsed as HTML. */
(function () {
  'use strict';
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  /* the page's CSRF token (meta tag), or null when the page has none */
  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : null;
  }
  /* an error answer's message in the page's language (the server sends message and message_vi) */
  function serverMessage(data) {
    return (document.documentElement.lang !== 'en' && data && data.message_vi) || (data && data.message) || '';
  }
  /* The one way the page scripts talk to the app: fetch with the session cookie, the CSRF token
   * on every write, JSON in (opts.json) or a form (opts.form), JSON out.
   * Resolves with the JSON body of a 2xx answer; rejects with an Error whose message is the
   * server's (serverMessage), status the HTTP status (0: the network failed) and data the body.
   * With opts.raw it never rejects on an HTTP status: it resolves {status, ok, headers, data}. */
  function request(method, url, opts) {
    opts = opts || {};
    var headers = { Accept: opts.accept || 'application/json' };
    var body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.form) {
      body = opts.form;
    }
    var token = csrfToken();
    if (token && method !== 'GET' && method !== 'HEAD') { headers['X-CSRFToken'] = token; }
    return fetch(url, { method: method, headers: headers, body: body, credentials: 'same-origin',
                        cache: opts.cache || 'no-store', signal: opts.signal })
      .catch(function (err) {
        if (err && err.name === 'AbortError') { throw err; }
        var e = new Error('network'); e.status = 0; e.data = {}; throw e;
      })
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (data) {
          if (opts.raw) { return { status: r.status, ok: r.ok, headers: r.headers, data: data }; }
          data = data || {};
          if (!r.ok) {
            var e = new Error(serverMessage(data) || ('HTTP ' + r.status));
            e.status = r.status; e.data = data;
            throw e;
          }
          return data;
        });
      });
  }
  window.geoAnttDom = { el: el, clear: clear, csrfToken: csrfToken, request: request, serverMessage: serverMessage };
}());
