
(function () {
  "use strict";
  var table = document.getElementById("articles");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var query = document.getElementById("q");
  var status = document.getElementById("status");
  var shown = document.getElementById("shown");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var cols = {};
  var sortKey = "";
  var sortDir = "";
  heads.forEach(function (th, i) {
    var key = th.getAttribute("data-key");
    if (key) { cols[key] = {index: i, num: th.getAttribute("data-type") === "num", th: th}; }
  });
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });

  function order(row) { return parseInt(row.getAttribute("data-order"), 10) || 0; }

  function value(row, col) {
    var cell = row.cells[col.index];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent; }
    raw = raw.trim();
    if (raw === "") { return null; }
    if (col.num) {
      var n = parseFloat(raw);
      return isNaN(n) ? null : n;
    }
    return raw.toLowerCase();
  }

  function compare(col, sign) {
    return function (a, b) {
      var va = value(a, col);
      var vb = value(b, col);
      var d = 0;
      if (va === null || vb === null) {
        d = (va === null ? 1 : 0) - (vb === null ? 1 : 0);
      } else if (col.num) {
        d = sign * (va - vb);
      } else {
        d = sign * va.localeCompare(vb, undefined, {numeric: true, sensitivity: "base"});
      }
      return d || order(a) - order(b);
    };
  }

  function sortRows(key, dir) {
    var col = Object.prototype.hasOwnProperty.call(cols, key) ? cols[key] : null;
    sortKey = col ? key : "";
    sortDir = col ? (dir === "desc" ? "desc" : "asc") : "";
    var sorted = rows.slice();
    if (col) {
      sorted.sort(compare(col, sortDir === "desc" ? -1 : 1));
    } else {
      sorted.sort(function (a, b) { return order(a) - order(b); });
    }
    sorted.forEach(function (row) { body.appendChild(row); });
    Object.keys(cols).forEach(function (k) {
      var state = k === sortKey ? (sortDir === "desc" ? "descending" : "ascending") : "none";
      cols[k].th.setAttribute("aria-sort", state);
    });
  }

  function filterRows() {
    var needle = query.value.trim().toLowerCase();
    var want = status.value;
    var n = 0;
    rows.forEach(function (row, i) {
      var ok = (!want || row.getAttribute("data-status") === want) &&
        (!needle || texts[i].indexOf(needle) !== -1);
      row.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length;
  }

  function writeHash() {
    var p = new URLSearchParams();
    if (sortKey) { p.set("sort", sortKey + "-" + sortDir); }
    if (query.value) { p.set("q", query.value); }
    if (status.value) { p.set("status", status.value); }
    var h = p.toString();
    try {
      history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
    } catch (e) { /* some browsers refuse on file:// URLs; the view still works */ }
  }

  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    query.value = p.get("q") || "";
    var want = p.get("status") || "";
    var known = Array.prototype.some.call(status.options, function (o) {
      return o.value === want;
    });
    status.value = known ? want : "";
    var m = /^([a-z]+)-(asc|desc)$/.exec(p.get("sort") || "");
    sortRows(m ? m[1] : "", m ? m[2] : "");
    filterRows();
  }

  Object.keys(cols).forEach(function (key) {
    var button = cols[key].th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var dir = cols[key].num ? "desc" : "asc";
      if (key === sortKey) { dir = sortDir === "asc" ? "desc" : "asc"; }
      sortRows(key, dir);
      writeHash();
    });
  });
  query.addEventListener("input", function () { filterRows(); writeHash(); });
  status.addEventListener("change", function () { filterRows(); writeHash(); });
  window.addEventListener("hashchange", readHash);
  readHash();
})();
