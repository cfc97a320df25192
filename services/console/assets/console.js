// Live progress of a run: follows the server-sent events of
// /runs/{id}/events and updates the counters; when another mailbox is done
// it fetches the page again and swaps in its list of finished mailboxes;
// the page reloads itself once the run ends. Without script the page's
// <noscript> refresh does the same every few seconds.
"use strict";
(function () {
  var progress = document.getElementById("progress");
  if (!progress || !window.EventSource) { return; }
  var source = new EventSource(progress.dataset.events);
  var doneElement = document.getElementById("mailboxes_done");
  var done = doneElement ? doneElement.textContent : null;
  function refreshMailboxes() {
    var list = document.getElementById("mailboxes");
    if (!list || !window.fetch || !window.DOMParser) { return; }
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("mailboxes");
        if (fresh) { list.innerHTML = fresh.innerHTML; }
      })
      .catch(function () {});
  }
  source.addEventListener("progress", function (message) {
    var data = JSON.parse(message.data);
    ["state", "mailboxes_done", "mailboxes_total", "created", "updated", "deleted", "rate", "eta"].forEach(function (name) {
      var element = document.getElementById(name);
      if (element) { element.textContent = String(data[name]); }
    });
    if (data.ended) { source.close(); window.location.reload(); return; }
    if (String(data.mailboxes_done) !== done) {
      done = String(data.mailboxes_done);
      refreshMailboxes();
    }
  });
  // A dropped stream is reconnected by EventSource itself; an answer that
  // is not an event stream (a session that ended) closes it for good.
})();
