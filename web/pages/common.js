/* Shared by the phone and tablet pages. Plain ES5: old Android Chrome and iPad Safari. */
var motcua = (function () {
  function el(id) { return document.getElementById(id); }
  function show(id, visible) {
    var node = el(id);
    if (!node) { return; }
    if (visible) { node.className = node.className.replace(/\s*hidden/g, ""); }
    else if (node.className.indexOf("hidden") < 0) { node.className += " hidden"; }
  }
  function setText(id, text) { var node = el(id); if (node) { node.textContent = text; } }
  function config() { return JSON.parse(el("config").textContent); }

  /* POST JSON; done(status, body) with the server's {"error": ...} or {"ok": ...}. */
  function post(url, body, token, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url, true);
    xhr.setRequestHeader("Content-Type", "application/json");
    if (token) { xhr.setRequestHeader("Authorization", "Bearer " + token); }
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
      if (xhr.status === 0) { data = { error: "Không kết nối được với hệ thống. Vui lòng thử lại." }; }
      done(xhr.status, data);
    };
    xhr.send(JSON.stringify(body));
  }

  /* Live updates by Server-Sent Events; reconnects by itself, also after an HTTP error.
     Returns a function that closes the stream for good. */
  function live(url, onData, onConnection) {
    var source = null, closed = false;
    function open() {
      if (closed) { return; }
      source = new EventSource(url);
      source.onopen = function () { onConnection(true); };
      source.onmessage = function (event) { onConnection(true); onData(JSON.parse(event.data)); };
      source.onerror = function () {
        if (closed) { return; }
        onConnection(false);
        if (source.readyState === 2) { setTimeout(open, 3000); }
      };
    }
    open();
    return function () { closed = true; if (source) { source.close(); } };
  }

  /* The rating: one big button per level (best first); a reason on the lowest levels. */
  function ratingPanel(prefix, cfg, send) {
    var levels = el(prefix + "-levels"), reasons = el(prefix + "-reasons");
    var chosen = 0, i;
    levels.innerHTML = ""; reasons.innerHTML = "";
    var low = cfg.levels.length - cfg.reason_levels;
    function levelButton(n) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "l" + n + (n > low ? " low" : "");
      b.textContent = cfg.levels[n - 1];
      b.setAttribute("data-level", String(n));
      b.onclick = function () {
        chosen = n;
        if (n > low && cfg.reasons.length) { show(prefix + "-levels", false); show(prefix + "-ask", true); show(prefix + "-reasons", true); }
        else { send(n, null); }
      };
      levels.appendChild(b);
    }
    function reasonButton(text, skip) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = skip ? "skip" : "";
      b.textContent = text;
      b.onclick = function () { send(chosen, skip ? null : text); };
      reasons.appendChild(b);
    }
    for (i = 1; i <= cfg.levels.length; i++) { levelButton(i); }
    for (i = 0; i < cfg.reasons.length; i++) { reasonButton(cfg.reasons[i], false); }
    reasonButton("Bỏ qua", true);
    return {
      reset: function () { chosen = 0; show(prefix + "-levels", true); show(prefix + "-ask", false); show(prefix + "-reasons", false); }
    };
  }

  return { el: el, show: show, setText: setText, config: config, post: post, live: live,
           ratingPanel: ratingPanel };
})();
