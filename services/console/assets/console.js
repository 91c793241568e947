// Jigi console: the little the pages need beyond HTML. Every page works
// without it; with it, the links table refreshes itself and the live feed
// streams. No framework, no build step.
(function () {
  "use strict";
  // Regions' links: replace the table every two seconds.
  var links = document.getElementById("links-table");
  if (links && links.dataset.src) {
    setInterval(function () {
      fetch(links.dataset.src, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) { links.innerHTML = html; })
        .catch(function () { /* keep the last table; the next try may work */ });
    }, 2000);
  }
  // Live events: server-sent events, one row each, newest on top.
  var live = document.getElementById("live-body");
  if (live && live.dataset.src && window.EventSource) {
    var max = 200;
    var source = new EventSource(live.dataset.src);
    var empty = document.getElementById("live-empty");
    source.addEventListener("jigi", function (message) {
      var e = JSON.parse(message.data);
      if (empty) { empty.remove(); empty = null; }
      var row = document.createElement("tr");
      row.className = "new";
      row.dataset.kind = e.kind;
      row.dataset.region = e.region;
      [e.time.replace("T", " ").slice(0, 19) + " UTC", e.region, e.kind, e.about].forEach(function (text) {
        var cell = document.createElement("td");
        cell.className = "text";
        cell.textContent = text;
        row.appendChild(cell);
      });
      var trace = document.createElement("td");
      trace.className = "text mono";
      if (e.trace_id) {
        var a = document.createElement("a");
        a.href = live.dataset.traces + encodeURIComponent(e.about || "");
        a.textContent = e.trace_id.slice(0, 16) + "…";
        trace.appendChild(a);
      }
      row.appendChild(trace);
      live.insertBefore(row, live.firstChild);
      while (live.children.length > max) live.removeChild(live.lastChild);
    });
  }
})();
