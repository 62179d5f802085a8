/* mllmcl-bench leaderboard: sort and filter the suite tables, and draw the compare page.
   No dependencies, no network. Reads only data-* attributes and <template>s the build wrote,
   and never writes HTML (textContent only): every page but the compare page is complete
   without this script. */
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

  // Compare two entries (the index's picker): the link follows the two selects, to the
  // section's compare page with both names in its query.
  function compareHref(page, a, b) {
    return page + "?a=" + encodeURIComponent(a) + "&b=" + encodeURIComponent(b);
  }

  function setupComparePicker(form) {
    var first = form.querySelector("select[data-role='a']");
    var second = form.querySelector("select[data-role='b']");
    var go = form.querySelector("a.go");
    if (!first || !second || !go) { return; }
    function update() {
      if (first.value !== second.value) {
        go.setAttribute("href", compareHref(form.getAttribute("data-href"), first.value, second.value));
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

  // The compare page (one per section): draws the pair named by ?a=…&b=… from the data the
  // build put in the page: each entry's pre-rendered summary cells and heatmap (<template>),
  // and its matrix with every cell formatted, plus line-chart frames laid out in Python.
  // SVG's namespace, read from a heatmap of the page (the script names no URL at all)
  var svgNamespace = null;

  function make(tag, attributes, text, namespace) {
    var node = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, String(attributes[name]));
    });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function svg(tag, attributes, text) { return make(tag, attributes, text, svgNamespace); }

  function empty(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  // fmt_number(value, signed=True) of benchmark/site/format.py, for b − a (the only numbers not
  // formatted by the build): one decimal; like Python, an exact tie (x.25, x.75) rounds to even.
  function signedNumber(value, data) {
    if (value === null || !isFinite(value)) { return data.dash; }
    var magnitude = Math.abs(value);
    var text = magnitude.toFixed(1);
    var quarters = magnitude * 4;
    if (Number.isInteger(quarters) && quarters % 2 === 1) {
      var tenths = Math.floor(magnitude * 10);
      text = ((tenths % 2 === 0 ? tenths : tenths + 1) / 10).toFixed(1);
    }
    if (parseFloat(text) === 0) { return text; }
    return (value < 0 ? data.minus : "+") + text;
  }

  function differenceTable(a, b, nameA, nameB, data) {
    var columns = a.columns.filter(function (task) { return b.columns.indexOf(task) >= 0; });
    var table = make("table", { "class": "plain diff-table" });
    table.appendChild(make("caption", {}, nameB + " minus " + nameA +
      ", in points (positive: " + nameB + " is higher)"));
    var head = make("tr");
    head.appendChild(make("th", { scope: "col" }, "step"));
    columns.forEach(function (task) { head.appendChild(make("th", { scope: "col", "class": "num" }, task)); });
    table.appendChild(make("thead")).appendChild(head);
    var body = table.appendChild(make("tbody"));
    a.matrix.forEach(function (rowA, step) {
      var row = body.appendChild(make("tr"));
      row.appendChild(make("th", { scope: "row" }, String(step)));
      columns.forEach(function (task) {
        var x = rowA[a.columns.indexOf(task)];
        var y = b.matrix[step][b.columns.indexOf(task)];
        var value = x === null || y === null ? null : y - x;
        var kind = value === null ? " null" : value > 0 ? " up" : value < 0 ? " down" : "";
        row.appendChild(make("td", {
          "class": "num" + kind,
          "data-step": step,
          "data-task": task,
          "data-value": value === null ? "" : value
        }, signedNumber(value, data)));
      });
    });
    return table;
  }

  // One task's curves of both entries, in the frame line_chart (charts.py) laid out for
  // ``steps``: the same size, ticks, colours and dashes; only the points are placed here.
  function curveChart(frame, steps, lines, title) {
    var chart = svg("svg", {
      "class": "linechart", viewBox: "0 0 " + frame.width + " " + frame.height,
      width: frame.width, height: frame.height, role: "img", "aria-label": title
    });
    chart.appendChild(svg("title", {}, title));
    var grid = chart.appendChild(svg("g", { "class": "grid" }));
    frame.y_ticks.forEach(function (t) {
      grid.appendChild(svg("line", { x1: frame.left, x2: frame.right, y1: t.y, y2: t.y }));
      grid.appendChild(svg("text", { x: t.x, y: t.y, "text-anchor": "end", "dominant-baseline": "central" }, t.text));
    });
    frame.x_ticks.forEach(function (t) {
      grid.appendChild(svg("line", { x1: t.x, x2: t.x, y1: frame.bottom, y2: frame.bottom + 5 }));
      var label = grid.appendChild(svg("text", { x: t.x, y: t.y, "text-anchor": "middle" }));
      label.appendChild(svg("title", {}, t.title));
      label.appendChild(document.createTextNode(t.text));
    });
    grid.appendChild(svg("text", {
      "class": "axis-label", x: (frame.left + frame.right) / 2, y: frame.bottom + 38, "text-anchor": "middle"
    }, frame.x_label));
    grid.appendChild(svg("text", {
      "class": "axis-label", transform: "translate(14 " + (frame.top + frame.bottom) / 2 + ") rotate(-90)",
      "text-anchor": "middle"
    }, frame.y_label));
    function x(step) { return frame.left + (frame.right - frame.left) * step / Math.max(steps, 1); }
    function y(value) { return frame.bottom - (frame.bottom - frame.top) * value / 100; }
    var legend = svg("g", { "class": "legend" });
    lines.forEach(function (line, k) {
      var style = frame.series[k];
      var dash = style.dash ? { "stroke-dasharray": style.dash } : {};
      var group = chart.appendChild(svg("g", { "class": "series", "data-name": line.name }));
      group.appendChild(svg("title", {}, line.name));
      var segments = [[]];
      line.values.forEach(function (value, step) {
        if (value === null) { segments.push([]); return; }
        segments[segments.length - 1].push(x(step).toFixed(1) + " " + y(value).toFixed(1));
      });
      segments.filter(function (s) { return s.length; }).forEach(function (s) {
        group.appendChild(svg("path", Object.assign({
          d: "M " + s.join(" L "), fill: "none", stroke: style.colour, "stroke-width": 2.2
        }, dash)));
      });
      line.values.forEach(function (value, step) {
        if (value === null) { return; }
        group.appendChild(svg("circle", {
          cx: x(step).toFixed(1), cy: y(value).toFixed(1), r: 3.6, fill: style.colour
        })).appendChild(svg("title", {}, line.name + ", step " + step + ": " + line.texts[step]));
      });
      var item = legend.appendChild(svg("g", { "class": "legend-item" }));
      item.appendChild(svg("title", {}, line.name));
      item.appendChild(svg("line", Object.assign({
        x1: frame.legend_x, x2: frame.legend_x + 24, y1: style.legend_y, y2: style.legend_y,
        stroke: style.colour, "stroke-width": 2.6
      }, dash)));
      item.appendChild(svg("text", {
        x: frame.legend_x + 31, y: style.legend_y, "dominant-baseline": "central"
      }, line.legend));
    });
    chart.appendChild(legend);
    return chart;
  }

  function setupComparePage(view) {
    var data = JSON.parse(view.getAttribute("data-compare"));
    var form = document.querySelector("form.compare-pick");
    var message = document.querySelector(".compare-message");
    var first = form.querySelector("select[data-role='a']");
    var second = form.querySelector("select[data-role='b']");
    var crumb = document.querySelector(".compare-crumb");
    var heading = document.querySelector("h1.compare-title");
    var summary = view.querySelector("table.compare-summary");
    var defaults = { a: first.value, b: second.value };
    var pageTitle = document.title;
    svgNamespace = document.querySelector("template.compare-entry").content
      .querySelector("svg").namespaceURI;

    function template(name) {
      var found = null;
      Array.prototype.forEach.call(document.querySelectorAll("template.compare-entry"), function (t) {
        if (t.getAttribute("data-entry") === name) { found = t; }
      });
      return document.importNode(found.content, true);
    }

    function fail(text) {
      view.hidden = true;
      message.textContent = text;
      message.hidden = false;
      heading.textContent = "Compare two entries";
      crumb.textContent = "compare two entries";
      document.title = pageTitle;
    }

    function draw(nameA, nameB) {
      var entries = data.entries;
      var known = Object.prototype.hasOwnProperty;
      var unknown = [nameA, nameB].filter(function (n) { return !known.call(entries, n); });
      if (unknown.length) {
        fail("No entry named \u201c" + unknown[0] + "\u201d in this suite: pick two entries above.");
        return;
      }
      if (nameA === nameB) {
        fail("A and B are the same entry (" + nameA + "): pick two different entries.");
        return;
      }
      first.value = nameA;
      second.value = nameB;
      var a = entries[nameA];
      var b = entries[nameB];
      message.hidden = true;
      empty(heading);
      heading.appendChild(document.createTextNode(a.method + " "));
      heading.appendChild(make("span", { "class": "sub" }, "vs"));
      heading.appendChild(document.createTextNode(" " + b.method));
      crumb.textContent = "compare " + nameA + " and " + nameB;
      document.title = a.method + " vs " + b.method + " \u00b7 " + view.getAttribute("data-suite") +
        " \u00b7 mllmcl-bench leaderboard";

      var parts = [template(nameA), template(nameB)];
      var rows = Array.prototype.slice.call(summary.rows);
      rows.forEach(function (row) {
        while (row.cells.length > 1) { row.deleteCell(1); }
      });
      parts.forEach(function (part) {
        var cells = Array.prototype.slice.call(part.querySelector("tr.summary-cells").cells);
        rows.forEach(function (row, index) { row.appendChild(cells[index]); });
      });
      view.querySelector("[data-when='bases-differ']").hidden = a.base === b.base;

      var matrices = view.querySelector("[data-slot='matrices']");
      empty(matrices);
      parts.forEach(function (part) { matrices.appendChild(part.querySelector("figure")); });

      var difference = view.querySelector("[data-slot='difference']");
      empty(difference);
      var sameSteps = a.matrix.length === b.matrix.length;
      view.querySelector("[data-when='steps-differ']").hidden = sameSteps;
      if (sameSteps) { difference.appendChild(differenceTable(a, b, nameA, nameB, data)); }

      var curves = view.querySelector("[data-slot='curves']");
      empty(curves);
      var steps = Math.max(a.steps, b.steps);
      var byMethod = a.method !== b.method;
      a.columns.filter(function (task) { return b.columns.indexOf(task) >= 0; }).forEach(function (task) {
        var lines = [a, b].map(function (e, k) {
          var j = e.columns.indexOf(task);
          return {
            name: byMethod ? e.method : [nameA, nameB][k],
            legend: byMethod ? e.legend.method : e.legend.name,
            values: e.matrix.map(function (row) { return row[j]; }),
            texts: e.text.map(function (row) { return row[j]; })
          };
        });
        var figure = curves.appendChild(make("figure", { "class": "figure", "data-task": task }));
        figure.appendChild(curveChart(data.frames[String(steps)], steps, lines,
          "Accuracy on " + task + " across steps"));
        figure.appendChild(make("figcaption", {}, task));
      });
      view.hidden = false;
    }

    function fromLocation() {
      var query = new URLSearchParams(window.location.search);
      if (!query.has("a") && !query.has("b")) {
        draw(defaults.a, defaults.b);
      } else {
        draw(query.get("a") || "", query.get("b") || "");
      }
    }

    function picked() {
      var search = "?a=" + encodeURIComponent(first.value) + "&b=" + encodeURIComponent(second.value);
      try {
        window.history.pushState(null, "", search);
      } catch (error) {  // a browser that refuses to change a file:// URL: load the page anew
        window.location.search = search;
        return;
      }
      draw(first.value, second.value);
    }

    first.addEventListener("change", picked);
    second.addEventListener("change", picked);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    window.addEventListener("popstate", fromLocation);
    form.hidden = false;
    fromLocation();
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.board"), setupSorting);
    Array.prototype.forEach.call(document.querySelectorAll("form.filters"), setupFilters);
    Array.prototype.forEach.call(document.querySelectorAll("svg.scatter"), setupScatter);
    Array.prototype.forEach.call(document.querySelectorAll("form.compare[data-href]"), setupComparePicker);
    Array.prototype.forEach.call(document.querySelectorAll("div.compare-view"), setupComparePage);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
