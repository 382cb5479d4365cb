// The intake page's route preview follows what the clerk ticks and types (the server runs the
// intake as filing would, saving nothing). Without JavaScript the "Where will it go?" button does it.
(function () {
  const panel = document.getElementById("route-preview");
  if (!panel) return;
  const form = panel.closest("form");
  let timer = null, seq = 0;
  async function refresh() {
    const mine = ++seq;
    const body = new FormData(form);
    body.delete("repeat_decision");
    try {
      const answer = await fetch(panel.dataset.url, {method: "POST", body: body, credentials: "same-origin"});
      if (answer.ok && mine === seq) panel.innerHTML = await answer.text();
    } catch (e) { /* offline: the button still works */ }
  }
  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 350); }
  form.addEventListener("change", soon);
  form.addEventListener("input", soon);
  refresh();
})();
