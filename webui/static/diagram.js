// Shows a BPMN diagram with bpmn-js (built from the npm registry by `make run`, served locally).
// Optional marks, as comma-separated element ids: data-marked (highlight), data-taken (the path
// a case went), data-current (where it stands), data-waiting (deadlines counting); data-times is
// a JSON object {element id: text} shown when a step is clicked.
(function () {
  var holder = document.getElementById("diagram");
  if (!holder) { return; }
  if (typeof BpmnJS === "undefined") {
    holder.textContent = holder.getAttribute("data-error") + " (bpmn-js)";
    return;
  }
  function ids(name) {
    var value = holder.getAttribute(name);
    return value ? value.split(",").filter(function (id) { return id; }) : [];
  }
  var viewer = new BpmnJS({ container: holder });
  fetch(holder.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport");
      [["data-marked", "highlight"], ["data-taken", "taken"], ["data-current", "current"], ["data-waiting", "waiting"]]
        .forEach(function (pair) {
          ids(pair[0]).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, pair[1]); } });
        });
      var times = JSON.parse(holder.getAttribute("data-times") || "{}");
      var info = document.getElementById("diagram-info");
      if (info) {
        viewer.get("eventBus").on("element.click", function (event) {
          var element = event.element;
          var name = (element.businessObject && element.businessObject.name) || element.id;
          info.textContent = times[element.id] ? name + "：" + times[element.id] : name;
        });
      }
      holder.setAttribute("data-ready", "1");
    })
    .catch(function (error) { holder.textContent = holder.getAttribute("data-error") + ": " + error.message; });
})();
