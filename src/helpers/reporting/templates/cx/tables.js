/* cx interactive tables: sort, filter and search the tables of an analysis report, offline.
   Shipped inline in the page and allowed by its hash in the page's Content-Security-Policy
   (reporting/render.py); it reads only the table cells already in the page and changes only
   their order and visibility, so no data reaches a script. Leadership pages do not ship it. */
(function () {
  "use strict";
  function number(text) {
    var t = text.replace(/\u2212/g, "-").replace(/,/g, "");
    if (/^\s*<\s*0?\.\d/.test(t)) { return 0; }
    var m = t.match(/[-+]?\d*\.?\d+(e[-+]?\d+)?/i);
    return m ? parseFloat(m[0]) : NaN;
  }
  function enhance(table) {
    var body = table.tBodies[0];
    var head = table.tHead && table.tHead.rows[0];
    if (!body || !head) { return; }
    var rows = Array.prototype.slice.call(body.rows);
    var cells = Array.prototype.slice.call(head.cells);
    var tools = document.createElement("div");
    tools.className = "cx-tools";
    var search = document.createElement("input");
    search.type = "search";
    search.placeholder = "Search this table";
    search.setAttribute("aria-label", "Search this table");
    var count = document.createElement("span");
    count.className = "cx-count";
    count.setAttribute("aria-live", "polite");
    tools.appendChild(search);
    tools.appendChild(count);
    var wrap = table.parentNode;
    wrap.parentNode.insertBefore(tools, wrap);
    var filterRow = table.tHead.insertRow(-1);
    filterRow.className = "cx-filter-row";
    var filters = cells.map(function (th) {
      var cell = document.createElement("th");
      var input = document.createElement("input");
      input.type = "search";
      input.placeholder = "filter";
      input.setAttribute("aria-label", "Filter " + th.textContent);
      cell.appendChild(input);
      filterRow.appendChild(cell);
      input.addEventListener("input", apply);
      return input;
    });
    function apply() {
      var q = search.value.toLowerCase();
      var shown = 0;
      rows.forEach(function (r) {
        var ok = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
        for (var i = 0; ok && i < filters.length; i++) {
          var f = filters[i].value.toLowerCase();
          if (f && r.cells[i] && r.cells[i].textContent.toLowerCase().indexOf(f) < 0) { ok = false; }
        }
        r.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " rows";
    }
    function sortBy(i, button) {
      var th = cells[i];
      var descending = th.getAttribute("aria-sort") === "ascending";
      var texts = rows.map(function (r) { return r.cells[i] ? r.cells[i].textContent : ""; });
      var numeric = texts.every(function (t) { return !/\d/.test(t) || !isNaN(number(t)); }) &&
        texts.some(function (t) { return !isNaN(number(t)); });
      var order = rows.map(function (r, k) { return k; });
      order.sort(function (a, b) {
        var x = texts[a], y = texts[b], c;
        if (numeric) {
          var nx = number(x), ny = number(y);
          if (isNaN(nx) || isNaN(ny)) { c = isNaN(nx) - isNaN(ny); return c || a - b; }
          c = nx - ny;
        } else {
          c = x.localeCompare(y);
        }
        return (descending ? -c : c) || a - b;
      });
      rows = order.map(function (k) { return rows[k]; });
      rows.forEach(function (r) { body.appendChild(r); });
      cells.forEach(function (other) { other.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      button.focus();
    }
    cells.forEach(function (th, i) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "cx-sort";
      button.textContent = th.textContent;
      button.title = "Sort by " + th.textContent;
      th.textContent = "";
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () { sortBy(i, button); });
    });
    search.addEventListener("input", apply);
    apply();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.cx-interactive"), enhance);
})();
