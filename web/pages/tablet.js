/* The counter's tablet: at rest the counter and the code of conduct; a rating prompt when a ticket is finished. */
(function () {
  var m = motcua, cfg = m.config(), token = null, prompt = null, thanksUntil = 0, thanksFor = null, counter = null;
  try {
    if (window.location.hash.length > 1) {
      localStorage.setItem("motcua-tablet-token", window.location.hash.substring(1));
      history.replaceState(null, "", window.location.pathname);
    }
    token = localStorage.getItem("motcua-tablet-token");
  } catch (e) { token = null; }

  var panel = m.ratingPanel("tablet", cfg, function (level, reason) {
    if (!prompt) { return; }
    m.setText("tablet-error", "");
    var ticket = prompt.ticket;
    m.post("/tablet/rating", { ticket: ticket, level: level, reason: reason }, token, function (status, data) {
      if (status === 202) { thanks(ticket); }
      else { m.setText("tablet-error", data.error || "Không gửi được đánh giá."); panel.reset(); }
    });
  });

  function screen(name) {
    var names = ["unpaired", "rest", "prompt", "thanks"], i;
    for (i = 0; i < names.length; i++) { m.show(names[i], names[i] === name); }
  }
  function thanks(ticket) {
    thanksFor = ticket; thanksUntil = new Date().getTime() + cfg.thanks_s * 1000;
    screen("thanks");
    setTimeout(function () { if (new Date().getTime() >= thanksUntil) { render(null); } }, cfg.thanks_s * 1000 + 50);
  }
  var last = null;
  function render(view) {
    if (view) { last = view; } else { view = last; }
    if (!view || gone) { return; }
    m.show("offline", !view.online);
    var p = view.prompt;
    if (p && (!prompt || prompt.ticket !== p.ticket)) { panel.reset(); m.setText("tablet-error", ""); }
    prompt = p;
    if (p && p.ticket !== thanksFor) {
      thanksUntil = 0;
      m.setText("prompt-number", p.number);
      m.setText("prompt-name", p.name || "");
      screen("prompt");
    } else if (new Date().getTime() < thanksUntil) {
      screen("thanks");
    } else {
      screen("rest");
    }
  }
  var gone = false;
  function unpaired(message) { gone = true; m.show("offline", false); m.setText("unpaired-text", message); screen("unpaired"); }

  if (!token) { unpaired(m.el("unpaired-text").textContent); return; }
  var stop = null;
  /* Who this tablet is: at the start, and whenever the stream breaks (the token may have been
     revoked: then the page says so and stops asking). */
  function whoami(first) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "/tablet/whoami", true);
    xhr.setRequestHeader("Authorization", "Bearer " + token);
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
      if (xhr.status === 401) { if (stop) { stop(); stop = null; } unpaired(data.error); return; }
      if (!first) { return; }
      if (xhr.status !== 200) { m.show("offline", true); setTimeout(function () { window.location.reload(); }, 5000); return; }
      counter = data.counter;
      m.setText("counter-name", cfg.counters[counter] || ("Quầy " + counter));
      screen("rest");
      stop = m.live("/tablet/events?token=" + encodeURIComponent(token), render, function (up) {
        if (!up) { m.show("offline", true); whoami(false); }
      });
    };
    xhr.send();
  }
  whoami(true);
})();
