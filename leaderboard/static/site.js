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

    // the suite's reported-only block (a paper's numbers) follows the same filters
    var also = document.getElementById(form.getAttribute("data-also") || "");

    function keep(row) {
      return selects.every(function (select) {
        return select.value === "" || row.dataset[select.getAttribute("data-attr")] === select.value;
      });
    }

    function apply() {
      var rows = table.tBodies[0].rows;
      var visible = 0;
      Array.prototype.forEach.call(rows, function (row) {
        row.hidden = !keep(row);
        if (!row.hidden) { visible += 1; }
      });
      if (also) {
        Array.prototype.forEach.call(also.tBodies[0].rows, function (row) {
          // "verified" / "self-reported" are ranked entries' states: a paper's table is neither
          row.hidden = !keep(row);
        });
      }
      if (shown) { shown.textContent = "showing " + visible + " of " + rows.length; }
    }

    selects.forEach(function (select) { select.addEventListener("change", apply); });
    form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.hidden = false;
    apply();
  }

  // The stability-plasticity scatter: hovering or focusing a point names its entry below the
  // chart and highlights its row in the suite's table.
  function setupScatter(svg) {
    var output = document.querySelector("output.hovered[data-for='" + svg.id + "']");
    var section = svg.closest("section");
    Array.prototype.forEach.call(svg.querySelectorAll("g.point"), function (point) {
      var title = point.querySelector("title");
      var name = point.getAttribute("data-name");
      function rows() {
        return section ? Array.prototype.filter.call(
          section.querySelectorAll("table.board tbody tr"),
          function (row) { return row.dataset.name === name; }
        ) : [];
      }
      function show() {
        point.classList.add("active");
        if (output && title) { output.textContent = title.textContent; }
        rows().forEach(function (row) { row.classList.add("highlight"); });
      }
      function hide() {
        point.classList.remove("active");
        rows().forEach(function (row) { row.classList.remove("highlight"); });
      }
      point.addEventListener("mouseenter", show);
      point.addEventListener("focus", show);
      point.addEventListener("mouseleave", hide);
      point.addEventListener("blur", hide);
    });
  }

  // Compare two entries: the link follows the two selects, to the pre-built page of the pair
  // (listed below the form, so the page works without this script too).
  function setupCompare(form) {
    var list = form.parentNode.querySelector("ul.compare-links[data-section='" +
      form.getAttribute("data-section") + "']");
    var first = form.querySelector("select[data-role='a']");
    var second = form.querySelector("select[data-role='b']");
    var go = form.querySelector("a.go");
    if (!list || !first || !second || !go) { return; }
    function update() {
      var a = first.value;
      var b = second.value;
      var found = null;
      Array.prototype.forEach.call(list.querySelectorAll("a"), function (link) {
        var x = link.getAttribute("data-a");
        var y = link.getAttribute("data-b");
        if ((x === a && y === b) || (x === b && y === a)) { found = link; }
      });
      if (found) {
        go.setAttribute("href", found.getAttribute("href"));
        go.removeAttribute("aria-disabled");
        go.textContent = "Compare";
      } else {
        go.removeAttribute("href");
        go.setAttribute("aria-disabled", "true");
        go.textContent = "Pick two different entries";
      }
    }
    first.addEventListener("change", update);
    second.addEventListener("change", update);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.hidden = false;
    update();
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.board"), setupSorting);
    Array.prototype.forEach.call(document.querySelectorAll("form.filters"), setupFilters);
    Array.prototype.forEach.call(document.querySelectorAll("svg.scatter"), setupScatter);
    Array.prototype.forEach.call(document.querySelectorAll("form.compare"), setupCompare);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
