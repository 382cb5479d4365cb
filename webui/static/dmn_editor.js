// The decision table editor (dmn-js from the npm registry, served locally): the triage table and
// the department table open in the table view; save a draft, check it, publish it.
(function () {
  var holder = document.getElementById("modeler");
  if (!holder || holder.getAttribute("data-kind") !== "dmn") { return; }
  var status = document.getElementById("modeler-status");
  var T = JSON.parse(holder.getAttribute("data-labels") || "{}");
  if (typeof DmnJS === "undefined") { holder.textContent = T.error + " (dmn-js)"; return; }
  var editor = new DmnJS({ container: holder });
  function say(text, kind) { status.textContent = text; status.className = "flash flash-" + (kind || "info"); }
  function post(url) {
    return editor.saveXML({ format: true }).then(function (result) {
      var body = new FormData(); body.append("xml", result.xml);
      return fetch(url, { method: "POST", body: body, credentials: "same-origin",
                          headers: { "X-CSRFToken": holder.getAttribute("data-csrf") } })
        .then(function (response) { return response.json(); });
    });
  }
  function report(answer, okText) {
    if (answer.problems && answer.problems.length) { say(T.problems + "\n" + answer.problems.join("\n"), "error"); }
    else { say(answer.message || okText, "success"); }
  }
  [["save-draft", "data-draft", T.saved], ["check-draft", "data-check", T.checked], ["publish-draft", "data-publish", T.published]]
    .forEach(function (b) {
      document.getElementById(b[0]).addEventListener("click", function () {
        post(holder.getAttribute(b[1])).then(function (a) { report(a, b[2]); });
      });
    });
  fetch(holder.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return editor.importXML(xml); })
    .then(function () {
      var table = editor.getViews().filter(function (view) { return view.type === "decisionTable"; })[0];
      return table ? editor.open(table) : null;
    })
    .then(function () { holder.setAttribute("data-ready", "1"); })
    .catch(function (error) { say(T.error + ": " + error.message, "error"); });
})();
