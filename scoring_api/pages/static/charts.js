// leadflow's charts: plotly.js from the plotly wheel (served at /static/vendor/plotly-<version>.min.js),
// drawn from the JSON the page embeds; nothing is fetched from anywhere else.
(function () {
  "use strict";
  var FONT = 'system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
  var LINES = { target: ["#6b7685", "dot"], amber: ["#f9a825", "dash"], red: ["#c62828", "dash"] };
  var FORMATS = { rate: ".0%", money: ",.0f", hours: ".0f", count: ",.0f" };

  function lineShape(value, color, dash) {
    return { type: "line", xref: "paper", x0: 0, x1: 1, y0: value, y1: value,
             line: { color: color, width: 1.5, dash: dash } };
  }

  function trend(element, chart) {
    // the target and alert lines in the colours the card names them in (no labels on the
    // plot: three lines a few pixels apart would print their names over each other)
    var shapes = [];
    Object.keys(LINES).forEach(function (name) {
      var value = chart.lines[name];
      if (value === null || value === undefined) { return; }
      shapes.push(lineShape(value, LINES[name][0], LINES[name][1]));
    });
    var trace = {
      x: chart.x, y: chart.y, type: "scatter", mode: "lines+markers", hoverinfo: "x+y",
      line: { color: "#1f6feb", width: 2 },
      marker: { size: 6, color: chart.partial.map(function (p) { return p ? "#ffffff" : "#1f6feb"; }),
                line: { color: "#1f6feb", width: 1.5 } }
    };
    Plotly.newPlot(element, [trace], {
      margin: { l: 48, r: 8, t: 6, b: 34 }, height: 150, showlegend: false,
      font: { family: FONT, size: 11, color: "#1c2430" },
      xaxis: { type: "category", tickangle: 0, nticks: 4, automargin: true },
      yaxis: { tickformat: FORMATS[chart.kind] || "", rangemode: "tozero", gridcolor: "#eef1f6" },
      shapes: shapes,
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
    }, { displayModeBar: false, responsive: true, staticPlot: false });
  }

  var BASE = {
    font: { family: FONT, size: 12, color: "#1c2430" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
  };
  var COLOURS = ["#9fb5d6", "#1f6feb", "#2e7d32", "#f9a825"];

  function bars(element, chart) {
    // one bar per series and category (spend against won revenue per channel); a missing
    // value (no spend recorded) draws no bar rather than a zero
    var traces = chart.series.map(function (series, index) {
      return { x: chart.x, y: series.y, name: series.name, type: "bar",
               marker: { color: COLOURS[index % COLOURS.length] }, hoverinfo: "x+y+name" };
    });
    Plotly.newPlot(element, traces, Object.assign({
      margin: { l: 64, r: 8, t: 8, b: 40 }, height: 260, barmode: "group",
      legend: { orientation: "h", x: 0, y: 1.12 },
      xaxis: { type: "category", automargin: true },
      yaxis: { tickformat: ",.0f", rangemode: "tozero", gridcolor: "#eef1f6" }
    }, BASE), { displayModeBar: false, responsive: true });
  }

  function funnel(element, chart) {
    Plotly.newPlot(element, [{
      type: "funnel", y: chart.y, x: chart.x, textinfo: "value+percent initial",
      marker: { color: ["#9fb5d6", "#6f9ce0", "#1f6feb", "#2e7d32"] }, hoverinfo: "y+x",
      connector: { fillcolor: "#eef1f6", line: { width: 0 } }
    }], Object.assign({ margin: { l: 90, r: 8, t: 8, b: 8 }, height: 220 }, BASE),
    { displayModeBar: false, responsive: true });
  }

  var KINDS = { bars: bars, funnel: funnel };

  function draw() {
    var data = document.getElementById("chart-data");
    if (!data || typeof Plotly === "undefined") { return; }
    var charts = JSON.parse(data.textContent);
    Object.keys(charts).forEach(function (id) {
      var element = document.getElementById(id), chart = charts[id];
      if (!element) { return; }
      (KINDS[chart.kind] || trend)(element, chart);
      element.setAttribute("data-drawn", "1");
    });
    document.body.setAttribute("data-charts-drawn", "1");
  }

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  draw();
})();
