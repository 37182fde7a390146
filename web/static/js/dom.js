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
  window.geoAnttDom = { el: el, clear: clear, csrfToken: csrfToken };
}());
