// The booking funnel's few scripts, inside the embed iframe and on the direct link alike:
// events and height for the host page, the guest's time zone, the hold countdown. Every step
// works without them.
(function () {
  "use strict";
  var root = document.documentElement;

  // To the host page, and only to the origin the server pinned for this session (the widget's
  // allowed origin the host page belongs to): an empty data-origin posts nothing.
  function post(message) {
    var origin = document.body && document.body.getAttribute("data-origin");
    if (!origin || window.parent === window) return;
    window.parent.postMessage(message, origin);
  }

  // <div hidden data-chairfill-event="service_selected" data-detail='{…}'>: sent once each.
  function sendEvents() {
    document.querySelectorAll("[data-chairfill-event]:not([data-chairfill-sent])").forEach(function (element) {
      element.setAttribute("data-chairfill-sent", "");
      var detail = {};
      try { detail = JSON.parse(element.getAttribute("data-detail") || "{}"); } catch (e) {}
      post({ type: "chairfill:" + element.getAttribute("data-chairfill-event"), detail: detail });
    });
  }

  function fillTimeZone() {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) {}
    document.querySelectorAll('input[type="hidden"][name="tz"]').forEach(function (input) {
      if (!input.value) input.value = zone;
    });
  }

  // The page's height, so the loader can size the iframe and the guest never scrolls twice.
  var posted = 0, pending = false;
  function postHeight() {
    pending = false;
    var height = Math.ceil(root.getBoundingClientRect().height);
    if (height !== posted) {
      posted = height;
      post({ type: "chairfill:resize", height: height });
    }
  }
  function watchHeight() {
    if (!window.ResizeObserver) return;
    new ResizeObserver(function () {
      if (!pending) {
        pending = true;
        window.requestAnimationFrame(postHeight);
      }
    }).observe(root);
  }

  // <span data-countdown-until="2026-01-01T10:15:00Z" data-expired-text="…">: minutes and
  // seconds left of the hold, then the expired text.
  var ticking = null;
  function pad(number) { return (number < 10 ? "0" : "") + number; }
  function tick() {
    var clocks = document.querySelectorAll("[data-countdown-until]:not([data-countdown-done])");
    if (!clocks.length) {
      clearInterval(ticking);
      ticking = null;
      return;
    }
    clocks.forEach(function (clock) {
      var until = Date.parse(clock.getAttribute("data-countdown-until"));
      if (isNaN(until)) return;
      var left = Math.max(0, Math.round((until - Date.now()) / 1000));
      if (left === 0) {
        clock.setAttribute("data-countdown-done", "");
        clock.textContent = clock.getAttribute("data-expired-text") || "00:00";
        return;
      }
      clock.textContent = pad(Math.floor(left / 60)) + ":" + pad(left % 60);
    });
  }
  function startCountdown() {
    if (ticking === null && document.querySelector("[data-countdown-until]")) {
      tick();
      ticking = setInterval(tick, 1000);
    }
  }

  function refresh() {
    fillTimeZone();
    sendEvents();
    startCountdown();
  }
  function start() {
    refresh();
    watchHeight();
    document.addEventListener("htmx:afterSettle", function () {
      refresh();
      // The new step's heading, for screen readers and keyboards (an autofocus attribute
      // would be refused in a cross-origin iframe, with a console error).
      var heading = document.querySelector("[data-autofocus]");
      if (heading) heading.focus({ preventScroll: true });
      // A new step came in. Inline on a host page the iframe does not scroll by itself, so
      // the loader brings its top into view, as show:window:top does on the direct link.
      post({ type: "chairfill:top" });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
