// Release build progress: each `[data-progress-url]` polls its JSON endpoint and moves its
// progress bar; when the build ends (ready or failed) the page reloads to show the result.
(function () {
  "use strict";
  function poll(box) {
    var bar = box.querySelector("progress");
    var stage = box.querySelector(".stage");
    var url = box.getAttribute("data-progress-url");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          if (data.status === "ready" || data.status === "failed") { window.location.reload(); return; }
          bar.max = Math.max(data.total, 1);
          bar.value = data.done;
          stage.textContent = (data.stage || data.status) + " · " + data.done + "/" + data.total;
          window.setTimeout(tick, 1000);
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    tick();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-url]").forEach(poll);
  });
})();
