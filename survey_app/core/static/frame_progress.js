// The sampling frame page (fieldwork/frame.html): while the frame is importing, show its progress
// and reload the page when the import has finished. A static file, so that the Content-Security-Policy
// can refuse every inline script.
(function () {
  var box = document.getElementById("import-status");
  if (!box || box.dataset.status !== "importing") return;
  function poll() {
    fetch(box.dataset.progressUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (p) {
        document.getElementById("frame-progress").value = p.percent;
        document.getElementById("frame-rows").textContent = p.rows_imported;
        document.getElementById("frame-percent").textContent = p.percent;
        if (p.status === "importing") { setTimeout(poll, 1000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
