/*
 * Crossdesk agent console. Vanilla JS; talks to /api (HTTP) and the /agent
 * Socket.IO namespace, both authenticated by the HttpOnly session cookie the
 * login sets (this script never sees or stores the token: docs/security.md).
 * Every text that comes from shoppers (and from the server in general) is
 * rendered with textContent, never as HTML.
 */
(function () {
  "use strict";

  const OLD_TOKEN_KEY = "crossdesk.console.token";  // where earlier versions kept the token; removed on start
  const PREFS_KEY = "crossdesk.console.prefs";
  const ACTIVE_KEY = "crossdesk.console.active";
  const OUTCOMES = ["resolved", "answered", "refund", "replacement", "escalated", "no_reply", "spam"];

  const I18N = {
    en: { appName: "Crossdesk console", username: "Username", password: "Password", login: "Log in",
      uiLanguage: "Console language", presence: "Availability", user: "User account", timeout: "The server did not answer. Try again.",
      back: "Back to the list", from: "From", to: "To",
      outcome_resolved: "Resolved", outcome_answered: "Answered", outcome_refund: "Refund", outcome_replacement: "Replacement",
      outcome_escalated: "Escalated", outcome_no_reply: "No reply", outcome_spam: "Spam",
      loginFailed: "Wrong username or password.", logout: "Log out", online: "Online", away: "Away",
      sound: "Sound", desktopNotifications: "Desktop alerts", queue: "Waiting", mine: "My conversations",
      history: "History", empty: "Claim a conversation from the queue (Alt+C).", claim: "Claim",
      waiting: "waiting {s}", shortcuts: "Alt+C claim next · Alt+N next conversation · Enter send · Shift+Enter new line",
      send: "Send", handback: "Hand back to bot", resolve: "Resolve", transfer: "Transfer to…",
      reply: "Reply to the shopper", canned: "Search the bot's answers…", reason: "Handoff reason",
      intents: "Recent intents", country: "Destination", order: "Order id", page: "Page", locale: "Browser locale", localTime: "Shopper's local time", attach: "Attach a file", attachFailed: "Not sent: {reason}",
      contact: "Contact", language: "Language", typing: "The shopper is typing…", claimed: "Another agent took it.",
      limit: "You already hold the maximum number of conversations.", newWaiting: "New conversation waiting",
      searchText: "Text in the conversation", anyLanguage: "Any language", anyOutcome: "Any outcome", search: "Search",
      date: "Date", firstMessage: "First message", outcome: "Outcome", messages: "Messages",
      exportJson: "Export JSON", exportText: "Export text", untranslated: "not translated ({error})",
      translation: "Translation", preview: "Translation the shopper will see (editable)", translate: "Translate",
      sendOriginal: "Send without translating", close: "Close", noResults: "No conversations found.",
      tooManyAttempts: "Too many failed logins. Try again in {s} s.", ended_logged_out: "You were logged out (in this or another tab).",
      ended_expired: "Your login expired. Please log in again.", ended_deactivated: "Your account was deactivated.",
      privacy: "Privacy", sessionId: "Session id", email: "E-mail", exportShopper: "Export shopper data",
      deleteShopper: "Delete all shopper data", shopperHint: "Give a session id or an e-mail address (every conversation where it was left).",
      confirmDelete: "Delete every conversation, message and contact of this shopper? This cannot be undone.",
      deleted: "Deleted {n} conversation(s).", nothingStored: "Nothing is stored for this shopper.",
      auditLog: "Audit log", agent: "Agent", action: "Action", target: "Target", details: "Details", when: "When",
      show: "Show", anyAction: "Any action", commandLine: "(command line)", noEntries: "No entries.",
      noTranslator: "Replies are not translated: no translator is configured and this shopper reads {language}. Write in their language.",
      translationFailed: "Translation failed ({error}): your reply will go out as written unless you change it here.",
      dashboard: "Dashboard", tickets: "Tickets", ticketAlerts: "Ticket alerts", team: "Team",
      offered_skill: "For your team: {skill}", offered_language: "In your language ({language})",
      offered_everyone: "Open to every agent", offered_translated: "Open to every agent · machine translation",
      sender_shopper: "Shopper", sender_bot: "Bot", sender_system: "System", sender_agent: "Agent",
      earlierReadOnly: "Earlier conversation of this customer (read-only)",
      reason_request_human: "Asked for a person", reason_delivery_problem: "Delivery problem",
      reason_product_question: "Product question", reason_fallback: "The bot did not understand twice",
      reason_out_of_scope: "Outside what the bot covers", reason_agent_disconnected: "Their agent went offline" },
    ja: { appName: "Crossdesk コンソール", username: "ユーザー名", password: "パスワード", login: "ログイン",
      uiLanguage: "表示言語", presence: "対応状況", user: "会員アカウント", timeout: "サーバーから応答がありません。もう一度お試しください。",
      back: "一覧に戻る", from: "開始日", to: "終了日",
      outcome_resolved: "解決", outcome_answered: "回答済み", outcome_refund: "返金", outcome_replacement: "交換",
      outcome_escalated: "エスカレーション", outcome_no_reply: "返信なし", outcome_spam: "スパム",
      loginFailed: "ユーザー名またはパスワードが違います。", logout: "ログアウト", online: "対応可能", away: "離席中",
      sound: "通知音", desktopNotifications: "デスクトップ通知", queue: "待機中", mine: "担当中の会話",
      history: "履歴", empty: "待機中の会話を引き受けてください（Alt+C）。", claim: "引き受ける",
      waiting: "{s} 待機", shortcuts: "Alt+C 次を引き受ける · Alt+N 次の会話 · Enter 送信 · Shift+Enter 改行",
      send: "送信", handback: "ボットに戻す", resolve: "解決済みにする", transfer: "転送先…",
      reply: "お客様への返信", canned: "ボットの回答を検索…", reason: "引き継ぎ理由",
      intents: "直近の意図", country: "配送先", order: "注文番号", page: "ページ", locale: "ブラウザの言語", localTime: "お客様の現地時刻", attach: "ファイルを添付", attachFailed: "送信できませんでした: {reason}",
      contact: "連絡先", language: "言語", typing: "お客様が入力中…", claimed: "他の担当者が引き受けました。",
      limit: "同時に担当できる会話数の上限です。", newWaiting: "新しい会話が待機中です",
      searchText: "会話内のテキスト", anyLanguage: "すべての言語", anyOutcome: "すべての結果", search: "検索",
      date: "日付", firstMessage: "最初のメッセージ", outcome: "結果", messages: "件数",
      exportJson: "JSON で書き出し", exportText: "テキストで書き出し", untranslated: "未翻訳（{error}）",
      translation: "翻訳", preview: "お客様に送られる翻訳（編集できます）", translate: "翻訳",
      sendOriginal: "翻訳せずに送信", close: "閉じる", noResults: "該当する会話はありません。",
      tooManyAttempts: "ログインの失敗が多すぎます。{s} 秒後にもう一度お試しください。", ended_logged_out: "ログアウトしました（このタブまたは別のタブで）。",
      ended_expired: "ログインの有効期限が切れました。もう一度ログインしてください。", ended_deactivated: "アカウントが無効化されました。",
      privacy: "プライバシー", sessionId: "セッション ID", email: "メールアドレス", exportShopper: "お客様データを書き出す",
      deleteShopper: "お客様データをすべて削除", shopperHint: "セッション ID かメールアドレス（残されたすべての会話が対象）を入力してください。",
      confirmDelete: "このお客様の会話・メッセージ・連絡先をすべて削除しますか？元に戻せません。",
      deleted: "{n} 件の会話を削除しました。", nothingStored: "このお客様のデータは保存されていません。",
      auditLog: "監査ログ", agent: "担当者", action: "操作", target: "対象", details: "詳細", when: "日時",
      show: "表示", anyAction: "すべての操作", commandLine: "（コマンドライン）", noEntries: "記録はありません。",
      noTranslator: "翻訳機能が設定されていないため、返信は翻訳されません（お客様の言語：{language}）。お客様の言語で入力してください。",
      translationFailed: "翻訳できませんでした（{error}）。ここで書き換えない限り、入力したとおりに送信されます。",
      dashboard: "ダッシュボード", tickets: "チケット", ticketAlerts: "チケットの通知", team: "チーム",
      offered_skill: "担当チーム: {skill}", offered_language: "対応言語（{language}）",
      offered_everyone: "全担当者に表示", offered_translated: "全担当者に表示 · 機械翻訳",
      sender_shopper: "お客様", sender_bot: "ボット", sender_system: "システム", sender_agent: "担当者",
      earlierReadOnly: "このお客様の過去の会話（閲覧のみ）",
      reason_request_human: "担当者との会話を希望", reason_delivery_problem: "配送のトラブル",
      reason_product_question: "商品についての質問", reason_fallback: "ボットが2回続けて理解できなかった",
      reason_out_of_scope: "ボットの対応範囲外", reason_agent_disconnected: "担当者がオフラインになった" },
  };
  if (window.CrossdeskI18n) window.CrossdeskI18n.extend(I18N, "console");  // zh-CN, zh-TW, ko, fr, de, es (i18n.js)

  const $ = (selector, root) => (root || document).querySelector(selector);
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function format(template, values) { return template.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : "")); }
  function clock(ts) { return new Date(ts * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
  /** "3 min 5 sec", "3 分 5 秒", "3 Min. 5 Sek.": a wait in the agent's console language (Intl units). */
  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const unit = (value, name) => {
      try { return new Intl.NumberFormat(prefs.lang, { style: "unit", unit: name, unitDisplay: "short" }).format(value); }
      catch (_) { return `${value} ${name}`; }
    };
    return s < 60 ? unit(s, "second") : s < 3600 ? `${unit(Math.floor(s / 60), "minute")} ${unit(s % 60, "second")}`
      : `${unit(Math.floor(s / 3600), "hour")} ${unit(Math.floor(s / 60) % 60, "minute")}`;
  }
  /** Who wrote a message, in the agent's language: the agent's name, else "Shopper", "Bot", "System". */
  function senderName(message) {
    if (message.sender === "agent") return message.name || t("sender_agent");
    return ["shopper", "bot", "system"].includes(message.sender) ? t("sender_" + message.sender) : String(message.sender || "");
  }
  /** Whether the logged-in agent reads a language (fr-CA as fr; zh-TW is not zh-CN, as in handoff/routing.py). */
  function speaks(language) {
    const base = (code) => (String(code).toLowerCase().startsWith("zh") ? String(code) : String(code).split("-")[0].toLowerCase());
    return Boolean(language) && ((session.agent && session.agent.languages) || []).some((code) => base(code) === base(language));
  }
  /** Why a waiting conversation is offered to me: my team's skill, my language, or everyone (routing stage). */
  function routeText(entry) {
    if (entry.offered === "skill" && entry.skill) return t("offered_skill", { skill: entry.skill });
    if (entry.offered === "language") return t("offered_language", { language: entry.language || "?" });
    if (entry.offered === "everyone") return speaks(entry.language) ? t("offered_everyone") : t("offered_translated");
    return "";
  }
  /** A thumbnail linking to the file (an image) or a link with its name (a PDF); agents need no key. */
  function fileLink(file) {
    const base = "/api/attachments/" + encodeURIComponent(file.id);
    const link = el("a", "file");
    link.href = base;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    if (String(file.content_type || "").startsWith("image/")) {
      const image = el("img");
      image.src = base + "/thumbnail";
      image.alt = String(file.filename || "");
      link.append(image);
    } else {
      link.textContent = "📄 " + String(file.filename || "");
    }
    return link;
  }

  /** "Mon 14:05 (Asia/Tokyo)": now on the shopper's clock, or "" for an unknown zone. */
  function shopperLocalTime(zone) {
    if (typeof zone !== "string" || !zone) return "";
    try {
      const now = new Intl.DateTimeFormat(prefs.lang, { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit" });
      return `${now.format(new Date())} (${zone})`;
    } catch (error) {
      return "";
    }
  }
  /** The console language the agent's browser asks for (English when none of ours fits). */
  function browserLanguage() {
    const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    if (window.CrossdeskI18n) return window.CrossdeskI18n.pick(wanted);
    return (navigator.language || "en").startsWith("ja") ? "ja" : "en";
  }
  function newId() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }

  const prefs = Object.assign({ lang: browserLanguage(), sound: false, desktop: false },
    JSON.parse(localStorage.getItem(PREFS_KEY) || "{}"));
  if (!I18N[prefs.lang]) prefs.lang = "en";  // a choice saved by a build that knew other languages
  function savePrefs() { localStorage.setItem(PREFS_KEY, JSON.stringify(prefs)); }
  function t(key, values) { return format((I18N[prefs.lang] || I18N.en)[key] || I18N.en[key] || key, values || {}); }

  /** An outcome's name in the console language (an outcome this build does not know: as stored). */
  function outcomeName(name) { return I18N.en["outcome_" + name] ? t("outcome_" + name) : name; }
  /** A handoff reason in the agent's language ("request_human" → "Asked for a person"); unknown ones as they are. */
  function reasonName(name) { return name && I18N.en["reason_" + name] ? t("reason_" + name) : name || ""; }

  function applyStrings() {
    document.documentElement.lang = prefs.lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => { node.placeholder = t(node.dataset.i18nPlaceholder); });
    document.querySelectorAll("[data-i18n-label]").forEach((node) => { node.setAttribute("aria-label", t(node.dataset.i18nLabel)); });
  }

  /**
   * On a phone (console.css, max-width 700px) one pane fills the screen: "list" (queue and my
   * conversations) or "workspace" (a conversation, history, tickets...); wider screens show both.
   */
  function showPane(pane) {
    $("#app").dataset.pane = pane;
    if (pane === "list") {
      const back = $("#mine li.active") || $("#queue button.claim") || $("#presence");
      if (back && back.offsetParent !== null) back.focus();
    }
  }

  function toast(message) {
    const box = $("#toast");
    box.textContent = message;
    box.classList.add("on");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => box.classList.remove("on"), 4000);
  }

  /* -- HTTP API -------------------------------------------------------------- */
  const api = {
    async call(path, options) {
      const response = await fetch(path, { ...(options || {}), credentials: "same-origin",
        headers: { "Content-Type": "application/json" } });
      if (response.status === 401) { session.loggedOut(session.agent ? "expired" : null); throw new Error("unauthorized"); }
      return response;
    },
    async json(path) { return (await this.call(path)).json(); },
  };

  /* -- session: login, logout, reload ---------------------------------------- */
  const session = {
    agent: null,
    async start() {
      applyStrings();
      localStorage.removeItem(OLD_TOKEN_KEY);
      try { this.agent = await api.json("/api/me"); } catch (_) { return; }
      this.showApp();
    },
    showLogin() {
      $("#app").hidden = true;
      $("#login").hidden = false;
      $("#login-form [name=username]").focus();
    },
    showApp() {
      if (this.agent.role === "content") { location.assign("/studio"); return; }  // content staff work in the studio
      $("#login").hidden = true;
      $("#app").hidden = false;
      $("#me-name").textContent = this.agent.display_name;
      $("#show-admin").hidden = this.agent.role !== "admin";
      $("#show-dashboard").hidden = this.agent.role !== "admin";
      $("#show-team").hidden = this.agent.role !== "admin";
      desk.connect();
    },
    async login(event) {
      event.preventDefault();
      const form = event.target;
      const response = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: form.username.value, password: form.password.value }) });
      if (response.status === 429) {
        $("#login-error").textContent = t("tooManyAttempts", { s: response.headers.get("Retry-After") || "60" });
        return;
      }
      if (!response.ok) { $("#login-error").textContent = t("loginFailed"); return; }
      const body = await response.json();
      form.password.value = "";
      $("#login-error").textContent = "";
      this.agent = body.agent;
      this.showApp();
    },
    async logout() {
      try { await api.call("/api/logout", { method: "POST" }); } catch (_) { /* already gone */ }
      this.loggedOut();
    },
    /** Back to the login screen; ``reason`` (logged_out, expired, deactivated) is shown there. */
    loggedOut(reason) {
      this.agent = null;
      desk.disconnect();
      this.showLogin();
      if (reason && I18N.en["ended_" + reason]) $("#login-error").textContent = t("ended_" + reason);
    },
  };

  /* -- notifications ----------------------------------------------------------- */
  const alerts = {
    seen: new Set(),
    queueChanged(queue) {
      const fresh = queue.filter((entry) => !this.seen.has(entry.conversation_id));
      queue.forEach((entry) => this.seen.add(entry.conversation_id));
      document.title = (queue.length ? `(${queue.length}) ` : "") + t("appName");
      const badge = $("#queue-badge");
      badge.textContent = String(queue.length);
      badge.classList.toggle("zero", !queue.length);
      if (!fresh.length || desk.status === "away") return;
      if (prefs.sound) this.beep();
      if (prefs.desktop && window.Notification && Notification.permission === "granted") {
        new Notification(t("newWaiting"), { body: fresh[0].last_message || "", tag: fresh[0].conversation_id });
      }
    },
    beep() {
      try {
        const audio = new AudioContext();
        const tone = audio.createOscillator();
        tone.frequency.value = 880;
        tone.connect(audio.destination);
        tone.start();
        tone.stop(audio.currentTime + 0.15);
      } catch (_) { /* no audio */ }
    },
  };

  /* -- one open conversation ------------------------------------------------------ */
  class ConversationView {
    constructor(bundle) {
      this.id = bundle.conversation_id;
      this.root = el("section", "conversation");
      this.root.dataset.id = this.id;
      this.root.hidden = true;
      this.header = el("header");
      this.transcript = el("div", "transcript");
      this.transcript.setAttribute("role", "log");
      this.transcript.setAttribute("aria-live", "polite");
      this.context = el("aside", "context");
      this.typing = el("div", "typing");
      this.root.append(this.header, this.transcript, this.typing, this.replyBox(), this.context);
      this.desk = window.CrossdeskNotes ? window.CrossdeskNotes.attach(this, { request: (path, options) => api.call(path, options),
        agent: session.agent, outcomeName, openConversation: (id, path) => { history.show(); history.open(id, path); } }) : null;  // notes.js
      this.update(bundle);
    }

    update(bundle) {
      this.bundle = bundle;
      this.renderHeader();
      this.renderContext();
      this.transcript.replaceChildren();
      this.seenIds = new Set();
      bundle.transcript.forEach((message) => this.add(message));
      this.renderTranslationWarning();
      this.loadCanned();
      if (this.desk) this.desk.load();
    }

    /** Says so when replies will reach a shopper who reads another language exactly as typed. */
    renderTranslationWarning() {
      const mine = (session.agent && session.agent.languages) || [];
      const language = this.bundle.language;
      const untranslated = Boolean(language && !mine.includes(language) && !desk.translator);
      this.translationWarning.hidden = !untranslated;
      this.translationWarning.textContent = untranslated ? t("noTranslator", { language }) : "";
    }

    renderHeader() {
      const b = this.bundle;
      const title = el("h2", "", `${b.language || "?"} · ${this.id.slice(0, 8)}`);
      const handback = el("button", "handback", t("handback"));
      handback.type = "button";
      handback.addEventListener("click", () => desk.finish("handback", this.id));
      const outcome = el("select", "outcome");
      outcome.setAttribute("aria-label", t("outcome"));
      OUTCOMES.forEach((name) => { const o = el("option", "", t("outcome_" + name)); o.value = name; outcome.append(o); });
      const resolve = el("button", "resolve primary", t("resolve"));
      resolve.type = "button";
      resolve.addEventListener("click", () => desk.finish("resolve", this.id, { outcome: outcome.value }));
      this.transferSelect = el("select", "transfer");
      this.transferSelect.setAttribute("aria-label", t("transfer"));
      this.transferSelect.addEventListener("change", () => {
        const target = Number(this.transferSelect.value);
        if (target) desk.transfer(this.id, target);
        this.transferSelect.value = "";
      });
      this.header.replaceChildren(title, handback, outcome, resolve, this.transferSelect);
      if (window.CrossdeskTickets) this.header.append(window.CrossdeskTickets.followUpButton(this.id, toast));
      this.renderAgents(desk.agents);
    }

    renderAgents(agents) {
      if (!this.transferSelect) return;
      const first = el("option", "", t("transfer"));
      first.value = "";
      this.transferSelect.replaceChildren(first);
      for (const agent of agents || []) {
        if (session.agent && agent.id === session.agent.id) continue;
        const option = el("option", "", `${agent.display_name} (${agent.languages.join(", ")}) · ${t(agent.status === "away" ? "away" : "online")} · ${agent.load}`);
        option.value = String(agent.id);
        this.transferSelect.append(option);
      }
    }

    renderContext() {
      clearTimeout(this.contextTimer);  // the shopper's clock moves on: redrawn every minute
      this.contextTimer = setTimeout(() => { if (this.bundle) this.renderContext(); }, 60000);
      const b = this.bundle;
      const list = el("dl");
      const item = (label, value) => {
        if (value === undefined || value === null || value === "") return;
        list.append(el("dt", "", label), el("dd", "", value));
      };
      item(t("reason"), reasonName(b.reason));
      item(t("language"), b.language);
      item(t("country"), b.slots && b.slots.country);
      item(t("order"), b.slots && b.slots.order_id);
      item(t("page"), b.context && b.context.page);
      item(t("locale"), b.context && b.context.locale);
      item(t("localTime"), shopperLocalTime(b.context && b.context.timezone));
      const contact = b.context && b.context.contact;
      if (contact) item(t("contact"), contact.name ? `${contact.name} <${contact.email}>` : contact.email);
      const user = b.context && b.context.user;
      if (user) item(t("user"), [user.name, user.email, user.id].filter(Boolean).join(" · "));
      if (b.recent_intents && b.recent_intents.length) {
        list.append(el("dt", "", t("intents")));
        for (const intent of b.recent_intents.slice().reverse()) {
          const confidence = typeof intent.confidence === "number" ? ` ${(intent.confidence * 100).toFixed(0)}%` : "";
          list.append(el("dd", "intent", `${intent.intent}${confidence} — ${intent.text}`));
        }
      }
      this.context.replaceChildren(list, ...(this.desk ? [this.desk.root] : []));
    }

    add(message) {
      if (message.id !== undefined && this.seenIds.has(message.id)) return;
      this.seenIds.add(message.id);
      const node = el("div", "msg " + (["shopper", "bot", "agent", "system"].includes(message.sender) ? message.sender : "bot"));
      node.dataset.id = String(message.id);
      const meta = el("div", "meta");
      meta.append(el("span", "who", senderName(message)),
        el("span", "tag", message.language || ""), el("time", "", clock(message.ts || Date.now() / 1000)));
      node.append(meta, this.body(message));
      const nearBottom = this.transcript.scrollHeight - this.transcript.scrollTop - this.transcript.clientHeight < 80;
      this.transcript.append(node);
      if (nearBottom) this.transcript.scrollTop = this.transcript.scrollHeight;
    }

    /** The text, or original and translation side by side when they differ. */
    body(message) {
      const translation = message.translation;
      if (translation && translation.translated && translation.text !== message.text) {
        const pair = el("div", "pair");
        const original = el("div", "original", message.text);
        original.dir = "auto";
        const translated = el("div", "translated", translation.text);
        translated.lang = translation.language || "";
        pair.append(original, translated);
        return pair;
      }
      const wrap = el("div");
      if (message.file && typeof message.file.id === "string") {  // a photo or PDF: served to logged-in agents
        wrap.append(fileLink(message.file));
        return wrap;
      }
      const text = el("div", "text", message.text);
      text.dir = "auto";
      wrap.append(text);
      if (translation && !translation.translated && translation.error && !["same_language", "disabled"].includes(translation.error)) {
        wrap.append(el("div", "untranslated", t("untranslated", { error: translation.error })));
      }
      return wrap;
    }

    setTranslation(messageId, translation) {
      const message = this.bundle.transcript.find((m) => m.id === messageId);
      if (!message) return;
      message.translation = translation;
      const node = this.transcript.querySelector(`[data-id="${messageId}"]`);
      if (node) node.replaceChild(this.body(message), node.lastChild);
    }

    replyBox() {
      const box = el("div", "reply");
      this.cannedSearch = el("input", "canned-search");
      this.cannedSearch.placeholder = t("canned");
      this.cannedSearch.setAttribute("aria-label", t("canned"));
      this.cannedList = el("div", "canned");
      this.cannedSearch.addEventListener("input", () => this.renderCanned());
      this.input = el("textarea", "reply-text");
      this.input.maxLength = 2000;
      this.input.setAttribute("aria-label", t("reply"));
      this.input.placeholder = t("reply");
      this.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); this.submit(); }
      });
      this.input.addEventListener("input", () => desk.typing(this.id, this.input.value.trim() !== ""));
      this.preview = el("textarea", "preview");
      this.preview.hidden = true;
      this.preview.setAttribute("aria-label", t("preview"));
      this.previewNote = el("div", "muted", "");
      this.translationWarning = el("div", "translation-warning");
      this.translationWarning.setAttribute("role", "status");
      const send = el("button", "send primary", t("send"));
      this.sendButton = send;
      send.type = "button";
      send.addEventListener("click", () => this.submit());
      const row = el("div", "row");
      const attach = el("button", "attach", t("attach"));
      this.attachButton = attach;
      attach.type = "button";
      const picker = el("input");
      picker.type = "file";
      picker.accept = "image/jpeg,image/png,image/webp,application/pdf";
      picker.hidden = true;
      attach.addEventListener("click", () => picker.click());
      picker.addEventListener("change", () => { if (picker.files[0]) this.attach(picker.files[0]); picker.value = ""; });
      row.append(send, attach, picker, this.previewNote);
      box.append(this.translationWarning, this.cannedSearch, this.cannedList, this.input, this.preview, row);
      return box;
    }

    /** Redraws this view's own labels in the console language the agent just picked (the transcript stays). */
    relabel() {
      this.renderHeader();
      this.renderContext();
      this.renderTranslationWarning();
      this.sendButton.textContent = t("send");
      this.attachButton.textContent = t("attach");
      this.cannedSearch.placeholder = t("canned");
      this.cannedSearch.setAttribute("aria-label", t("canned"));
      this.input.placeholder = t("reply");
      this.input.setAttribute("aria-label", t("reply"));
      this.preview.setAttribute("aria-label", t("preview"));
    }

    /** Send a photo or PDF to the shopper (``POST /api/attachments``, the session cookie authorises it). */
    async attach(file) {
      const form = new FormData();
      form.append("conversation_id", this.id);
      form.append("file", file, file.name);
      const answer = await fetch("/api/attachments", { method: "POST", body: form, credentials: "same-origin" });
      const body = await answer.json().catch(() => ({}));
      if (!answer.ok) { toast(t("attachFailed", { reason: body.message || answer.status })); return; }
      this.add({ id: body.id, sender: "agent", name: session.agent && session.agent.display_name, text: body.file.filename,
        file: body.file, language: this.bundle.language, ts: Date.now() / 1000 });
    }

    /** The bot's answers for this conversation's language and destination; the server ranks a query's matches. */
    async fetchCanned(query) {
      const params = new URLSearchParams({ language: this.bundle.language || "en", conversation_id: this.id });
      if (query) params.set("q", query);
      try { return (await api.json("/api/canned?" + params)).answers || []; } catch (_) { return []; }
    }

    loadCanned() { this.renderCanned(); }

    renderCanned() {
      const query = this.cannedSearch.value.trim();
      clearTimeout(this.cannedTimer);
      if (!query) { this.cannedList.replaceChildren(); return; }
      this.cannedTimer = setTimeout(async () => {
        const answers = await this.fetchCanned(query);
        if (this.cannedSearch.value.trim() !== query) return;  // the agent typed on: a newer search follows
        this.cannedList.replaceChildren();
        for (const answer of answers.slice(0, 8)) {
          const button = el("button", "", answer.text);
          button.type = "button";
          button.addEventListener("click", () => {
            this.input.value = answer.text;
            this.cannedSearch.value = "";
            this.renderCanned();
            this.input.focus();
          });
          this.cannedList.append(button);
        }
      }, 120);
    }

    needsTranslation() {
      const mine = (session.agent && session.agent.languages) || [];
      return this.bundle.language && !mine.includes(this.bundle.language) && desk.translator;
    }

    /** Enter: translate into the shopper's language first (preview), Enter again sends. */
    async submit() {
      const text = this.input.value.trim();
      if (!text) return;
      if (this.needsTranslation() && this.preview.hidden) {
        const ack = await desk.request("translate", { conversation_id: this.id, text });
        const translation = ack && ack.translation;
        this.preview.hidden = false;
        this.preview.value = translation ? translation.text : text;
        const failed = !(translation && translation.translated);
        this.previewNote.textContent = failed ? t("translationFailed", { error: (translation && translation.error) || "error" })
          : t("preview");
        this.previewNote.classList.toggle("translation-warning", failed);
        this.preview.focus();
        this.preview.onkeydown = (event) => {
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); this.submit(); }
        };
        return;
      }
      const payload = { conversation_id: this.id, text, message_id: newId() };
      if (!this.preview.hidden) {
        payload.text = this.preview.value.trim() || text;
        payload.original = text;
      }
      const ack = await desk.request("send", payload);
      if (!ack || !ack.ok) return;
      this.add({ id: ack.id, sender: "agent", name: session.agent.display_name, text: payload.text,
        language: this.bundle.language, ts: Date.now() / 1000,
        translation: payload.original ? { text: payload.original, translated: true, language: session.agent.languages[0] } : null });
      this.input.value = "";
      desk.typing(this.id, false);
      this.preview.value = "";
      this.preview.hidden = true;
      this.previewNote.textContent = "";
      this.previewNote.classList.remove("translation-warning");
      this.input.focus();
    }
  }

  /* -- the desk: socket, queue, open conversations ------------------------------------- */
  const desk = {
    socket: null, queue: [], open: new Map(), active: null, agents: [], status: "online", translator: false,
    typingAt: new Map(),

    connect() {
      if (this.socket) return;
      this.socket = io("/agent", { transports: ["websocket", "polling"] });  // the session cookie authenticates it
      this.socket.on("connect_error", (error) => { if (/unauthorized/.test(error.message)) session.loggedOut("expired"); });
      this.socket.on("agent:hello", (hello) => this.hello(hello));
      this.socket.on("agent:queue", (data) => this.setQueue(data.queue));
      this.socket.on("agent:agents", (data) => this.setAgents(data.agents));
      this.socket.on("agent:shopper_message", (data) => this.shopperMessage(data));
      this.socket.on("agent:shopper_typing", (data) => this.shopperTyping(data));
      this.socket.on("agent:translation", (data) => this.translation(data));
      this.socket.on("agent:assigned", (data) => this.openConversation(data.conversation, true));
      if (window.CrossdeskTickets) {  // ticket changes, escalations, the follow-up button
        window.CrossdeskTickets.setRequest((path, options) => api.call(path, options));
        window.CrossdeskTickets.setLanguage(prefs.lang);
        window.CrossdeskTickets.listen(this.socket);
      }
      this.socket.on("crossdesk:error", (error) => {
        // The server then disconnects us; the refusal of an event (no reason) is followed by the one with a reason.
        if (error.code === "session_ended") { if (error.reason) session.loggedOut(error.reason); }
        else toast(error.message || error.code);
      });
      this.tick = setInterval(() => this.renderQueue(), 1000);
    },

    disconnect() {
      if (this.socket) this.socket.disconnect();
      this.socket = null;
      clearInterval(this.tick);
      this.open.clear();
      $("#conversations").replaceChildren();
      $("#mine").replaceChildren();
    },

    hello(hello) {
      this.translator = Boolean(hello.translator);
      this.status = hello.status || "online";
      $("#presence").value = this.status;
      this.setQueue(hello.queue);
      for (const bundle of hello.conversations) this.openConversation(bundle, false);
      const last = sessionStorage.getItem(ACTIVE_KEY);  // after a reload, back where the agent was
      if (last && this.open.has(last)) this.show(last);
    },

    request(event, payload) {
      return new Promise((resolve) => {
        if (!this.socket) return resolve(null);
        this.socket.timeout(10000).emit(event, payload, (error, ack) => {
          if (error) { toast(t("timeout")); return resolve(null); }
          if (ack && ack.ok === false && ack.error === "session_ended") return resolve(ack);  // crossdesk:error says why
          if (ack && ack.ok === false) toast(ack.error === "already_claimed" ? t("claimed") : ack.error === "limit_reached" ? t("limit") : ack.message);
          resolve(ack);
        });
      });
    },

    setQueue(queue) {
      this.queue = queue.map((entry) => ({ ...entry, seenAt: Date.now() }));
      alerts.queueChanged(queue);
      this.renderQueue();
    },

    /** Updates the queue list in place (a Claim button never disappears under the agent's pointer). */
    renderQueue() {
      const list = $("#queue");
      const items = new Map([...list.children].map((item) => [item.dataset.id, item]));
      const ids = new Set(this.queue.map((entry) => entry.conversation_id));
      for (const [id, item] of items) if (!ids.has(id)) item.remove();
      this.queue.forEach((entry, index) => {
        let item = items.get(entry.conversation_id);
        if (!item) item = this.queueItem(entry);
        const waited = entry.waiting_seconds + (Date.now() - entry.seenAt) / 1000;
        item.querySelector(".tag").textContent = entry.language || "?";
        item.querySelector(".reason").textContent = reasonName(entry.reason);
        item.querySelector(".wait").textContent = t("waiting", { s: duration(waited) });
        item.querySelector(".route").textContent = routeText(entry);
        item.dataset.offered = entry.offered || "";
        item.querySelector(".last").textContent = entry.last_message || "";
        item.querySelector(".claim").textContent = t("claim");
        if (list.children[index] !== item) list.insertBefore(item, list.children[index] || null);
      });
    },

    queueItem(entry) {
      const item = el("li");
      item.dataset.id = entry.conversation_id;
      const row = el("div", "row");
      row.append(el("span", "tag"), el("span", "reason"), el("span", "wait"));
      const claim = el("button", "claim");
      claim.type = "button";
      claim.addEventListener("click", () => this.claim(entry.conversation_id));
      item.append(row, el("div", "route"), el("div", "last"), claim);
      return item;
    },

    async claim(conversationId) {
      const ack = await this.request("claim", { conversation_id: conversationId });
      if (ack && ack.ok) this.openConversation(ack.conversation, true);
    },

    claimNext() { if (this.queue.length) this.claim(this.queue[0].conversation_id); },

    openConversation(bundle, focus) {
      let view = this.open.get(bundle.conversation_id);
      if (view) view.update(bundle);
      else {
        view = new ConversationView(bundle);
        this.open.set(bundle.conversation_id, view);
        $("#conversations").append(view.root);
      }
      this.renderMine();
      if (focus || !this.active) this.show(bundle.conversation_id);
    },

    renderMine() {
      const list = $("#mine");
      list.replaceChildren();
      for (const [id, view] of this.open) {
        const item = el("li", id === this.active ? "active" : "");
        if (view.unread) item.classList.add("unread");
        item.dataset.id = id;
        item.tabIndex = 0;
        const last = view.bundle.transcript.filter((m) => m.sender === "shopper").pop();
        const row = el("div", "row");
        row.append(el("span", "tag", view.bundle.language || "?"), el("span", "", id.slice(0, 8)));
        item.append(row, el("div", "last", last ? last.text : ""));
        item.addEventListener("click", () => this.show(id));
        item.addEventListener("keydown", (event) => { if (event.key === "Enter") this.show(id); });
        list.append(item);
      }
      $("#empty").hidden = this.open.size > 0 || !$("#history").hidden || !$("#admin").hidden || !$("#dashboard").hidden || !$("#tickets").hidden;
    },

    show(id) {
      $("#history").hidden = true;
      $("#admin").hidden = true;
      $("#dashboard").hidden = true;
      tickets.hide();
      showPane("workspace");
      this.active = id;
      sessionStorage.setItem(ACTIVE_KEY, id);
      for (const [key, view] of this.open) view.root.hidden = key !== id;
      const view = this.open.get(id);
      if (view) { view.unread = false; view.input.focus(); view.transcript.scrollTop = view.transcript.scrollHeight; }
      this.renderMine();
    },

    next() {
      const ids = [...this.open.keys()];
      if (!ids.length) return;
      this.show(ids[(ids.indexOf(this.active) + 1) % ids.length]);
    },

    close(id) {
      const view = this.open.get(id);
      if (view) view.root.remove();
      this.open.delete(id);
      if (this.active === id) { this.active = null; const first = this.open.keys().next().value; if (first) this.show(first); else showPane("list"); }
      this.renderMine();
    },

    async finish(event, id, extra) {
      const ack = await this.request(event, { conversation_id: id, ...(extra || {}) });
      if (ack && ack.ok) this.close(id);
    },

    async transfer(id, agentId) {
      const ack = await this.request("transfer", { conversation_id: id, agent_id: agentId });
      if (ack && ack.ok) this.close(id);
    },

    setAgents(agents) {
      this.agents = agents;
      for (const view of this.open.values()) view.renderAgents(agents);
    },

    shopperMessage(data) {
      const view = this.open.get(data.conversation_id);
      if (!view) return;
      view.bundle.transcript.push(data.message);
      view.add(data.message);
      view.typing.textContent = "";
      if (this.active !== data.conversation_id || document.hidden) {
        view.unread = true;
        if (prefs.sound) alerts.beep();
      }
      this.renderMine();
    },

    shopperTyping(data) {
      const view = this.open.get(data.conversation_id);
      if (view) view.typing.textContent = data.typing ? t("typing") : "";
    },

    translation(data) {
      const view = this.open.get(data.conversation_id);
      if (view) view.setTranslation(data.message_id, data.translation);
    },

    /** ``typing: true`` at most every 2 s while the agent types; ``false`` at once when the box is cleared or sent. */
    typing(id, typing) {
      if (!this.socket) return;
      const now = Date.now();
      const last = this.typingAt.get(id);
      if (typing) {
        if (last && now - last < 2000) return;
        this.typingAt.set(id, now);
      } else {
        if (!last) return;  // nothing said yet: nothing to take back
        this.typingAt.delete(id);
      }
      this.socket.emit("typing", { conversation_id: id, typing });
    },

    setPresence(status) {
      this.status = status;
      this.request("presence", { status });
    },
  };

  /* -- history ------------------------------------------------------------------------ */
  const history = {
    show() {
      $("#admin").hidden = true;
      $("#history").hidden = false;
      $("#dashboard").hidden = true;
      showPane("workspace");
      tickets.hide();
      for (const view of desk.open.values()) view.root.hidden = true;
      desk.active = null;
      desk.renderMine();
      $("#search [name=q]").focus();
    },
    async search(event) {
      event.preventDefault();
      const params = new URLSearchParams();
      for (const [key, value] of new FormData(event.target)) if (value) params.set(key, value);
      const body = await api.json("/api/conversations?" + params);
      const rows = $("#results");
      rows.replaceChildren();
      if (!body.conversations.length) {
        const row = el("tr");
        const cell = el("td", "muted", t("noResults"));
        cell.colSpan = 6;
        row.append(cell);
        rows.append(row);
      }
      for (const c of body.conversations) {
        const row = el("tr");
        row.tabIndex = 0;
        row.dataset.id = c.conversation_id;
        for (const value of [new Date(c.created_at * 1000).toLocaleString(), c.language || "?", c.first_message || "",
          c.outcome ? outcomeName(c.outcome) : c.state, c.messages, (c.tags || []).join(", ")]) row.append(el("td", "", value));
        row.addEventListener("click", () => this.open(c.conversation_id));
        row.addEventListener("keydown", (e) => { if (e.key === "Enter") this.open(c.conversation_id); });
        rows.append(row);
      }
    },
    /** Shows a transcript; ``path``: where to read it (a verified customer's earlier conversation: read-only). */
    async open(id, path) {
      const response = await api.call(path || "/api/conversations/" + encodeURIComponent(id));
      const bundle = await response.json().catch(() => ({}));
      if (!response.ok) { toast(bundle.message || String(response.status)); return; }
      const viewer = $("#viewer");
      const transcript = el("div", "transcript");
      for (const m of bundle.transcript) {
        const node = el("div", "msg " + m.sender);
        const meta = el("div", "meta");
        meta.append(el("span", "who", senderName(m)), el("time", "", new Date(m.ts * 1000).toLocaleString(prefs.lang)));
        node.append(meta, el("div", "text", m.text));
        transcript.append(node);
      }
      const actions = el("div", "row");
      for (const [format, label] of [["json", t("exportJson")], ["text", t("exportText")]]) {
        const button = el("button", "export-" + format, label);
        button.type = "button";
        button.addEventListener("click", () => this.download(id, format));
        actions.append(button);
      }
      if (bundle.read_only) {  // (no export: the agent reads it for context; tags only, notes stay with whoever held it)
        viewer.replaceChildren(el("h3", "", t("earlierReadOnly")), el("p", "muted", `${id} · ${(bundle.tags || []).join(", ")}`), transcript);
        return;
      }
      viewer.replaceChildren(el("h3", "", id), actions, transcript);
      if (window.CrossdeskNotes) viewer.append(window.CrossdeskNotes.summary(id));  // its tags and private notes
    },
    async download(id, format) {
      const response = await api.call(`/api/conversations/${encodeURIComponent(id)}/export?format=${format}`);
      const blob = await response.blob();
      const link = el("a");
      link.href = URL.createObjectURL(blob);
      link.download = `crossdesk-${id}.${format === "json" ? "json" : "txt"}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    },
  };

  /* -- privacy (admins): shopper export and erasure, the audit log -------------------------- */
  const admin = {
    show() {
      $("#history").hidden = true;
      $("#dashboard").hidden = true;
      tickets.hide();
      $("#admin").hidden = false;
      showPane("workspace");
      for (const view of desk.open.values()) view.root.hidden = true;
      desk.active = null;
      desk.renderMine();
      this.audit();
    },
    query() {
      const form = $("#shopper-form");
      const params = new URLSearchParams();
      if (form.session.value.trim()) params.set("session", form.session.value.trim());
      else if (form.email.value.trim()) params.set("email", form.email.value.trim());
      return params;
    },
    async result(response, onOk) {
      const body = (response.headers.get("content-type") || "").includes("json") ? await response.clone().json() : {};
      const box = $("#shopper-result");
      if (response.status === 404) box.textContent = t("nothingStored");
      else if (!response.ok) box.textContent = body.message || String(response.status);
      else box.textContent = await onOk(body);
      this.audit();
    },
    async exportShopper(event) {
      event.preventDefault();
      const params = this.query();
      const response = await api.call("/api/admin/shoppers/export?" + params);
      await this.result(response, async () => {
        const link = el("a");
        link.href = URL.createObjectURL(await response.blob());
        link.download = `crossdesk-shopper-${params.get("session") || "email"}.json`;
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(link.href), 1000);
        return "";
      });
    },
    async deleteShopper() {
      const params = this.query();
      if (![...params.keys()].length || !window.confirm(t("confirmDelete"))) return;
      const response = await api.call("/api/admin/shoppers?" + params, { method: "DELETE" });
      await this.result(response, async (body) => t("deleted", { n: body.conversations.length }));
    },
    async audit(event) {
      if (event) event.preventDefault();
      const params = new URLSearchParams({ limit: "200" });
      for (const [key, value] of new FormData($("#audit-form"))) if (value) params.set(key, value);
      const response = await api.call("/api/admin/audit?" + params);
      const body = await response.json();
      const rows = $("#audit");
      rows.replaceChildren();
      if (!response.ok) { rows.append(el("tr", "", body.message)); return; }
      if (!body.entries.length) rows.append(el("tr", "muted", t("noEntries")));
      for (const e of body.entries) {
        const row = el("tr");
        for (const value of [new Date(e.created_at * 1000).toLocaleString(), e.agent || t("commandLine"), e.action,
          e.target || "", this.details(e.details)]) row.append(el("td", "", value));
        rows.append(row);
      }
    },
    details(details) {
      return Object.entries(details).filter(([key]) => key !== "process")
        .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`).join(" · ");
    },
  };

  /* -- KPI dashboard (admins; dashboard.js) --------------------------------------------- */
  const dashboard = {
    show() {
      $("#history").hidden = true;
      $("#admin").hidden = true;
      for (const view of desk.open.values()) view.root.hidden = true;
      desk.active = null;
      tickets.hide();
      showPane("workspace");
      window.CrossdeskDashboard.open({ request: (path) => api.call(path), lang: prefs.lang });  // shows #dashboard at once
      desk.renderMine();
    },
  };

  /* -- tickets (tickets.js) --------------------------------------------------------------- */
  const tickets = {
    show() {
      $("#history").hidden = true;
      $("#admin").hidden = true;
      $("#dashboard").hidden = true;
      for (const view of desk.open.values()) view.root.hidden = true;
      desk.active = null;
      showPane("workspace");
      window.CrossdeskTickets.open({ request: (path, options) => api.call(path, options), lang: prefs.lang,
        agent: session.agent });
      desk.renderMine();
    },
    hide() { if (window.CrossdeskTickets) window.CrossdeskTickets.hide(); },
  };

  /* -- team: agent accounts (admins; team.js) ---------------------------------------------- */
  const team = {
    show() {
      for (const id of ["#history", "#admin", "#dashboard", "#tickets"]) $(id).hidden = true;
      for (const view of desk.open.values()) view.root.hidden = true;
      desk.active = null;
      window.CrossdeskTeam.open({ request: (path, options) => api.call(path, options), lang: prefs.lang, me: session.agent });
      desk.renderMine();
      $("#empty").hidden = true;
    },
  };

  /* -- wiring ---------------------------------------------------------------------------- */
  function wire() {
    $("#login-form").addEventListener("submit", (event) => session.login(event));
    $("#logout").addEventListener("click", () => session.logout());
    $("#presence").addEventListener("change", (event) => desk.setPresence(event.target.value));
    $("#ui-language").value = prefs.lang;
    $("#ui-language").addEventListener("change", (event) => { prefs.lang = event.target.value; savePrefs(); applyStrings(); desk.renderQueue();
      for (const view of desk.open.values()) view.relabel();
      if (window.CrossdeskDashboard) window.CrossdeskDashboard.setLanguage(prefs.lang);
      if (window.CrossdeskTickets) window.CrossdeskTickets.setLanguage(prefs.lang);
      if (window.CrossdeskNotes) window.CrossdeskNotes.setLanguage(prefs.lang);
      if (window.CrossdeskTeam) window.CrossdeskTeam.setLanguage(prefs.lang); });
    $("#sound").checked = prefs.sound;
    $("#sound").addEventListener("change", (event) => { prefs.sound = event.target.checked; savePrefs(); });
    $("#desktop").addEventListener("click", async () => {
      if (!window.Notification) return;
      prefs.desktop = (await Notification.requestPermission()) === "granted";
      savePrefs();
    });
    $("#back").addEventListener("click", () => showPane("list"));  // phones: back to the queue
    $("#show-history").addEventListener("click", () => history.show());
    $("#show-dashboard").addEventListener("click", () => dashboard.show());
    $("#show-tickets").addEventListener("click", () => tickets.show());
    $("#show-team").addEventListener("click", () => team.show());
    $("#search").addEventListener("submit", (event) => history.search(event));
    if (window.CrossdeskNotes) { window.CrossdeskNotes.setLanguage(prefs.lang); window.CrossdeskNotes.wireHistory(); }
    $("#show-admin").addEventListener("click", () => admin.show());
    $("#shopper-form").addEventListener("submit", (event) => admin.exportShopper(event));
    $("#shopper-form .delete-shopper").addEventListener("click", () => admin.deleteShopper());
    $("#audit-form").addEventListener("submit", (event) => admin.audit(event));
    const outcomes = $("#search [name=outcome]");
    OUTCOMES.forEach((name) => { const o = el("option", "", t("outcome_" + name)); o.value = name; o.dataset.i18n = "outcome_" + name; outcomes.append(o); });
    document.addEventListener("keydown", (event) => {
      if (!event.altKey || !session.agent) return;
      const key = event.key.toLowerCase();
      if (key === "c" || event.code === "KeyC") { event.preventDefault(); desk.claimNext(); }
      if (key === "n" || event.code === "KeyN") { event.preventDefault(); desk.next(); }
    });
  }

  wire();
  session.start();
})();
