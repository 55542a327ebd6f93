/* The office's live view: one Server-Sent Events stream, times aged by the page each second.
   Plain ES5, built with textContent only (names come from the site config and devices). */
(function () {
  var latest = null, offset = 0;
  function el(id) { return document.getElementById(id); }
  function cell(row, text, cls) {
    var td = document.createElement(row.children.length ? "td" : "th");
    td.textContent = text === null || text === undefined ? "–" : String(text);
    if (cls) { td.className = cls; }
    row.appendChild(td);
    return td;
  }
  function ago(stamp) {
    if (!stamp) { return "–"; }
    var s = Math.max(0, Math.round(Date.now() / 1000 + offset - stamp));
    if (s < 60) { return s + " giây"; }
    if (s < 3600) { return Math.floor(s / 60) + " phút " + (s % 60) + " giây"; }
    return Math.floor(s / 3600) + " giờ " + Math.floor((s % 3600) / 60) + " phút";
  }
  function fill(tableId, rows, build) {
    var body = el(tableId).getElementsByTagName("tbody")[0];
    while (body.firstChild) { body.removeChild(body.firstChild); }
    for (var i = 0; i < rows.length; i++) {
      var tr = document.createElement("tr");
      tr.id = tableId + "-" + (rows[i].id || (rows[i].role + "-" + rows[i].device));
      build(tr, rows[i]);
      body.appendChild(tr);
    }
  }
  function render() {
    var v = latest;
    if (!v) { return; }
    var strip = el("alerts");
    while (strip.firstChild) { strip.removeChild(strip.firstChild); }
    if (!v.alerts.length) {
      var ok = document.createElement("p"); ok.className = "ok"; ok.id = "no-alerts";
      ok.textContent = "Không có cảnh báo."; strip.appendChild(ok);
    }
    for (var i = 0; i < v.alerts.length; i++) {
      var a = v.alerts[i], p = document.createElement("p");
      p.className = "alert " + a.kind; p.setAttribute("role", "alert");
      p.setAttribute("data-key", a.key);
      p.textContent = a.text + (a.since ? " (" + ago(a.since) + ")" : "");
      strip.appendChild(p);
    }
    var calls = el("calls");
    while (calls.firstChild) { calls.removeChild(calls.firstChild); }
    for (var c = 0; c < v.board.calls.length; c++) {
      var li = document.createElement("li"), call = v.board.calls[c];
      li.textContent = "Số " + call.number + " → " + call.counter + " (" + call.service + ")";
      calls.appendChild(li);
    }
    fill("counters", v.counters, function (tr, r) {
      cell(tr, r.name); cell(tr, r.status_text, "status-" + r.status);
      cell(tr, r.number ? r.number + (r.service ? " – " + r.service : "") : "–");
      cell(tr, r.since ? ago(r.since) : "–"); cell(tr, r.served_today);
    });
    fill("waiting", v.waiting, function (tr, r) {
      cell(tr, r.name); cell(tr, r.waiting);
      cell(tr, r.estimate_min === null ? "–" : r.estimate_min + " phút");
      cell(tr, r.oldest ? ago(r.oldest) : "–");
    });
    fill("devices", v.devices, function (tr, r) {
      cell(tr, r.label); cell(tr, r.online ? "Trực tuyến" : "Mất kết nối", r.online ? "" : "offline-cell");
      cell(tr, r.role === "kiosk" ? r.printer_text : "–", r.printer && r.printer !== "ok" ? "offline-cell" : "");
      cell(tr, r.at ? "cách đây " + ago(r.at) : "–");
    });
  }
  var source = null;
  function open() {
    source = new EventSource("/office/events");
    source.onmessage = function (event) {
      latest = JSON.parse(event.data);
      offset = latest.now - Date.now() / 1000;
      el("offline").className = latest.online ? "banner hidden" : "banner";
      render();
    };
    source.onerror = function () {
      el("offline").className = "banner";
      if (source.readyState === 2) { setTimeout(function () { location.reload(); }, 5000); }
    };
  }
  open();
  setInterval(render, 1000);
})();
