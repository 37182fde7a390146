/* geo-antt: the one way to write a number on every page (geoAntt.fmt), the rules of the
 * server's geo_antt/numbers.py (Babel), with Intl.NumberFormat:
 * number(v, digits): grouped, at most `digits` decimals (trailing zeros dropped); a non-zero
 *   value below 1 keeps two significant digits (0.004 -> "0,004", never "0");
 * percent(v, digits): v in percent; exactly 0 is "0 %", a non-zero share below one unit of the
 *   last digit "< 0,01 %", a share short of 100 that would round to it "> 99,99 %".
 * Vietnamese writes 1.234,5 (vi-VN), English 1,234.5 (en-GB). Loaded after dom.js. */
(function () {
  'use strict';
  var LOCALES = { vi: 'vi-VN', en: 'en-GB' };
  var MISSING = '—';
  var MAX_DIGITS = 12;
  var cache = {};
  function lang() { return document.documentElement.lang === 'en' ? 'en' : 'vi'; }
  function formatter(l, d) {
    var key = l + d;
    if (!cache[key]) {
      cache[key] = new Intl.NumberFormat(LOCALES[l], { minimumFractionDigits: 0, maximumFractionDigits: d, roundingMode: 'halfExpand' });
    }
    return cache[key];
  }
  function fractionDigits(v, digits) {
    var a = Math.abs(v);
    if (a === 0 || a >= 1 || !isFinite(a)) { return digits; }
    return Math.max(digits, Math.min(MAX_DIGITS, 1 - Math.floor(Math.log10(a))));
  }
  function write(v, d, l) {
    var s = formatter(l, d).format(v);
    return (/^-0([.,]0*)?$/.test(s)) ? formatter(l, d).format(0) : s;
  }
  function isMissing(v) { return v === null || v === undefined || (typeof v === 'number' && isNaN(v)); }
  function number(v, digits, l) {
    if (isMissing(v)) { return MISSING; }
    if (typeof v !== 'number') { return String(v); }
    var d = digits === undefined ? 2 : digits;
    l = l || lang();
    return write(v, fractionDigits(v, d), l);
  }
  function percent(v, digits, l) {
    if (isMissing(v)) { return MISSING; }
    if (typeof v !== 'number') { return String(v); }
    var d = digits === undefined ? 2 : digits;
    l = l || lang();
    var step = Math.pow(10, -d);
    if (v !== 0 && Math.abs(v) < step) { return (v > 0 ? '< ' : '> -') + write(step, d, l) + ' %'; }
    if (v >= 100 - step / 2 && v < 100) { return '> ' + write(100 - step, d, l) + ' %'; }
    return write(v, d, l) + ' %';
  }
  window.geoAntt = window.geoAntt || {};
  window.geoAntt.fmt = { number: number, percent: percent, fractionDigits: fractionDigits, MISSING: MISSING };
}());
