/*
 * Crossdesk storefront widget (minimal). Embed:
 *   <script src="https://YOUR-CROSSDESK/widget/crossdesk.js" defer></script>
 * Speaks Rasa's socket.io protocol; shopper and bot text is rendered with
 * textContent only. The full widget (i18n, offline queue, a11y) builds on this.
 */
(function () {
  "use strict";
  const script = document.currentScript;
  const SERVER = script ? new URL(script.src).origin : window.location.origin;
  const STORAGE_KEY = "crossdesk.session";

  function loadSocketIo() {
    if (window.io) return Promise.resolve(window.io);
    return new Promise(function (resolve, reject) {
      const tag = document.createElement("script");
      tag.src = SERVER + "/widget/vendor/socket.io.min.js";
      tag.onload = function () { resolve(window.io); };
      tag.onerror = reject;
      document.head.appendChild(tag);
    });
  }

  const STYLE = `
    :host { all: initial; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
      border: 0; border-radius: 28px; padding: 14px 20px; font: 600 15px system-ui, sans-serif;
      background: var(--crossdesk-accent, #1f5fbf); color: #fff; cursor: pointer; }
    .panel { position: fixed; right: 20px; bottom: 80px; width: 360px; max-width: calc(100vw - 40px);
      height: 480px; max-height: calc(100vh - 120px); display: none; flex-direction: column;
      background: #fff; color: #1a1a1a; border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.25);
      font: 14px/1.45 system-ui, sans-serif; z-index: 2147483000; overflow: hidden; }
    .panel.open { display: flex; }
    .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; }
    .msg { max-width: 80%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap;
      overflow-wrap: anywhere; line-break: strict; }
    .shopper { align-self: flex-end; background: var(--crossdesk-accent, #1f5fbf); color: #fff; }
    .bot { align-self: flex-start; background: #eef1f5; }
    .replies { display: flex; flex-wrap: wrap; gap: 6px; }
    .replies button { border: 1px solid var(--crossdesk-accent, #1f5fbf); background: #fff;
      color: var(--crossdesk-accent, #1f5fbf); border-radius: 14px; padding: 4px 10px; cursor: pointer; }
    form { display: flex; border-top: 1px solid #ddd; }
    input { flex: 1; border: 0; padding: 12px; font: inherit; }
    form button { border: 0; background: none; padding: 0 14px; font: 600 14px system-ui;
      color: var(--crossdesk-accent, #1f5fbf); cursor: pointer; }
  `;

  class CrossdeskWidget {
    #root; #log; #input; #socket; #sessionId;

    constructor(host) {
      this.#root = host.attachShadow({ mode: "open" });
      const style = document.createElement("style");
      style.textContent = STYLE;
      const launcher = this.#el("button", "launcher", "Chat");
      launcher.setAttribute("aria-label", "Open chat");
      const panel = this.#el("div", "panel");
      panel.setAttribute("role", "dialog");
      this.#log = this.#el("div", "log");
      this.#log.setAttribute("aria-live", "polite");
      const form = this.#el("form");
      this.#input = this.#el("input");
      this.#input.setAttribute("aria-label", "Message");
      this.#input.maxLength = 2000;
      form.append(this.#input, this.#el("button", "", "Send"));
      panel.append(this.#log, form);
      this.#root.append(style, launcher, panel);
      launcher.addEventListener("click", () => { panel.classList.toggle("open"); this.#input.focus(); });
      form.addEventListener("submit", (event) => { event.preventDefault(); this.send(this.#input.value); });
    }

    #el(tag, className, text) {
      const node = document.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined) node.textContent = text;
      return node;
    }

    async connect() {
      const io = await loadSocketIo();
      this.#socket = io(SERVER, { transports: ["websocket", "polling"] });
      this.#socket.on("connect", () => {
        this.#socket.emit("session_request", {
          session_id: localStorage.getItem(STORAGE_KEY), locale: navigator.language });
      });
      this.#socket.on("session_confirm", (sessionId) => {
        this.#sessionId = typeof sessionId === "string" ? sessionId : sessionId.session_id;
        localStorage.setItem(STORAGE_KEY, this.#sessionId);
      });
      this.#socket.on("crossdesk:history", (history) => {
        this.#log.replaceChildren();
        for (const m of history.messages || []) this.#render(m.sender, m.text, null);
      });
      this.#socket.on("bot_uttered", (m) => this.#render("bot", m.text, m.quick_replies));
    }

    #render(sender, text, quickReplies) {
      if (text) this.#log.append(this.#el("div", "msg " + (sender === "shopper" ? "shopper" : "bot"), text));
      if (quickReplies && quickReplies.length) {
        const row = this.#el("div", "replies");
        for (const reply of quickReplies) {
          const button = this.#el("button", "", reply.title);
          button.addEventListener("click", () => { row.remove(); this.send(reply.payload, reply.title); });
          row.append(button);
        }
        this.#log.append(row);
      }
      this.#log.scrollTop = this.#log.scrollHeight;
    }

    send(message, shown) {
      const text = (message || "").trim();
      if (!text || !this.#socket) return;
      this.#render("shopper", shown || text, null);
      this.#socket.emit("user_uttered", {
        message: text, session_id: this.#sessionId,
        message_id: Date.now().toString(36) + Math.random().toString(36).slice(2, 8),
        metadata: { locale: navigator.language, page: location.pathname } });
      this.#input.value = "";
    }
  }

  const host = document.createElement("div");
  host.id = "crossdesk-widget";
  function start() {
    document.body.appendChild(host);
    const widget = new CrossdeskWidget(host);
    window.Crossdesk = { widget: widget };
    widget.connect();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
