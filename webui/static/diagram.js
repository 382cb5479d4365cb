// Shows a BPMN diagram with bpmn-js (built from the npm registry by `make run`, served locally).
(function () {
  var holder = document.getElementById("diagram");
  if (!holder) { return; }
  if (typeof BpmnJS === "undefined") {
    holder.textContent = holder.getAttribute("data-error") + " (bpmn-js)";
    return;
  }
  var viewer = new BpmnJS({ container: holder });
  fetch(holder.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      viewer.get("canvas").zoom("fit-viewport");
      var marked = holder.getAttribute("data-marked");
      if (marked) {
        var canvas = viewer.get("canvas");
        marked.split(",").forEach(function (id) { try { canvas.addMarker(id, "highlight"); } catch (e) { } });
      }
      holder.setAttribute("data-ready", "1");
    })
    .catch(function (error) { holder.textContent = holder.getAttribute("data-error") + ": " + error.message; });
})();
