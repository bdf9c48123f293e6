/*
 * Crossdesk tickets in the console: lists (mine, unassigned, due soon, overdue, all) with filters,
 * one ticket's transcript, private notes, history and e-mail, assignment, and answering by e-mail
 * with a preview in the shopper's language. Due soon / overdue are marked with text, not colour
 * alone. Escalations (agent:ticket_escalation) are announced in the sidebar. textContent only.
 */
(function () {
  "use strict";

  const I18N = {
    en: {
      tickets: "Tickets", mine: "Mine", unassigned: "Unassigned", due_soon: "Due soon", overdue: "Overdue", all: "All",
      on_time: "On time", status: "Status", anyStatus: "Open and pending", allStatuses: "All statuses",
      open: "Open", pending: "Pending", solved: "Solved", language: "Language", anyLanguage: "Any language",
      tag: "Tag", search: "Search", filter: "Filter", reference: "Ticket", priority: "Priority", assignee: "Assignee",
      due: "Due", tags: "Tags", contact: "Contact", nobody: "Nobody", noTickets: "No tickets here.",
      low: "Low", normal: "Normal", high: "High", urgent: "Urgent", save: "Save changes", take: "Take it",
      saved: "Saved.", transcript: "Conversation", notes: "Private notes (never shown to the shopper)",
      addNote: "Add note", note: "Note", history: "History", answer: "Answer by e-mail", answerText: "Your answer",
      preview: "Preview in the shopper's language", send: "Send", sent: "Answer sent to {to}.",
      storedOnly: "No e-mail address: the answer waits in the chat for the shopper.",
      mail: "E-mail", mail_queued: "Queued", mail_sent: "Sent", mail_failed: "Failed (still retrying)",
      attempts: "{n} attempt(s)", tagsHint: "comma-separated", source_contact: "Contact left offline",
      source_follow_up: "Marked for follow-up", source_left: "Shopper left while queued",
      escalatedSoon: "{ref} is due soon ({when}).", escalatedOverdue: "{ref} is overdue (due {when}); escalated to admins.",
      loadFailed: "Could not load tickets: {message}", close: "Close", alerts: "Ticket alerts",
      previewNone: "No translation (shown as written).", followUp: "Follow up by ticket",
      followUpDone: "{ref} opened: due {when}.", followUpExists: "Already {ref}, due {when}.",
      actor_shopper: "Shopper", actor_system: "System", actor_bot: "Bot",
      kind_created: "opened the ticket", kind_note: "added a note", kind_reply: "answered by e-mail",
      kind_mail_sent: "e-mail sent", kind_mail_failed: "e-mail failed", kind_status: "status",
      kind_assignee_id: "assignee", kind_priority: "priority", kind_tags: "tags", kind_email: "e-mail address",
      kind_name: "name", kind_escalated_due_soon: "due soon: admins alerted", kind_escalated_overdue: "overdue: escalated to admins",
    },
    ja: {
      tickets: "チケット", mine: "自分の担当", unassigned: "未割り当て", due_soon: "期限間近", overdue: "期限超過", all: "すべて",
      on_time: "期限内", status: "状態", anyStatus: "未完了と保留", allStatuses: "すべての状態",
      open: "未対応", pending: "お客様の返信待ち", solved: "解決済み", language: "言語", anyLanguage: "すべての言語",
      tag: "タグ", search: "検索語", filter: "絞り込む", reference: "チケット", priority: "優先度", assignee: "担当者",
      due: "期限", tags: "タグ", contact: "連絡先", nobody: "なし", noTickets: "チケットはありません。",
      low: "低", normal: "通常", high: "高", urgent: "緊急", save: "変更を保存", take: "担当する",
      saved: "保存しました。", transcript: "会話", notes: "非公開メモ（お客様には表示されません）",
      addNote: "メモを追加", note: "メモ", history: "履歴", answer: "メールで回答", answerText: "回答",
      preview: "お客様の言語でプレビュー", send: "送信", sent: "{to} に回答を送りました。",
      storedOnly: "メールアドレスがないため、回答はチャットでお客様を待ちます。",
      mail: "メール", mail_queued: "送信待ち", mail_sent: "送信済み", mail_failed: "失敗（再送を続けています）",
      attempts: "{n} 回試行", tagsHint: "カンマ区切り", source_contact: "不在時の連絡先",
      source_follow_up: "フォローアップ指定", source_left: "待機中にお客様が退出",
      escalatedSoon: "{ref} の期限が近づいています（{when}）。", escalatedOverdue: "{ref} は期限を過ぎました（期限 {when}）。管理者に通知しました。",
      loadFailed: "チケットを読み込めませんでした: {message}", close: "閉じる", alerts: "チケットの通知",
      previewNone: "翻訳なし（そのまま表示）。", followUp: "チケットでフォローアップ",
      followUpDone: "{ref} を作成しました（期限 {when}）。", followUpExists: "すでに {ref} があります（期限 {when}）。",
      actor_shopper: "お客様", actor_system: "システム", actor_bot: "ボット",
      kind_created: "チケットを作成", kind_note: "メモを追加", kind_reply: "メールで回答",
      kind_mail_sent: "メール送信済み", kind_mail_failed: "メール送信失敗", kind_status: "状態",
      kind_assignee_id: "担当者", kind_priority: "優先度", kind_tags: "タグ", kind_email: "メールアドレス",
      kind_name: "名前", kind_escalated_due_soon: "期限間近: 管理者に通知", kind_escalated_overdue: "期限超過: 管理者にエスカレーション",
    },
  };
  if (window.CrossdeskI18n) window.CrossdeskI18n.extend(I18N, "tickets");  // zh-CN, zh-TW, ko, fr, de, es (i18n.js)
  const STATUSES = ["open", "pending", "solved"];
  const PRIORITIES = ["low", "normal", "high", "urgent"];
  const VIEWS = ["mine", "unassigned", "due_soon", "overdue", "all"];
  const LANGUAGES = ["en", "ja", "zh-CN", "zh-TW", "ko", "fr", "de", "es"];

  let lang = "en";
  let me = null;
  let request = (path, options) => fetch(path, { credentials: "same-origin", ...(options || {}) });
  let view = "mine";
  let current = null;  // the open ticket's detail
  let agents = [];
  let built = false;

  const $ = (selector) => document.querySelector(selector);
  function t(key, values) {
    const text = (I18N[lang] || I18N.en)[key] || I18N.en[key] || key;
    return text.replace(/\{(\w+)\}/g, (_, k) => (values && k in values ? String(values[k]) : ""));
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function when(ts) { return new Date(ts * 1000).toLocaleString(lang === "en" ? "en-GB" : lang, { dateStyle: "short", timeStyle: "short" }); }
  function option(value, label) { const o = el("option", "", label); o.value = value; return o; }
  async function call(path, method, body) {
    const response = await request(path, body === undefined ? { method: method || "GET" }
      : { method, body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    const data = await response.json();
    if (!response.ok) throw new Error(data.message || data.error || String(response.status));
    return data;
  }
  function status(message) { $("#ticket-status").textContent = message; }

  /** The due state as text and a class (the class adds colour; the text carries the meaning). */
  function dueBadge(ticket) {
    const state = ticket.due_state;
    const badge = el("span", "due " + (state || "none"), state ? t(state) : t("solved"));
    return badge;
  }

  /* -- the section's skeleton ------------------------------------------------------------ */
  function build() {
    if (built) return;
    built = true;
    const root = $("#tickets");
    const tabs = el("div", "ticket-tabs");
    tabs.setAttribute("role", "group");
    tabs.setAttribute("aria-labelledby", "tickets-title");
    for (const name of VIEWS) {
      const button = el("button", "");
      button.type = "button";
      button.dataset.view = name;
      button.addEventListener("click", () => { view = name; load(); });
      tabs.append(button);
    }
    const form = el("form", "search");
    form.id = "ticket-filters";
    const statusSelect = el("select");
    statusSelect.name = "status";
    statusSelect.append(option("", ""), option("all", ""), ...STATUSES.map((s) => option(s, "")));
    const language = el("select");
    language.name = "language";
    language.append(option("", ""), ...LANGUAGES.map((code) => option(code, code)));
    const tag = el("input");
    tag.name = "tag";
    tag.maxLength = 32;
    const q = el("input");
    q.name = "q";
    q.maxLength = 200;
    const submit = el("button");
    submit.type = "submit";
    for (const [node, key] of [[statusSelect, "status"], [language, "language"], [tag, "tag"], [q, "search"]]) {
      const label = el("label");
      label.append(el("span", "", ""), " ", node);
      label.firstChild.dataset.key = key;
      form.append(label);
    }
    form.append(submit);
    form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
    const table = el("table", "results ticket-list");
    const head = el("thead");
    const row = el("tr");
    for (const key of ["reference", "status", "priority", "language", "assignee", "due", "tags", "contact"]) {
      const th = el("th");
      th.dataset.key = key;
      th.scope = "col";
      row.append(th);
    }
    head.append(row);
    table.append(head, el("tbody"));
    const detail = el("section", "ticket-detail");
    detail.id = "ticket-detail";
    detail.hidden = true;
    root.append(tabs, form, table, detail);
  }

  function applyStrings() {
    $("#tickets-title").textContent = t("tickets");
    document.querySelectorAll("#tickets .ticket-tabs button").forEach((b) => {
      b.textContent = t(b.dataset.view);
      b.setAttribute("aria-pressed", String(b.dataset.view === view));
    });
    const form = $("#ticket-filters");
    form.querySelectorAll("label > span").forEach((span) => { span.textContent = t(span.dataset.key); });
    const opts = form.status.options;
    opts[0].textContent = t("anyStatus");
    opts[1].textContent = t("allStatuses");
    for (let i = 0; i < STATUSES.length; i++) opts[i + 2].textContent = t(STATUSES[i]);
    form.language.options[0].textContent = t("anyLanguage");
    form.querySelector("button[type=submit]").textContent = t("filter");
    document.querySelectorAll("#tickets th[data-key]").forEach((th) => { th.textContent = t(th.dataset.key); });
    const alerts = $("#ticket-alerts");
    if (alerts) alerts.setAttribute("aria-label", t("alerts"));
  }

  /* -- the list ---------------------------------------------------------------------------- */
  /** Who changed a ticket: the agent's name (not "agent:3"), the shopper, or the system. */
  function actorName(actor) {
    const match = /^agent:(\d+)$/.exec(String(actor || ""));
    if (match) return assigneeName(Number(match[1]));
    return I18N.en["actor_" + actor] ? t("actor_" + actor) : String(actor || "");
  }
  /** A changed field's value as the agent reads it: names for assignees, words for status and priority. */
  function changeValue(kind, value) {
    if (kind === "assignee_id") return assigneeName(value);
    if ((kind === "status" || kind === "priority") && I18N.en[value]) return t(value);
    if (Array.isArray(value)) return value.join(", ") || "—";
    return value === null || value === undefined || value === "" ? "—" : String(value);
  }
  function kindName(kind) { return I18N.en["kind_" + kind] ? t("kind_" + kind) : kind; }

  function assigneeName(id) {
    if (id === null || id === undefined) return t("nobody");
    const found = agents.find((a) => a.id === id);
    return found ? found.display_name : "#" + id;
  }

  let loads = 0;  // a list answered after a newer request was made (another tab, a ticket event) is dropped
  let loadFailed = false;  // the status line says a load failed (a later load clears only that, not "Answer sent")

  async function load() {
    applyStrings();
    const form = $("#ticket-filters");
    const params = new URLSearchParams({ view });
    for (const name of ["status", "language", "tag", "q"]) if (form[name].value) params.set(name, form[name].value);
    const mine = ++loads;
    try {
      const data = await call("/api/tickets?" + params.toString());
      if (mine !== loads) return;
      render(data.tickets);
      if (loadFailed) status("");
      loadFailed = false;
    } catch (error) {
      loadFailed = true;
      status(t("loadFailed", { message: error.message }));
    }
  }

  function render(tickets) {
    const body = $("#tickets .ticket-list tbody");
    body.replaceChildren();
    if (!tickets.length) {
      const row = el("tr");
      const cell = el("td", "muted", t("noTickets"));
      cell.colSpan = 8;
      row.append(cell);
      body.append(row);
    }
    for (const ticket of tickets) {
      const row = el("tr", ticket.due_state || "");
      row.dataset.id = ticket.id;
      const ref = el("button", "link", ticket.reference);
      ref.type = "button";
      ref.addEventListener("click", () => openTicket(ticket.id));
      const first = el("td");
      first.append(ref);
      const due = el("td");
      due.append(dueBadge(ticket), " ", el("span", "", when(ticket.due_at)));
      row.append(first, el("td", "", t(ticket.status)), el("td", "", t(ticket.priority)),
        el("td", "", ticket.language || "?"), el("td", "", assigneeName(ticket.assignee_id)), due,
        el("td", "", ticket.tags.join(", ")), el("td", "", ticket.email || ""));
      row.addEventListener("click", (event) => { if (event.target === row || event.target.tagName === "TD") openTicket(ticket.id); });
      body.append(row);
    }
  }

  /* -- one ticket -------------------------------------------------------------------------- */
  async function openTicket(id) {
    try {
      current = await call("/api/tickets/" + id);
    } catch (error) {
      status(t("loadFailed", { message: error.message }));
      return;
    }
    renderDetail();
  }

  function field(labelKey, control) {
    const label = el("label", "field");
    label.append(el("span", "", t(labelKey)), control);
    return label;
  }

  function renderDetail() {
    const { ticket } = current;
    const root = $("#ticket-detail");
    root.hidden = false;
    root.replaceChildren();
    const header = el("header");
    const title = el("h3", "", `${ticket.reference} · ${t("source_" + ticket.source)}`);
    title.id = "ticket-detail-title";
    root.setAttribute("aria-labelledby", title.id);
    const close = el("button", "", t("close"));
    close.type = "button";
    close.addEventListener("click", () => { root.hidden = true; current = null; });
    header.append(title, dueBadge(ticket), el("span", "muted", `${t("due")}: ${when(ticket.due_at)}`), close);

    const edit = el("form", "search ticket-edit");
    const statusSelect = el("select");
    statusSelect.name = "status";
    STATUSES.forEach((s) => statusSelect.append(option(s, t(s))));
    statusSelect.value = ticket.status;
    const priority = el("select");
    priority.name = "priority";
    PRIORITIES.forEach((p) => priority.append(option(p, t(p))));
    priority.value = ticket.priority;
    const assignee = el("select");
    assignee.name = "assignee";
    assignee.append(option("", t("nobody")), ...agents.map((a) => option(String(a.id), a.display_name)));
    assignee.value = ticket.assignee_id === null ? "" : String(ticket.assignee_id);
    const tags = el("input");
    tags.name = "tags";
    tags.value = ticket.tags.join(", ");
    tags.placeholder = t("tagsHint");
    const save = el("button", "", t("save"));
    save.type = "submit";
    edit.append(field("status", statusSelect), field("priority", priority), field("assignee", assignee),
      field("tags", tags), save);
    if (ticket.assignee_id === null && me) {
      const take = el("button", "", t("take"));
      take.type = "button";
      take.className = "take";
      take.addEventListener("click", () => update({ assignee_id: me.id }));
      edit.append(take);
    }
    edit.addEventListener("submit", (event) => {
      event.preventDefault();
      update({ status: statusSelect.value, priority: priority.value,
        assignee_id: assignee.value ? Number(assignee.value) : null,
        tags: tags.value.split(",").map((s) => s.trim()).filter(Boolean) });
    });

    const contact = el("p", "", `${t("contact")}: ${ticket.name ? ticket.name + " " : ""}${ticket.email || "—"} · ${ticket.language || "?"}`);
    const columns = el("div", "ticket-columns");
    const left = el("div");
    left.append(el("h4", "", t("transcript")), transcript(current.transcript), answerForm(ticket), mailList(current.mail));
    const right = el("div");
    right.append(el("h4", "", t("notes")), notes(current.history), noteForm(ticket),
      el("h4", "", t("history")), historyList(current.history));
    columns.append(left, right);
    root.append(header, contact, edit, columns);
  }

  function transcript(messages) {
    const list = el("ol", "transcript ticket-transcript");
    for (const m of messages) {
      const item = el("li", "msg " + m.sender);
      item.append(el("div", "meta", `${m.name || actorName(m.sender)} · ${when(m.ts)}`), el("div", "text", m.text));
      list.append(item);
    }
    return list;
  }

  function notes(history) {
    const list = el("ul", "ticket-notes");
    for (const entry of history.filter((e) => e.kind === "note")) {
      list.append(el("li", "", `${when(entry.created_at)} · ${entry.details.agent || actorName(entry.actor)} — ${entry.details.text}`));
    }
    return list;
  }

  function noteForm(ticket) {
    const form = el("form", "search");
    const input = el("textarea");
    input.name = "note";
    input.required = true;
    input.maxLength = 4000;
    const add = el("button", "", t("addNote"));
    add.type = "submit";
    form.append(field("note", input), add);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await call(`/api/tickets/${ticket.id}/notes`, "POST", { text: input.value });
        await openTicket(ticket.id);
      } catch (error) { status(error.message); }
    });
    return form;
  }

  function historyList(history) {
    const list = el("ul", "ticket-history");
    for (const entry of history.filter((e) => e.kind !== "note")) {
      const d = entry.details || {};
      const change = "from" in d ? `${changeValue(entry.kind, d.from)} → ${changeValue(entry.kind, d.to)}` : "";
      list.append(el("li", "", `${when(entry.created_at)} · ${actorName(entry.actor)} · ${kindName(entry.kind)} ${change}`.trim()));
    }
    return list;
  }

  function mailList(mails) {
    const box = el("div", "ticket-mail");
    if (!mails.length) return box;
    box.append(el("h4", "", t("mail")));
    const list = el("ul");
    for (const mail of mails) {
      const item = el("li", "mail " + mail.status);
      item.append(el("strong", "", t("mail_" + mail.status)), " ",
        el("span", "", `${mail.to_addr} · ${mail.subject} · ${t("attempts", { n: mail.attempts })}`));
      if (mail.last_error && mail.status !== "sent") item.append(el("div", "muted", mail.last_error));
      list.append(item);
    }
    box.append(list);
    return box;
  }

  function answerForm(ticket) {
    const form = el("form", "reply ticket-answer");
    const text = el("textarea");
    text.name = "answer";
    text.required = true;
    text.maxLength = 2000;
    const preview = el("div", "preview");
    preview.hidden = true;
    preview.setAttribute("aria-live", "polite");
    const previewButton = el("button", "", t("preview"));
    previewButton.type = "button";
    const send = el("button", "primary", t("send"));
    send.type = "submit";
    const row = el("div", "row");
    row.append(previewButton, send);
    form.append(el("h4", "", t("answer")), field("answerText", text), preview, row);
    let previewed = null;  // {text, translation}: the reviewed translation is what is sent
    previewButton.addEventListener("click", async () => {
      if (!text.value.trim()) return;
      try {
        const data = await call(`/api/tickets/${ticket.id}/preview`, "POST", { text: text.value });
        const translation = data.translation || {};
        previewed = { text: text.value, translation };
        preview.hidden = false;
        preview.textContent = translation.translated ? `${ticket.language}: ${translation.text}` : t("previewNone") + " " + text.value;
      } catch (error) { status(error.message); }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { text: text.value };
      if (previewed && previewed.text === text.value && previewed.translation.translated) {
        body.text = previewed.translation.text;
        body.original = text.value;
      }
      try {
        const data = await call(`/api/tickets/${ticket.id}/reply`, "POST", body);
        status(data.mail ? t("sent", { to: data.mail.to_addr }) : t("storedOnly"));
        await openTicket(ticket.id);
        await load();
      } catch (error) { status(error.message); }
    });
    return form;
  }

  async function update(changes) {
    try {
      await call(`/api/tickets/${current.ticket.id}`, "PATCH", changes);
      status(t("saved"));
      await openTicket(current.ticket.id);
      await load();
    } catch (error) { status(error.message); }
  }

  /* -- announcements ------------------------------------------------------------------------ */
  function announce(payload) {
    const list = $("#ticket-alerts");
    if (!list) return;
    const key = payload.level === "overdue" ? "escalatedOverdue" : "escalatedSoon";
    const item = el("li", "ticket-alert " + payload.level);
    const open = el("button", "", t(key, { ref: payload.ticket.reference, when: when(payload.ticket.due_at) }));
    open.type = "button";
    open.addEventListener("click", () => { window.CrossdeskTickets.open({}); openTicket(payload.ticket.id); });
    item.append(open);
    list.prepend(item);
    while (list.children.length > 5) list.lastChild.remove();
  }

  window.CrossdeskTickets = {
    /** Show the ticket view; ``options``: {request(path, init), lang, agent}. */
    async open(options) {
      if (options.request) request = options.request;
      if (options.lang) lang = options.lang;
      if (options.agent) me = options.agent;
      build();
      $("#tickets").hidden = false;
      if (!agents.length) {
        try { agents = (await call("/api/tickets/agents")).agents; } catch (_) { agents = []; }
      }
      return load();
    },
    /** Listen to the agent socket for ticket changes and escalations. */
    listen(socket) {
      socket.on("agent:ticket_escalation", (payload) => announce(payload));
      socket.on("agent:ticket", () => { if (built && !$("#tickets").hidden) load(); });
    },
    setLanguage(code) {
      lang = code;
      if (built) { applyStrings(); if (!$("#tickets").hidden) load(); if (current) renderDetail(); }
    },
    hide() { const root = $("#tickets"); if (root) root.hidden = true; },
    /** A "follow up by ticket" button for an open conversation; ``tell(message)`` shows the outcome. */
    followUpButton(conversationId, tell) {
      const button = el("button", "follow-up", t("followUp"));
      button.type = "button";
      button.addEventListener("click", async () => {
        try {
          const data = await call("/api/tickets", "POST", { conversation_id: conversationId });
          const values = { ref: data.ticket.reference, when: when(data.ticket.due_at) };
          tell(t(data.created ? "followUpDone" : "followUpExists", values));
        } catch (error) { tell(error.message); }
      });
      return button;
    },
    setRequest(fn) { request = fn; },
  };
})();
