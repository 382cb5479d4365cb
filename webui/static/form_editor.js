// The form editor: JSON on the left, the rendered form on the right, refreshed as you type.
(function () {
  var box = document.querySelector(".form-editor");
  if (!box) { return; }
  var text = document.getElementById("form-json"), preview = document.getElementById("form-preview");
  var status = document.getElementById("form-status"), timer = null;
  function send(url) {
    var body = new FormData(); body.append("text", text.value);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin",
                        headers: { "X-CSRFToken": box.getAttribute("data-csrf") } }).then(function (r) { return r.json(); });
  }
  function say(message, kind) { status.textContent = message; status.className = "flash flash-" + kind; }
  function refresh() {
    send(box.getAttribute("data-preview")).then(function (answer) {
      if (answer.problems.length) { say(answer.problems.join("\n"), "error"); return; }
      preview.innerHTML = answer.html;  // rendered and escaped by the server's templates
      say(status.getAttribute("data-ok") || "✓", "success");
      box.setAttribute("data-ready", "1");
    });
  }
  text.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
  document.getElementById("publish-form").addEventListener("click", function () {
    send(box.getAttribute("data-publish")).then(function (answer) {
      if (answer.problems.length) { say(answer.problems.join("\n"), "error"); } else { say(answer.message, "success"); }
    });
  });
  refresh();
})();
