/* mllmcl-bench leaderboard: sort and filter the suite tables. No dependencies, no network.
   Reads only data-* attributes and never writes HTML (textContent only): the tables are
   complete without this script. */
(function () {
  "use strict";

  function cellData(row, index) {
    var cell = row.cells[index];
    return cell ? cell.getAttribute("data-value") || "" : "";
  }

  function compare(kind, a, b) {
    if (kind === "num") {
      return parseFloat(a) - parseFloat(b);
    }
    return a.localeCompare(b, undefined, { sensitivity: "base", numeric: true });
  }

  function sortBy(table, th, direction) {
    var index = th.cellIndex;
    var kind = th.getAttribute("data-sort");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, position) { row.setAttribute("data-position", position); });
    rows.sort(function (x, y) {
      var a = cellData(x, index);
      var b = cellData(y, index);
      if (a === "" || b === "") {  // no value: always last, whatever the direction
        if (a === b) { return x.getAttribute("data-position") - y.getAttribute("data-position"); }
        return a === "" ? 1 : -1;
      }
      var order = compare(kind, a, b) * (direction === "ascending" ? 1 : -1);
      return order || x.getAttribute("data-position") - y.getAttribute("data-position");
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
      if (other !== th) { other.removeAttribute("aria-sort"); }
    });
    th.setAttribute("aria-sort", direction);
  }

  function setupSorting(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th) {
      if (!th.hasAttribute("data-sort")) { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      button.addEventListener("click", function () {
        var current = th.getAttribute("aria-sort");
        var first = th.getAttribute("data-default") === "desc" ? "descending" : "ascending";
        var next = current ? (current === "ascending" ? "descending" : "ascending") : first;
        sortBy(table, th, next);
      });
    });
  }

  function setupFilters(form) {
    var table = document.getElementById(form.getAttribute("data-table"));
    if (!table) { return; }
    var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-attr]"));
    var shown = form.querySelector(".shown");

    function apply() {
      var rows = table.tBodies[0].rows;
      var visible = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var keep = selects.every(function (select) {
          return select.value === "" || row.dataset[select.getAttribute("data-attr")] === select.value;
        });
        row.hidden = !keep;
        if (keep) { visible += 1; }
      });
      if (shown) { shown.textContent = "showing " + visible + " of " + rows.length; }
    }

    selects.forEach(function (select) { select.addEventListener("change", apply); });
    form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.hidden = false;
    apply();
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.board"), setupSorting);
    Array.prototype.forEach.call(document.querySelectorAll("form.filters"), setupFilters);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
