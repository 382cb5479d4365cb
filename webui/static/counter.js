// The length of a limited text as one types ("已输入 123 / 4000 字"). Fields carry data-maxlength
// rather than maxlength, because a browser cuts pasted text to maxlength without a word: here the
// text stays whole, the counter turns red past the limit and the server refuses it with the
// field's error. Text areas always show their counter; a one-line field only near its limit.
(function () {
  var NEAR = 0.8;
  var made = 0;

  function length(value) {
    // Characters as the server counts them: code points, a line break as one.
    return Array.from(value.replace(/\r\n/g, "\n")).length;
  }

  function fill(text, n, max) {
    return text.replace("{n}", n).replace("{max}", max).replace("{over}", n - max);
  }

  function counterOf(field) {
    var next = field.nextElementSibling;
    if (next && next.classList.contains("counter")) { return next; }
    var counter = document.createElement("p");
    counter.className = "counter";
    field.insertAdjacentElement("afterend", counter);
    return counter;
  }

  function update(field) {
    var max = parseInt(field.getAttribute("data-maxlength"), 10);
    if (!(max > 0)) { return; }
    var texts = field.closest("[data-count-text]");
    var countText = texts ? texts.getAttribute("data-count-text") : "{n} / {max}";
    var overText = texts ? texts.getAttribute("data-over-text") : "{n} / {max}";
    var n = length(field.value);
    var over = n > max;
    var counter = counterOf(field);
    counter.textContent = fill(over ? overText : countText, n, max);
    counter.classList.toggle("over", over);
    counter.hidden = field.tagName !== "TEXTAREA" && n < max * NEAR;
    if (!counter.id) { counter.id = "counter-" + (made += 1); }
    field.setAttribute("aria-describedby", counter.id);
    // Marks the field invalid (red, and the server's error beside it stays shown) while too long;
    // the form is novalidate, so this never blocks saving a draft.
    field.setCustomValidity(over ? counter.textContent : "");
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-maxlength]")) { update(event.target); }
  });
  document.querySelectorAll("[data-maxlength]").forEach(update);
})();
