/* handoff chat widget. Embed with:
 *   <script src="https://support.example.com/widget.js" defer></script>
 * Optional attributes: data-title, data-color, data-position ("left"/"right"),
 * and for a logged-in user data-user-id, data-user-name and data-user-hash
 * (hex HMAC-SHA256 of the user id, computed by the site's backend).
 * All text is rendered with textContent / text nodes; no eval, no inline
 * script or style, so it runs under a strict Content-Security-Policy. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__handoffWidget) { return; }
  window.__handoffWidget = true;
  var base = new URL(script.src, location.href).origin;
  var data = script.dataset;
  var KEY = "handoff-widget:" + base;
  var URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch (e) { return {}; }
  }
  var saved = load();
  var state = {
    token: saved.token || null,
    session: saved.session || null,
    /* Per page: a reload renders the whole kept history again; a
       reconnect asks only for what this page missed. */
    lastSeq: 0,
    outbox: Array.isArray(saved.outbox) ? saved.outbox : [],
    /* The panel stays open across reloads and page changes. */
    open: !!saved.open
  };
  if (saved.expiresAt && saved.expiresAt < Date.now()) {
    state.token = null; state.session = null;
  }
  function save() {
    try {
      localStorage.setItem(KEY, JSON.stringify({
        token: state.token, session: state.session,
        outbox: state.outbox, expiresAt: state.expiresAt || 0, open: state.open
      }));
    } catch (e) { /* storage full or blocked: the session lasts this page */ }
  }

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text) { n.textContent = text; }
    return n;
  }
  function newId() {
    var b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  /* Text with http(s) links made clickable; everything else stays text. */
  function fillText(node, text) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      var href = m[0].replace(/[.,;:!?)]+$/, "");
      node.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el("a", null, href);
      try {
        var u = new URL(href);
        if (u.protocol === "http:" || u.protocol === "https:") {
          a.href = u.href; a.target = "_blank"; a.rel = "noopener noreferrer nofollow";
        }
      } catch (e) { /* not a URL after all: plain text */ }
      node.appendChild(a);
      last = m.index + href.length;
      URL_RE.lastIndex = last;
    }
    node.appendChild(document.createTextNode(text.slice(last)));
  }

  /* The widget's elements. */
  var css = el("link");
  css.rel = "stylesheet"; css.href = base + "/widget.css";
  document.head.appendChild(css);
  var root = el("div", "hw-root");
  var bubble = el("button", "hw-bubble", "\u{1F4AC}");
  bubble.type = "button";
  bubble.setAttribute("aria-label", "Open support chat");
  bubble.setAttribute("aria-expanded", "false");
  var panel = el("section", "hw-panel");
  panel.hidden = true;
  panel.id = "hw-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "hw-title");
  bubble.setAttribute("aria-controls", panel.id);
  var head = el("div", "hw-head");
  var title = el("h2", "hw-title", data.title || "Support");
  title.id = "hw-title";
  var closeBtn = el("button", "hw-close", "\u00D7");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", "Close support chat");
  /* The transcript as a text file, made in the page from what it shows. */
  var saveLink = el("a", "hw-transcript", "\u2913");
  saveLink.href = "#";
  saveLink.download = "support-conversation.txt";
  saveLink.setAttribute("aria-label", "Download the conversation");
  saveLink.title = "Download the conversation";
  head.appendChild(title); head.appendChild(saveLink); head.appendChild(closeBtn);
  var log = el("div", "hw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  var status = el("div", "hw-status");
  status.setAttribute("role", "status");
  var form = el("form", "hw-form");
  var label = el("label", "hw-sr", "Your message");
  label.htmlFor = "hw-input";
  var input = el("textarea", "hw-input");
  input.id = "hw-input"; input.rows = 1; input.placeholder = "Write a message\u2026";
  var sendBtn = el("button", "hw-send", "Send");
  sendBtn.type = "submit";
  form.appendChild(label); form.appendChild(input); form.appendChild(sendBtn);
  /* "Support is typing…": shown while the team writes a reply. */
  var typing = el("div", "hw-typing", "Support is typing\u2026");
  typing.hidden = true;
  typing.setAttribute("aria-live", "polite");
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(typing); panel.appendChild(status); panel.appendChild(form);
  root.appendChild(panel); root.appendChild(bubble);

  function theme(t) {
    if (t.color && !data.color) { root.style.setProperty("--hw-accent", t.color); }
    if (t.title && !data.title) { title.textContent = t.title; }
    if ((data.position || t.position) === "left") { root.classList.add("hw-left"); }
    if (t.max_message_chars) { input.maxLength = t.max_message_chars; }
    greeting.textContent = t.greeting || "";
  }
  if (data.color) { root.style.setProperty("--hw-accent", data.color); }
  var greeting = el("p", "hw-notice hw-greeting");
  log.appendChild(greeting);

  /* Messages by id, so edits and deletes find them. */
  var shown = {};
  function addMessage(id, from, name, text, pending) {
    var node = shown[id];
    if (!node) {
      node = el("div", "hw-msg hw-" + from);
      node.appendChild(el("span", "hw-name"));
      node.appendChild(el("span", "hw-body"));
      shown[id] = node;
      log.appendChild(node);
    }
    /* Every line says who wrote it; "You" only to screen readers. */
    node.firstChild.textContent = from === "visitor" ? "You" : (name || (from === "bot" ? "Assistant" : "Support"));
    node.firstChild.className = from === "visitor" ? "hw-name hw-sr" : "hw-name";
    fillText(node.lastChild, text);
    if (!pending && node.classList.contains("hw-pending")) {
      /* Taken by the server: it goes where the server put it, after what
         came before it (so a reload shows the same order). */
      log.appendChild(node);
    }
    node.classList.toggle("hw-pending", !!pending);
    log.scrollTop = log.scrollHeight;
  }
  /* Suggested replies under the bot's question; pressing one sends its
     text as the visitor's message. Only the latest question keeps them. */
  function dropChoices() {
    Array.prototype.forEach.call(log.querySelectorAll(".hw-choices"), function (n) { n.remove(); });
  }
  function addChoices(choices) {
    var box = el("div", "hw-choices");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Suggested replies");
    choices.forEach(function (c) {
      var b = el("button", "hw-choice", c.label);
      b.type = "button";
      b.addEventListener("click", function () { dropChoices(); sendText(c.reply); input.focus(); });
      box.appendChild(b);
    });
    log.appendChild(box);
    log.scrollTop = log.scrollHeight;
  }
  var typingTimer = null;
  function showTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    /* A lost "stopped typing" must not leave it shown for ever. */
    if (on) { typingTimer = setTimeout(function () { typing.hidden = true; }, 30000); }
  }
  function notice(text) {
    log.appendChild(el("p", "hw-notice", text));
    log.scrollTop = log.scrollHeight;
  }
  function clearLog() {
    shown = {};
    while (log.lastChild && log.lastChild !== greeting) { log.removeChild(log.lastChild); }
  }
  function apply(e) {
    if (e.seq <= state.lastSeq) { return; }
    state.lastSeq = e.seq;
    if (e.kind === "message") {
      dropChoices();
      if (e.from === "agent") { showTyping(false); }
      addMessage(e.id, e.from, e.name, e.text, false);
      if (e.choices && e.choices.length) { addChoices(e.choices); }
    } else if (e.kind === "edit" && shown[e.target]) {
      fillText(shown[e.target].lastChild, e.text);
    } else if (e.kind === "delete" && shown[e.target]) {
      shown[e.target].lastChild.textContent = "(deleted)";
      shown[e.target].classList.add("hw-deleted");
    } else if (e.kind === "notice") {
      notice(e.text);
    }
    save();
  }

  /* The connection: hello, replay, live; reconnects with backoff. */
  var ws = null, synced = false, delay = 1000, retryTimer = null;
  var throttled = false, flushTimer = null;
  function connect() {
    if (ws) { return; }
    synced = false;
    ws = new WebSocket(base.replace(/^http/, "ws") + "/ws");
    ws.onopen = function () {
      var hello = { type: "hello", token: state.token, last_seen: state.lastSeq };
      if (data.userId && data.userHash) {
        hello.user = { id: data.userId, name: data.userName || null, hash: data.userHash };
      }
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "welcome") {
        if (f.session !== state.session) {
          /* A new conversation (the old one expired): what is still to
             send goes into it. */
          clearLog(); state.lastSeq = 0;
          state.outbox.forEach(function (m) { addMessage("v-" + m.id, "visitor", null, m.text, true); });
        }
        state.token = f.token; state.session = f.session; state.expiresAt = f.expires_at;
        save();
      } else if (f.type === "entry") {
        apply(f);
      } else if (f.type === "typing") {
        showTyping(!!f.on);
      } else if (f.type === "synced") {
        synced = true; delay = 1000; status.textContent = "";
        flush();
      } else if (f.type === "ack") {
        state.outbox = state.outbox.filter(function (m) { return m.id !== f.id; });
        if (throttled && !state.outbox.length) { throttled = false; status.textContent = ""; }
        save();
      } else if (f.type === "error") {
        status.textContent = f.message;
        if (f.code === "rate_limited" && f.retry_after_ms) {
          throttled = true;
          clearTimeout(flushTimer);
          flushTimer = setTimeout(flush, f.retry_after_ms);
        } else if (f.id) {
          state.outbox = state.outbox.filter(function (m) { return m.id !== f.id; });
          if (shown["v-" + f.id]) { shown["v-" + f.id].classList.add("hw-deleted"); }
          save();
        }
      }
    };
    ws.onclose = function () {
      ws = null;
      status.textContent = "Reconnecting\u2026";
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, delay + Math.floor(Math.random() * 500));
      delay = Math.min(delay * 2, 10000);
    };
  }
  /* Sends what the server has not acknowledged; it takes each id once. */
  function flush() {
    if (!ws || !synced) { return; }
    state.outbox.forEach(function (m) {
      ws.send(JSON.stringify({ type: "message", id: m.id, text: m.text }));
    });
  }

  function open() {
    state.open = true; save();
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    bubble.setAttribute("aria-label", "Close support chat");
    connect();
    input.focus();
  }
  function close() {
    state.open = false; save();
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    bubble.setAttribute("aria-label", "Open support chat");
    bubble.focus();
  }
  bubble.addEventListener("click", function () { if (panel.hidden) { open(); } else { close(); } });
  closeBtn.addEventListener("click", close);
  saveLink.addEventListener("click", function () {
    var lines = [title.textContent + " \u2014 " + new Date().toISOString(), ""];
    Array.prototype.forEach.call(log.children, function (n) {
      if (n === greeting || n.classList.contains("hw-choices")) { return; }
      if (!n.classList.contains("hw-msg")) { lines.push("(" + n.textContent + ")"); return; }
      var who = n.firstChild.textContent;
      lines.push(who + ": " + n.lastChild.textContent);
    });
    if (saveLink.href.indexOf("blob:") === 0) { URL.revokeObjectURL(saveLink.href); }
    saveLink.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/plain" }));
  });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { close(); } });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    sendText(text);
  });
  function sendText(text) {
    var m = { id: newId(), text: text };
    state.outbox.push(m);
    save();
    dropChoices();
    addMessage("v-" + m.id, "visitor", null, text, true);
    if (ws && synced) { ws.send(JSON.stringify({ type: "message", id: m.id, text: m.text })); }
    else { connect(); }
  }

  fetch(base + "/widget/settings", { credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : {}; })
    .then(theme, function () { theme({}); });
  document.body.appendChild(root);
  /* A returning visitor: resume the conversation at once. */
  state.outbox.forEach(function (m) { addMessage("v-" + m.id, "visitor", null, m.text, true); });
  if (state.open) {
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    bubble.setAttribute("aria-label", "Close support chat");
  }
  if (state.token || state.open) { connect(); }
  /* Back online: try at once rather than at the next backoff step. */
  window.addEventListener("online", function () {
    if (!ws) { clearTimeout(retryTimer); delay = 1000; connect(); }
  });
})();
