// Draws the dispute trend chart (Chart.js from the npm registry, served locally) from the JSON the
// page carries; the strict CSP allows no inline script.
(function () {
  var canvas = document.getElementById("trend-chart");
  var source = document.getElementById("trend-data");
  if (!canvas || !source) { return; }
  if (typeof Chart === "undefined") { canvas.replaceWith(document.createTextNode("(Chart.js)")); return; }
  var data = JSON.parse(source.textContent);
  var palette = ["#1f4e79", "#c0392b", "#e67e22", "#27ae60", "#8e44ad", "#16a085", "#7f8c8d", "#d35400",
                 "#2c3e50", "#f1c40f", "#2980b9", "#6d4c41", "#00897b", "#ad1457", "#546e7a"];
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.series.map(function (s, i) {
        return { label: s.name, data: s.counts, backgroundColor: palette[i % palette.length], stack: "all" };
      })
    },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } }
    }
  });
  canvas.setAttribute("data-ready", "1");
})();
