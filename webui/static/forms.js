// Repeatable groups (the parties, mediation sessions): add and remove rows, keeping field names
// numbered as the server expects ("parties-0-name", "parties-1-name", ...).
(function () {
  function renumber(fieldset) {
    var name = fieldset.getAttribute("data-repeat");
    var pattern = new RegExp("^(f-|e-)?" + name + "-(\\d+|__i__)-");
    fieldset.querySelectorAll(".repeat-rows > .repeat-row").forEach(function (row, index) {
      row.setAttribute("data-index", index);
      var label = row.querySelector(".repeat-no");
      if (label) { label.textContent = label.textContent.replace(/\s*\d*$/, "") + " " + (index + 1); }
      row.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value && pattern.test(value)) {
            el.setAttribute(attr, value.replace(pattern, function (_m, prefix) { return (prefix || "") + name + "-" + index + "-"; }));
          }
        });
      });
    });
  }
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    var remove = event.target.closest("[data-remove-row]");
    if (add) {
      var fieldset = add.closest("[data-repeat]");
      var template = fieldset.querySelector("template");
      fieldset.querySelector(".repeat-rows").appendChild(template.content.cloneNode(true));
      renumber(fieldset);
      var rows = fieldset.querySelectorAll(".repeat-rows > .repeat-row");
      var first = rows[rows.length - 1].querySelector("input, select, textarea");
      if (first) { first.focus(); }
    } else if (remove) {
      var set = remove.closest("[data-repeat]");
      var all = set.querySelectorAll(".repeat-rows > .repeat-row");
      if (all.length > 1) {
        remove.closest(".repeat-row").remove();
      } else {
        all[0].querySelectorAll("input, select, textarea").forEach(function (el) {
          if (el.type === "checkbox") { el.checked = false; } else { el.value = ""; }
        });
      }
      renumber(set);
    }
  });
  var firstError = document.querySelector(".has-error input, .has-error select, .has-error textarea");
  if (firstError) { firstError.focus(); }
})();
