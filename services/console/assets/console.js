// Live progress of a run: follows the server-sent events of
// /runs/{id}/events and updates the counters; the page reloads itself once
// the run ends (for its per-mailbox results). Without script the page's
// <noscript> refresh does the same every few seconds.
"use strict";
(function () {
  var progress = document.getElementById("progress");
  if (!progress || !window.EventSource) { return; }
  var source = new EventSource(progress.dataset.events);
  source.addEventListener("progress", function (message) {
    var data = JSON.parse(message.data);
    ["state", "mailboxes_done", "mailboxes_total", "created", "updated", "deleted"].forEach(function (name) {
      var element = document.getElementById(name);
      if (element) { element.textContent = String(data[name]); }
    });
    if (data.ended) { source.close(); window.location.reload(); }
  });
  source.onerror = function () { source.close(); };
})();
