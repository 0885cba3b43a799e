/* Chairfill embed loader, served per widget at /w/<code>.js. Shows the booking funnel in an
   inline iframe or behind a popup button, hands the iframe what only the host page can read
   (its URL, referrer, ad cookies, first and last touch), sizes the iframe to its content and re-raises
   the funnel's events on the host page. No dependencies; styles go through element.style
   (CSSOM), which a host page's CSP allows even when it forbids inline styles. */
(function (w, d, config) {
  "use strict";
  if (!config.code) return;
  var SITE = config.site;
  var COOKIES = ["_gcl_aw", "_gcl_au", "_gcl_dc", "_fbc", "_fbp", "_uetmsclkid", "_uetvid",
    "_ttp", "ttclid", "li_fat_id", "_rdt_cid", "_epik", "_scid"];
  var CLICK_IDS = ["gclid", "gbraid", "wbraid", "gclsrc", "dclid", "fbclid", "msclkid", "ttclid",
    "li_fat_id", "twclid", "sccid", "epik", "rdt_cid", "yclid", "tblci", "obclid", "mc_cid"];
  var FIRST_TOUCH = "chairfill_ft", LAST_TOUCH = "chairfill_lt";
  var MAX_URL = 6000;
  var script = d.currentScript, where = w.location;
  var mode = (script && script.getAttribute("data-mode")) || config.mode;

  function cut(value, length) { return String(value || "").slice(0, length); }
  function css(element, styles) {
    for (var name in styles) element.style[name] = styles[name];
    return element;
  }
  function make(tag, styles, attributes) {
    var element = css(d.createElement(tag), styles || {});
    for (var name in attributes || {}) element.setAttribute(name, attributes[name]);
    return element;
  }

  // The host page's query string as [name, value] pairs, in order.
  function hostParams() {
    var pairs = [];
    new URLSearchParams(where.search).forEach(function (value, name) { pairs.push([name, value]); });
    return pairs;
  }

  // The ad platforms' own cookies, values as they stored them.
  function readCookies() {
    var found = {}, any = false;
    d.cookie.split(";").forEach(function (piece) {
      var at = piece.indexOf("="), name = piece.slice(0, at).trim();
      if (at > 0 && COOKIES.indexOf(name) >= 0) { found[name] = cut(piece.slice(at + 1), 300); any = true; }
    });
    return any ? found : null;
  }

  function stored(key) {
    var value = null;
    try { value = JSON.parse(w.localStorage.getItem(key)); } catch (e) {}
    return value && typeof value === "object" ? value : null;
  }
  function store(key, touch) {
    try { w.localStorage.setItem(key, JSON.stringify(touch)); } catch (e) {}
  }

  // A visit is "non-direct" when an ad or campaign brought it (utm_* or a click id in the URL)
  // or another site linked to it. The first such visit is kept in the host's own storage and
  // never overwritten, so a guest who comes back directly a week later keeps their source;
  // the last one is overwritten by each non-direct visit, never by a direct one.
  function touches(params) {
    var referrer = d.referrer, host = where.hostname.replace(/^www\./, "");
    var campaign = params.some(function (pair) {
      var name = pair[0].toLowerCase();
      return name.indexOf("utm_") === 0 || CLICK_IDS.indexOf(name) >= 0;
    });
    var elsewhere = false;
    try { elsewhere = !!referrer && new URL(referrer).hostname.replace(/^www\./, "") !== host; } catch (e) {}
    var first = stored(FIRST_TOUCH);
    if (!campaign && !elsewhere) return { first: first, last: stored(LAST_TOUCH) };
    var touch = { url: cut(where.href, 1000), referrer: cut(referrer, 1000), ts: new Date().toISOString() };
    if (!first) store(FIRST_TOUCH, first = touch);
    store(LAST_TOUCH, touch);
    return { first: first, last: touch };
  }

  function funnelUrl() {
    var params = hostParams(), cookies = readCookies(), touch = touches(params);
    var ours = [["embed", mode === "popup" ? "popup" : "inline"], ["cf_host", cut(where.href, 1000)], ["cf_ref", cut(d.referrer, 1000)]];
    if (cookies) ours.push(["cf_ck", JSON.stringify(cookies)]);
    if (touch.first) ours.push(["cf_ft", cut(JSON.stringify(touch.first), 2100)]);
    if (touch.last) ours.push(["cf_lt", cut(JSON.stringify(touch.last), 2100)]);
    var url = config.url + "?" + ours.map(function (pair) {
      return pair[0] + "=" + encodeURIComponent(pair[1]);
    }).join("&");
    // The host's own parameters as they are (utm_*, gclid, …), except names we use, while
    // the URL stays well under what servers and proxies accept.
    params.forEach(function (pair) {
      if (pair[0] === "embed" || pair[0].indexOf("cf_") === 0) return;
      var piece = "&" + encodeURIComponent(cut(pair[0], 100)) + "=" + encodeURIComponent(cut(pair[1], 500));
      if (url.length + piece.length <= MAX_URL) url += piece;
    });
    return url;
  }

  function frame() {
    return make("iframe", { width: "100%", border: "0", display: "block", height: "640px" }, {
      src: funnelUrl(),
      title: "Book an appointment with " + config.name
    });
  }

  // Messages count only when they come from our site and from this very iframe.
  function listen(iframe, target, onResize, onTop) {
    w.addEventListener("message", function (event) {
      var data = event.data;
      if (event.origin !== SITE || event.source !== iframe.contentWindow) return;
      if (!data || typeof data.type !== "string" || data.type.indexOf("chairfill:") !== 0) return;
      var name = data.type.slice(10);
      if (name === "resize" || name === "top") {
        var height = Math.ceil(Number(data.height));
        if (name === "top") onTop();
        else if (height > 0 && height < 20000) onResize(height);
        return;
      }
      if (!/^[a-z_]{1,40}$/.test(name)) return;
      var detail = data.detail && typeof data.detail === "object" ? data.detail : {};
      target.dispatchEvent(new CustomEvent("chairfill:" + name, { detail: detail, bubbles: true }));
      if (Array.isArray(w.dataLayer)) w.dataLayer.push({ event: "chairfill." + name, chairfill: detail });
    });
  }

  function inline() {
    var containers = d.querySelectorAll('[data-chairfill-widget="' + config.code + '"]');
    if (!containers.length && script) {
      // No placeholder on the page: show the funnel where the script tag is.
      containers = [make("div", {}, { "data-chairfill-widget": config.code })];
      script.parentNode.insertBefore(containers[0], script.nextSibling);
    }
    Array.prototype.forEach.call(containers, function (container) {
      if (container.getAttribute("data-chairfill-ready")) return;
      container.setAttribute("data-chairfill-ready", "1");
      var iframe = frame();
      container.textContent = "";
      container.appendChild(iframe);
      listen(iframe, container, function (height) { iframe.style.height = height + "px"; }, function () {
        // A new step: its top may be above the window after a long step shrank.
        if (container.getBoundingClientRect().top < 0) container.scrollIntoView();
      });
    });
  }

  function popup() {
    var narrow = w.matchMedia("(max-width: 600px)");
    var button = make("button", {
      position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483000",
      padding: "14px 22px", border: "0", borderRadius: Math.max(config.radius, 6) + "px",
      background: config.color, color: config.text, font: "600 16px/1.2 system-ui, sans-serif",
      boxShadow: "0 6px 20px rgba(0,0,0,.25)", cursor: "pointer"
    }, { type: "button", "aria-haspopup": "dialog", "data-chairfill-button": config.code });
    button.textContent = config.button;
    // Our own focus ring: host stylesheets often remove the browser's.
    button.addEventListener("focus", function () {
      if (button.matches(":focus-visible")) css(button, { outline: "3px solid " + config.text, outlineOffset: "-6px" });
    });
    button.addEventListener("blur", function () { button.style.outline = ""; });

    // A full-viewport <dialog> is its own backdrop; the panel inside holds the funnel.
    var dialog = make("dialog", {
      width: "100%", height: "100%", maxWidth: "none", maxHeight: "none", margin: "0",
      padding: "0", border: "0", background: "rgba(17,24,39,.55)", overflow: "hidden"
    }, { "aria-label": "Book an appointment with " + config.name });
    var panel = make("div", {
      position: "absolute", display: "flex", flexDirection: "column", overflow: "hidden", background: "#fff"
    });
    var close = make("button", {
      alignSelf: "flex-end", margin: "6px", padding: "6px 12px", border: "0", borderRadius: "6px",
      background: "none", color: "#1b1e2b", font: "600 22px/1 system-ui, sans-serif", cursor: "pointer"
    }, { type: "button", "aria-label": "Close" });
    close.textContent = "\u00d7";
    var iframe = null, scrolling = "";

    function layout() {
      css(panel, narrow.matches
        ? { inset: "0", width: "100%", height: "100%", borderRadius: "0", transform: "none" }
        : { inset: "auto", left: "50%", top: "50%", transform: "translate(-50%, -50%)", width: "min(560px, calc(100vw - 32px))",
            height: "min(820px, calc(100vh - 48px))", borderRadius: "12px" });
    }
    function open() {
      if (!iframe) {
        // Created on first open (not on page load), then kept: closing and reopening
        // continues the same booking.
        iframe = frame();
        css(iframe, { flex: "1", height: "auto", minHeight: "0" });
        panel.appendChild(iframe);
        // The panel has a fixed size: the funnel scrolls inside it.
        listen(iframe, button, function () {}, function () {});
      }
      layout();
      scrolling = d.documentElement.style.overflow;
      d.documentElement.style.overflow = "hidden"; // the page behind stays put on phones
      dialog.showModal();
      close.focus();
    }
    button.addEventListener("click", open);
    close.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("click", function (event) { if (event.target === dialog) dialog.close(); });
    // Escape closes a modal <dialog> by itself; focus goes back to the button either way.
    dialog.addEventListener("close", function () {
      d.documentElement.style.overflow = scrolling;
      button.focus();
    });
    narrow.addEventListener("change", layout);
    panel.appendChild(close);
    dialog.appendChild(panel);
    d.body.appendChild(button);
    d.body.appendChild(dialog);
  }

  function start() { if (mode === "popup") popup(); else inline(); }
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", start);
  else start();
})(window, document, /*CONFIG*/{});
