// MiniTwit live timeline: opens the page's websocket stream and shows new messages
// without a reload (README.md, "Live updates: websocket streams"; docs/protocol.md). No framework; the page works without it.
//
// The timeline is `<ul id="timeline" data-stream="S" data-newest-id="ID">`. New messages
// are rendered with the same markup as the server's, all user text escaped. A reader at
// the top sees them inserted; a reader scrolled down gets an "N new messages" bar instead.
// Each message is placed by its id, never by arrival: one committed late can arrive after
// higher ids, and it goes where the page would have shown it. Each id shows once.
// The socket reconnects with exponential backoff and jitter, resuming with `since` from the
// position the server handed out last (the page's `data-position`, then each frame's
// `position`): everything up to it was sent, so a late message or a hide made while the
// page was away still arrives (docs/delivery.md). Where a
// websocket cannot be opened (no support, or a proxy that refuses the upgrade twice in a
// row), the page falls back to server-sent events (`/sse`), which resume by themselves
// with Last-Event-ID. A `delete` event (a moderator hid a message) removes it from the page;
// if it is shown again, it comes back as a message and goes back where it was.
(function () {
  "use strict";

  var timeline = document.getElementById("timeline");
  if (!timeline || !(window.WebSocket || window.EventSource)) return;
  var stream = timeline.getAttribute("data-stream");
  // Older pages (`?before=ID`) are history: nothing new belongs on them.
  if (!stream || /[?&]before=/.test(location.search)) return;

  var lastId = parseInt(timeline.getAttribute("data-newest-id"), 10) || 0;
  // Where the stream stands, `M.C` (see `furthest`); the resume point.
  var position = timeline.getAttribute("data-position") || String(lastId);
  var removed = {}; // ids a `delete` took off the page, which a show puts back in place
  var pending = []; // rendered <li>s waiting for the reader to come back to the top
  var shown = {}; // ids on the page or pending, so each shows once
  var PAGE_SIZE = 30;
  var rendered = timeline.querySelectorAll("li[data-id]");
  for (var r = 0; r < rendered.length; r++) shown[rendered[r].getAttribute("data-id")] = true;
  var bar = null;
  var attempt = 0;
  var socket = null;
  var events = null; // the EventSource, once the page fell back to SSE
  var failedOpens = 0; // websockets in a row that closed before they opened
  var moderator = timeline.getAttribute("data-moderator") === "true";

  var AT_TOP_PX = 80;
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 30000;

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&#34;")
      .replace(/'/g, "&#39;");
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // `YYYY-MM-DD @ HH:MM` in UTC, as the server prints dates.
  function formatDate(unixSeconds) {
    var d = new Date(unixSeconds * 1000);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      " @ " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function render(message) {
    var li = document.createElement("li");
    li.setAttribute("data-id", String(message.id));
    li.innerHTML =
      '<img src="' + escapeHtml(message.avatar) + '"><p><strong><a href="/' +
      escapeHtml(encodeURIComponent(message.user)) + '">' + escapeHtml(message.user) +
      "</a></strong> " + escapeHtml(message.content) + " <small>&mdash; " +
      escapeHtml(formatDate(message.pub_date)) + "</small></p>" +
      (moderator ? '<form class="moderate" action="/messages/' + message.id +
        '/hide" method="post"><button type="submit">hide</button></form>' : "");
    return li;
  }

  function atTop() {
    return (window.scrollY || document.documentElement.scrollTop || 0) <= AT_TOP_PX;
  }

  function idOf(li) {
    return parseInt(li.getAttribute("data-id"), 10);
  }

  // Puts `li` where its id belongs in the newest-first list. One older than everything
  // shown belongs on an older page, unless this page holds the whole timeline.
  function place(li) {
    var id = idOf(li);
    var items = timeline.querySelectorAll("li[data-id]");
    for (var i = 0; i < items.length; i++) {
      if (idOf(items[i]) < id) {
        timeline.insertBefore(li, items[i]);
        return;
      }
    }
    if (items.length < PAGE_SIZE) timeline.appendChild(li);
  }

  function insert(items) {
    // The "There's no message so far." line goes once there is a message.
    var first = timeline.firstElementChild;
    if (first && !first.hasAttribute("data-id")) timeline.removeChild(first);
    for (var i = 0; i < items.length; i++) place(items[i]);
    timeline.setAttribute("data-newest-id", String(lastId));
  }

  function showBar() {
    if (!bar) {
      bar = document.createElement("div");
      bar.id = "live-bar";
      bar.className = "live-bar";
      bar.setAttribute("role", "status");
      var link = document.createElement("a");
      link.href = "#timeline";
      link.addEventListener("click", function (event) {
        event.preventDefault();
        flush();
        window.scrollTo(0, 0);
      });
      bar.appendChild(link);
      timeline.parentNode.insertBefore(bar, timeline);
    }
    var n = pending.length;
    bar.firstChild.textContent = n + (n === 1 ? " new message" : " new messages");
  }

  function flush() {
    if (pending.length) insert(pending);
    pending = [];
    if (bar) {
      bar.parentNode.removeChild(bar);
      bar = null;
    }
  }

  // The further of two positions `M.C` (or a bare `M`): each says everything up to it was
  // sent, so both parts can only move forward.
  function furthest(a, b) {
    if (typeof b !== "string" || !/^\d+(\.\d+)?$/.test(b)) return a;
    var x = a.split("."), y = b.split(".");
    var message = Math.max(parseInt(x[0], 10), parseInt(y[0], 10));
    var change = x.length > 1 && y.length > 1
      ? Math.max(parseInt(x[1], 10), parseInt(y[1], 10))
      : (x.length > 1 ? parseInt(x[1], 10) : (y.length > 1 ? parseInt(y[1], 10) : null));
    return change === null ? String(message) : message + "." + change;
  }

  function onMessage(message) {
    // Replay and live can overlap across reconnects: each id shows once.
    if (typeof message.id !== "number" || shown[message.id]) return;
    shown[message.id] = true;
    lastId = Math.max(lastId, message.id);
    var li = render(message);
    if (removed[message.id]) {
      // Shown again by a moderator: back where it was, wherever the reader is.
      delete removed[message.id];
      insert([li]);
    } else if (atTop() && !pending.length) {
      insert([li]);
    } else {
      pending.push(li);
      showBar();
    }
  }

  // A moderator hid message `id`: it goes from the page and from what waits to be shown.
  function onDelete(id) {
    var li = timeline.querySelector('li[data-id="' + id + '"]');
    if (li) li.parentNode.removeChild(li);
    if (shown[id]) {
      delete shown[id];
      removed[id] = true;
    }
    pending = pending.filter(function (item) { return idOf(item) !== id; });
    if (bar) {
      if (pending.length) showBar();
      else flush();
    }
  }

  function onEvent(data) {
    if (data.event === "message" || data.event === "delete") position = furthest(position, data.position);
    if (data.event === "message" && data.message) onMessage(data.message);
    else if (data.event === "delete" && typeof data.id === "number") onDelete(data.id);
  }

  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function connect() {
    if (!window.WebSocket || failedOpens >= 2) {
      connectEvents();
      return;
    }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + "/ws?stream=" + encodeURIComponent(stream) +
      "&since=" + encodeURIComponent(position);
    var opened = false;
    socket = new WebSocket(url);
    socket.onopen = function () {
      opened = true;
      failedOpens = 0;
    };
    socket.onmessage = function (event) {
      var data = parse(event.data);
      if (!data) return;
      if (data.event === "subscribed") attempt = 0;
      else onEvent(data);
    };
    socket.onclose = function () {
      socket = null;
      if (!opened) failedOpens += 1;
      // Full jitter, so a restarted server is not hit by every page at once.
      var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
      attempt += 1;
      setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2);
    };
  }

  // Server-sent events: the browser reconnects by itself, sending Last-Event-ID.
  function connectEvents() {
    if (!window.EventSource) return;
    events = new EventSource("/sse?stream=" + encodeURIComponent(stream) + "&since=" +
      encodeURIComponent(position));
    function relay(event) {
      var data = parse(event.data);
      if (data) onEvent(data);
    }
    events.addEventListener("message", relay);
    events.addEventListener("delete", relay);
  }

  window.addEventListener("scroll", function () {
    if (pending.length && atTop()) flush();
  }, { passive: true });

  // Exposed for debugging and the end-to-end test: where the stream stands.
  window.minitwitLive = {
    lastId: function () { return lastId; },
    position: function () { return position; },
    pending: function () { return pending.length; },
    // What the socket does with a message frame's `message`.
    receive: onMessage,
    connected: function () {
      return (!!socket && socket.readyState === 1) || (!!events && events.readyState === 1);
    },
    transport: function () { return events ? "sse" : "websocket"; }
  };

  connect();
})();
