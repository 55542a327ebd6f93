/* The citizen's ticket page: waiting -> called -> done (rate) -> thanks. */
(function () {
  var m = motcua, cfg = m.config(), stage = "", base = "/t/" + cfg.ticket;
  var panel = m.ratingPanel("phone", cfg, function (level, reason) {
    m.setText("phone-error", "");
    m.post(base + "/rating", { level: level, reason: reason }, null, function (status, data) {
      if (status === 202) { m.show("rate", false); m.show("rated", true); }
      else { m.setText("phone-error", data.error || "Không gửi được đánh giá."); panel.reset(); }
    });
  });
  panel.reset();
  function counterName(id) { return cfg.counters[id] || ("Quầy " + id); }
  m.live(base + "/events", function (view) {
    m.show("offline", !view.online);
    if (view.number) {
      m.setText("number", view.number);
      m.setText("service", cfg.services[view.service] || view.service);
    }
    var boxes = ["waiting", "called", "done", "left", "old"], i;
    for (i = 0; i < boxes.length; i++) { m.show(boxes[i], boxes[i] === view.stage); }
    if (view.stage === "waiting") {
      m.setText("ahead", String(view.ahead));
      m.show("estimate", view.wait_min !== null && view.wait_min !== undefined);
      m.setText("wait", view.wait_min < 1 ? "dưới 1 phút" : "khoảng " + view.wait_min + " phút");
    }
    if (view.stage === "called") {
      m.setText("call", "Mời công dân đến " + counterName(view.counter));
      if (stage !== "called" && navigator.vibrate) { navigator.vibrate([400, 200, 400]); }
    }
    if (view.stage === "done") {
      m.show("rate", view.can_rate && !view.rated);
      m.show("rated", view.rated);
    }
    stage = view.stage;
  }, function (up) { if (!up) { m.show("offline", true); } });
})();
