// The example host page (/sandbox/host/): lists the events the embedded widget raises, as a
// salon's own analytics would see them, and lets the demo forget the stored first visit.
(function () {
  "use strict";
  var EVENTS = ["widget_opened", "service_selected", "provider_selected", "date_selected",
    "time_selected", "booking_started", "booking_submitted", "booking_completed", "booking_failed"];
  var FIRST_TOUCH = "chairfill_ft", LAST_TOUCH = "chairfill_lt";

  function log(kind, name, detail) {
    var list = document.getElementById("events-log");
    if (!list) return;
    var item = document.createElement("li");
    item.setAttribute(kind === "dom" ? "data-event" : "data-datalayer", name);
    var label = document.createElement("code");
    label.textContent = kind === "dom" ? name : "dataLayer " + name;
    var body = document.createElement("span");
    body.textContent = " " + JSON.stringify(detail);
    var time = document.createElement("time");
    time.textContent = new Date().toLocaleTimeString() + " ";
    item.append(time, label, body);
    list.prepend(item);
  }

  EVENTS.forEach(function (name) {
    document.addEventListener("chairfill:" + name, function (event) { log("dom", event.type, event.detail); });
  });

  // A tag manager's dataLayer, watched: the loader pushes {event: "chairfill.<name>", chairfill: detail}.
  var dataLayer = (window.dataLayer = window.dataLayer || []);
  var push = dataLayer.push;
  dataLayer.push = function (entry) {
    if (entry && typeof entry.event === "string" && entry.event.indexOf("chairfill.") === 0) {
      log("datalayer", entry.event, entry.chairfill);
    }
    return push.apply(dataLayer, arguments);
  };

  function showFirstTouch() {
    var status = document.getElementById("first-touch-status");
    var stored = null;
    try { stored = JSON.parse(window.localStorage.getItem(FIRST_TOUCH)); } catch (e) {}
    if (status) status.textContent = stored ? "First visit stored: " + stored.url : "No first visit stored.";
  }

  document.addEventListener("DOMContentLoaded", function () {
    showFirstTouch();
    var forget = document.getElementById("forget-first-touch");
    if (forget) forget.addEventListener("click", function () {
      try {
        window.localStorage.removeItem(FIRST_TOUCH);
        window.localStorage.removeItem(LAST_TOUCH);
      } catch (e) {}
      showFirstTouch();
    });
  });
})();
