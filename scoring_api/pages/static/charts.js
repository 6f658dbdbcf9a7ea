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

  function draw() {
    var data = document.getElementById("chart-data");
    if (!data || typeof Plotly === "undefined") { return; }
    var charts = JSON.parse(data.textContent);
    Object.keys(charts).forEach(function (id) {
      var element = document.getElementById(id), chart = charts[id];
      if (!element) { return; }
      trend(element, chart);
      element.setAttribute("data-drawn", "1");
    });
    document.body.setAttribute("data-charts-drawn", "1");
  }

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  draw();
})();
