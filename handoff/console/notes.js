/*
 * Crossdesk desk notes in the console (issue #19): private notes and tags on a conversation, the
 * customer's verified identity and earlier conversations, macros (saved replies filled for the
 * conversation: "/" in an empty reply box or Ctrl+K opens the list, with the bot's answers beside
 * them), and the history's tag filter and CSV. Notes and tags go to /api only; nothing here ever
 * reaches the shopper. Every text is rendered with textContent.
 */
(function () {
  "use strict";

  const I18N = {
    en: {
      deskNotes: "Notes and tags", customer: "Customer", verified: "Verified customer", unverified: "Unverified (not signed by the shop)",
      earlier: "Earlier conversations", noEarlier: "No earlier conversations.", tags: "Tags", addTag: "Add tag",
      newTag: "New tag", notes: "Private notes (never shown to the shopper)", note: "Note", addNote: "Add note",
      noNotes: "No notes yet.", macros: "Macros", openMacros: "Macros (/)", searchMacros: "Search macros and bot answers",
      macro: "Macro", sharedMacro: "Shared macro", botAnswer: "Bot answer", noMacros: "Nothing found.",
      found: "{n} found", missing: "Fill in before sending: {names}", translatedFrom: "Machine-translated from {language}.",
      untranslatedFrom: "Not translated: this is the {language} text.", newMacro: "New macro", title: "Title",
      language: "Language", text: "Text", shared: "Shared with every agent", save: "Save macro", saved: "Macro saved.",
      variables: "Variables: {names}", tagFilter: "Tag", downloadCsv: "Download CSV", remove: "Remove tag {tag}",
      outcome: "Outcome", open: "Open", delete: "Delete", deleteMacro: "Delete macro {title}", deleted: "Macro deleted.",
      edit: "Edit", cancel: "Cancel", editNote: "Edit note by {author}", deleteNote: "Delete note by {author}",
      saveNote: "Save note", noteSaved: "Note saved.", noteDeleted: "Note deleted.", editMacro: "Edit macro {title}",
      editingMacro: "Editing: {title}",
    },
    ja: {
      deskNotes: "メモとタグ", customer: "お客様", verified: "確認済みのお客様", unverified: "未確認（ストアの署名なし）",
      earlier: "過去の会話", noEarlier: "過去の会話はありません。", tags: "タグ", addTag: "タグを追加",
      newTag: "新しいタグ", notes: "非公開メモ（お客様には表示されません）", note: "メモ", addNote: "メモを追加",
      noNotes: "メモはまだありません。", macros: "定型文", openMacros: "定型文 (/)", searchMacros: "定型文とボットの回答を検索",
      macro: "定型文", sharedMacro: "共有の定型文", botAnswer: "ボットの回答", noMacros: "見つかりません。",
      found: "{n} 件", missing: "送信前に入力してください: {names}", translatedFrom: "{language} から機械翻訳しました。",
      untranslatedFrom: "翻訳されていません（{language} の文面です）。", newMacro: "新しい定型文", title: "タイトル",
      language: "言語", text: "本文", shared: "全担当者と共有", save: "定型文を保存", saved: "定型文を保存しました。",
      variables: "変数: {names}", tagFilter: "タグ", downloadCsv: "CSV をダウンロード", remove: "タグ {tag} を外す",
      outcome: "結果", open: "開く", delete: "削除", deleteMacro: "定型文 {title} を削除", deleted: "定型文を削除しました。",
      edit: "編集", cancel: "キャンセル", editNote: "{author} のメモを編集", deleteNote: "{author} のメモを削除",
      saveNote: "メモを保存", noteSaved: "メモを保存しました。", noteDeleted: "メモを削除しました。", editMacro: "定型文 {title} を編集",
      editingMacro: "編集中: {title}",
    },
  };
  if (window.CrossdeskI18n) window.CrossdeskI18n.extend(I18N, "notes");  // zh-CN, zh-TW, ko, fr, de, es (i18n.js)
  const LANGUAGES = ["en", "ja", "zh-CN", "zh-TW", "ko", "fr", "de", "es"];
  const VARIABLES = ["shopper_name", "destination", "order_id", "days_min", "days_max", "dispatch_days", "fee",
    "free_over", "methods", "vat", "threshold", "return_days", "refund_days", "tracking_url"];

  let lang = "en";
  let request = (path, options) => fetch(path, { credentials: "same-origin", ...(options || {}) });
  let ids = 0;

  function t(key, values) {
    const template = (I18N[lang] || I18N.en)[key] || I18N.en[key] || key;
    return template.replace(/\{(\w+)\}/g, (_, k) => (values && k in values ? String(values[k]) : ""));
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function labelled(text, control) {
    const label = el("label", "field");
    label.append(el("span", "", text), control);
    return label;
  }
  async function json(path, options) {
    const response = await request(path, options);
    const body = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, body };
  }
  function post(path, payload, method) {
    return json(path, { method: method || "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
  }
  function applyStrings(root) {
    (root || document).querySelectorAll("[data-notes-i18n]").forEach((node) => { node.textContent = t(node.dataset.notesI18n); });
    (root || document).querySelectorAll("[data-notes-i18n-label]").forEach((node) => {
      node.setAttribute("aria-label", t(node.dataset.notesI18nLabel));
      node.placeholder = t(node.dataset.notesI18nLabel);
    });
  }

  /* -- the panel beside a conversation: customer, tags, notes, a new macro --------------------------- */
  class DeskPanel {
    constructor(view, ctx) {
      this.view = view;
      this.ctx = ctx;
      this.root = el("section", "desk-notes");
      this.status = el("p", "muted desk-status");
      this.status.setAttribute("role", "status");
      this.customer = el("div", "customer");
      this.tagList = el("ul", "tag-list");
      this.noteList = el("ol", "note-list");
      this.root.append(this.customer, this.tagsForm(), this.notesForm(), this.macroForm(), this.status);
      this.render({ notes: [], tags: [], customer: null });
    }

    get id() { return this.view.id; }

    heading(key) { const h = el("h3", "", t(key)); h.dataset.notesI18n = key; return h; }

    tagsForm() {
      const form = el("form", "add-tag");
      this.tagInput = el("input", "tag-input");
      this.tagInput.maxLength = 40;
      this.tagInput.dataset.notesI18nLabel = "newTag";
      const add = el("button", "", t("addTag"));
      add.type = "submit";
      add.dataset.notesI18n = "addTag";
      form.append(this.tagInput, add);
      form.addEventListener("submit", (event) => { event.preventDefault(); this.addTag(); });
      const box = el("div", "tags-box");
      box.append(this.heading("tags"), this.tagList, form);
      return box;
    }

    notesForm() {
      const form = el("form", "add-note");
      this.noteInput = el("textarea", "note-input");
      this.noteInput.maxLength = 4000;
      this.noteInput.rows = 2;
      this.noteInput.dataset.notesI18nLabel = "note";
      const add = el("button", "", t("addNote"));
      add.type = "submit";
      add.dataset.notesI18n = "addNote";
      form.append(this.noteInput, add);
      form.addEventListener("submit", (event) => { event.preventDefault(); this.addNote(); });
      const box = el("div", "notes-box");
      box.append(this.heading("notes"), this.noteList, form);
      return box;
    }

    macroForm() {
      const details = el("details", "new-macro");
      const summary = el("summary", "", t("newMacro"));
      summary.dataset.notesI18n = "newMacro";
      const form = el("form");
      const title = el("input");
      title.name = "title";
      title.maxLength = 80;
      title.required = true;
      const language = el("select");
      language.name = "language";
      for (const code of LANGUAGES) { const option = el("option", "", code); option.value = code; language.append(option); }
      language.value = "en";
      const text = el("textarea");
      text.name = "text";
      text.maxLength = 2000;
      text.rows = 3;
      text.required = true;
      form.append(labelled(t("title"), title), labelled(t("language"), language), labelled(t("text"), text),
        el("p", "muted hint", t("variables", { names: VARIABLES.map((v) => "{" + v + "}").join(" ") })));
      if (this.ctx.agent && this.ctx.agent.role === "admin") {
        const shared = el("input");
        shared.type = "checkbox";
        shared.name = "shared";
        const label = el("label", "check");
        label.append(shared, el("span", "", t("shared")));
        form.append(label);
      }
      const save = el("button", "primary", t("save"));
      save.type = "submit";
      this.editingLine = el("p", "muted editing");
      this.editingLine.hidden = true;
      const cancel = el("button", "cancel-edit", t("cancel"));
      cancel.type = "button";
      cancel.hidden = true;
      const stopEditing = () => { this.editing = null; this.editingLine.hidden = true; cancel.hidden = true; form.reset(); };
      cancel.addEventListener("click", stopEditing);
      form.prepend(this.editingLine);
      form.append(save, cancel);
      // Editing keeps the macro's other languages; choosing another language shows (or starts) its text.
      language.addEventListener("change", () => { if (this.editing) text.value = this.editing.texts[language.value] || ""; });
      this.editMacro = (macro) => {
        this.editing = macro;
        title.value = macro.title;
        language.value = LANGUAGES.includes(this.view.bundle.language) && macro.texts[this.view.bundle.language]
          ? this.view.bundle.language : macro.source_language;
        text.value = macro.texts[language.value] || "";
        this.editingLine.textContent = t("editingMacro", { title: macro.title });
        this.editingLine.hidden = false;
        cancel.hidden = false;
        title.focus();
      };
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const editing = this.editing;
        const answer = editing
          ? await post("/api/macros/" + editing.id, { title: title.value, source_language: editing.source_language,
            texts: { ...editing.texts, [language.value]: text.value } }, "PUT")
          : await post("/api/macros", { title: title.value, source_language: language.value,
            texts: { [language.value]: text.value }, shared: Boolean(form.shared && form.shared.checked) });
        this.status.textContent = answer.ok ? t("saved") : (answer.body.message || String(answer.status));
        if (answer.ok) { stopEditing(); this.loadOwn(); }
      });
      this.ownList = el("ul", "own-macros");
      details.addEventListener("toggle", () => {
        if (!details.open) return;
        const current = this.view.bundle && this.view.bundle.language;  // (no bundle yet when the panel is built)
        if (!title.value && LANGUAGES.includes(current)) language.value = current;
        this.loadOwn();
      });
      details.append(summary, form, this.ownList);
      return details;
    }

    /** The macros this agent may change (their own; every shared one for an admin), each with Edit and Delete. */
    async loadOwn() {
      const answer = await json("/api/macros?language=" + encodeURIComponent(this.view.bundle.language || "en"));
      this.ownList.replaceChildren();
      const admin = this.ctx.agent && this.ctx.agent.role === "admin";
      for (const macro of (answer.body.macros || []).filter((m) => !m.shared || admin)) {
        const item = el("li");
        const remove = el("button", "danger", t("delete"));
        remove.type = "button";
        remove.setAttribute("aria-label", t("deleteMacro", { title: macro.title }));
        remove.addEventListener("click", async () => {
          const done = await json("/api/macros/" + macro.id, { method: "DELETE" });
          this.status.textContent = done.ok ? t("deleted") : (done.body.message || String(done.status));
          this.loadOwn();
        });
        const edit = el("button", "edit", t("edit"));
        edit.type = "button";
        edit.setAttribute("aria-label", t("editMacro", { title: macro.title }));
        edit.addEventListener("click", () => this.editMacro(macro));
        item.append(el("span", "", (macro.shared ? t("sharedMacro") + ": " : "") + macro.title), edit, remove);
        this.ownList.append(item);
      }
    }

    async load() {
      const answer = await json("/api/conversations/" + encodeURIComponent(this.id) + "/desk");
      if (answer.ok) this.render(answer.body);
    }

    render(data) {
      this.data = data;
      this.renderCustomer(data.customer);
      this.tagList.replaceChildren();
      for (const tag of data.tags) {
        const item = el("li", "tag-chip");
        const remove = el("button", "remove", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", t("remove", { tag }));
        remove.addEventListener("click", () => this.removeTag(tag));
        item.append(el("span", "", tag), remove);
        this.tagList.append(item);
      }
      this.noteList.replaceChildren();
      if (!data.notes.length) this.noteList.append(el("li", "muted", t("noNotes")));
      for (const note of data.notes) {
        const item = el("li", "note");
        const meta = el("div", "meta");
        meta.append(el("strong", "", note.author), el("time", "", new Date(note.created_at * 1000).toLocaleString(lang)));
        const text = el("div", "text", note.text);
        text.dir = "auto";
        item.dataset.id = String(note.id);
        item.append(meta, text);
        if (this.mayChange(note)) item.append(this.noteActions(note, item));
        this.noteList.append(item);
      }
    }

    /** Its author changes a note; an admin any (the server checks the same). */
    mayChange(note) {
      const agent = this.ctx.agent;
      return Boolean(agent && (agent.role === "admin" || note.agent_id === agent.id));
    }

    noteActions(note, item) {
      const actions = el("div", "note-actions");
      const edit = el("button", "edit", t("edit"));
      edit.type = "button";
      edit.setAttribute("aria-label", t("editNote", { author: note.author }));
      edit.addEventListener("click", () => this.editNote(note, item));
      const remove = el("button", "danger delete", t("delete"));
      remove.type = "button";
      remove.setAttribute("aria-label", t("deleteNote", { author: note.author }));
      remove.addEventListener("click", async () => {
        const answer = await json(`/api/conversations/${encodeURIComponent(this.id)}/notes/${note.id}`, { method: "DELETE" });
        this.status.textContent = answer.ok ? t("noteDeleted") : (answer.body.message || String(answer.status));
        if (answer.ok) { this.render({ ...this.data, notes: answer.body.notes }); this.noteInput.focus(); }
      });
      actions.append(edit, remove);
      return actions;
    }

    /** The note's text in a box in place, with Save and Cancel. */
    editNote(note, item) {
      const form = el("form", "edit-note");
      const box = el("textarea", "note-edit", note.text);
      box.value = note.text;
      box.maxLength = 4000;
      box.rows = 2;
      box.setAttribute("aria-label", t("editNote", { author: note.author }));
      const save = el("button", "primary", t("saveNote"));
      save.type = "submit";
      const cancel = el("button", "", t("cancel"));
      cancel.type = "button";
      cancel.addEventListener("click", () => this.render(this.data));
      form.append(box, save, cancel);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const answer = await post(`/api/conversations/${encodeURIComponent(this.id)}/notes/${note.id}`, { text: box.value }, "PUT");
        this.status.textContent = answer.ok ? t("noteSaved") : (answer.body.message || String(answer.status));
        if (answer.ok) this.render({ ...this.data, notes: this.data.notes.map((n) => (n.id === note.id ? answer.body.note : n)) });
      });
      item.replaceChildren(item.firstChild, form);
      box.focus();
    }

    renderCustomer(customer) {
      this.customer.replaceChildren();
      if (!customer) return;
      const badge = el("p", customer.verified ? "verified" : "unverified", customer.verified ? "✔ " + t("verified") : "⚠ " + t("unverified"));
      const who = el("p", "who", [customer.name, customer.email, customer.id].filter(Boolean).join(" · "));
      this.customer.append(this.heading("customer"), badge, who);
      if (!customer.verified) return;
      this.customer.append(el("h4", "", t("earlier")));
      if (!customer.earlier.length) { this.customer.append(el("p", "muted", t("noEarlier"))); return; }
      const list = el("ul", "earlier");
      for (const c of customer.earlier) {
        const item = el("li");
        const outcome = c.outcome && this.ctx.outcomeName ? this.ctx.outcomeName(c.outcome) : c.outcome || c.state;
        const link = el("a", "", `${new Date(c.created_at * 1000).toLocaleDateString(lang)} · ${outcome}`);
        link.href = "#history-" + c.conversation_id;
        link.dataset.id = c.conversation_id;
        const path = `/api/conversations/${encodeURIComponent(this.id)}/earlier/${encodeURIComponent(c.conversation_id)}`;
        link.addEventListener("click", (event) => { event.preventDefault(); if (this.ctx.openConversation) this.ctx.openConversation(c.conversation_id, path); });
        item.append(link, el("div", "muted", c.first_message || ""));
        list.append(item);
      }
      this.customer.append(list);
    }

    async addTag() {
      const value = this.tagInput.value.trim();
      if (!value) return;
      const answer = await post(`/api/conversations/${encodeURIComponent(this.id)}/tags`, { tag: value });
      if (!answer.ok) { this.status.textContent = answer.body.message || String(answer.status); return; }
      this.tagInput.value = "";
      this.status.textContent = "";
      this.render({ ...this.data, tags: answer.body.tags });
    }

    async removeTag(tag) {
      const answer = await json(`/api/conversations/${encodeURIComponent(this.id)}/tags/${encodeURIComponent(tag)}`, { method: "DELETE" });
      if (answer.ok) this.render({ ...this.data, tags: answer.body.tags });
      this.tagInput.focus();
    }

    async addNote() {
      const value = this.noteInput.value.trim();
      if (!value) return;
      const answer = await post(`/api/conversations/${encodeURIComponent(this.id)}/notes`, { text: value });
      if (!answer.ok) { this.status.textContent = answer.body.message || String(answer.status); return; }
      this.noteInput.value = "";
      this.status.textContent = "";
      this.render({ ...this.data, notes: [...this.data.notes, answer.body.note] });
    }
  }

  /* -- the macro list in the reply box (an ARIA 1.2 combobox with a listbox) -------------------------- */
  class MacroPicker {
    constructor(view) {
      this.view = view;
      this.items = [];
      this.active = -1;
      const n = ++ids;
      this.root = el("div", "macro-picker");
      this.root.hidden = true;
      this.search = el("input", "macro-search");
      this.search.id = `macro-search-${n}`;
      this.search.setAttribute("role", "combobox");
      this.search.setAttribute("aria-expanded", "false");
      this.search.setAttribute("aria-autocomplete", "list");
      this.search.setAttribute("aria-controls", `macro-list-${n}`);
      this.search.dataset.notesI18nLabel = "searchMacros";
      this.list = el("ul", "macro-list");
      this.list.id = `macro-list-${n}`;
      this.list.setAttribute("role", "listbox");
      this.list.dataset.notesI18nLabel = "macros";
      this.count = el("p", "muted macro-count");
      this.count.setAttribute("role", "status");
      this.root.append(this.search, this.list, this.count);
      this.warning = el("p", "macro-warning");
      this.warning.setAttribute("role", "alert");
      this.warning.hidden = true;
      this.button = el("button", "open-macros", t("openMacros"));
      this.button.type = "button";
      this.button.dataset.notesI18n = "openMacros";
      this.button.addEventListener("click", () => this.open());
      this.search.addEventListener("input", () => this.refresh());
      this.search.addEventListener("keydown", (event) => this.keydown(event));
      this.search.addEventListener("blur", () => setTimeout(() => {
        if (!this.root.contains(document.activeElement)) this.close(false);
      }, 150));
      view.input.addEventListener("keydown", (event) => {
        const slash = event.key === "/" && view.input.value === "" && !event.isComposing;
        const ctrlK = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k";
        if (slash || ctrlK) { event.preventDefault(); this.open(); }
      });
      view.input.addEventListener("input", () => this.checkFilled());
      applyStrings(this.root);
    }

    open() {
      this.root.hidden = false;
      this.search.value = "";
      this.search.setAttribute("aria-expanded", "true");
      this.search.focus();
      this.refresh();
    }

    close(focusReply) {
      this.root.hidden = true;
      this.search.setAttribute("aria-expanded", "false");
      this.search.removeAttribute("aria-activedescendant");
      if (focusReply) this.view.input.focus();
    }

    refresh() {
      clearTimeout(this.timer);
      const query = this.search.value.trim();
      this.timer = setTimeout(async () => {
        const params = new URLSearchParams({ conversation_id: this.view.id });
        if (query) params.set("q", query);
        const macros = await json("/api/macros?" + params);
        let answers = [];
        if (query) {
          const canned = new URLSearchParams({ language: this.view.bundle.language || "en", conversation_id: this.view.id, q: query });
          answers = ((await json("/api/canned?" + canned)).body.answers || []).slice(0, 8);
        }
        if (this.search.value.trim() !== query) return;  // typed on: a newer search follows
        this.items = [...((macros.body && macros.body.macros) || []).map((m) => ({ kind: m.shared ? "sharedMacro" : "macro", ...m })),
          ...answers.map((a) => ({ kind: "botAnswer", title: a.key.replace(/^utter_/, "").replace(/_/g, " "), text: a.text, missing: [] }))];
        this.render();
      }, 100);
    }

    render() {
      this.list.replaceChildren();
      this.items.forEach((item, index) => {
        const option = el("li", "macro-option");
        option.id = `${this.list.id}-${index}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        const head = el("div", "macro-head");
        head.append(el("span", "kind", t(item.kind)), el("strong", "", item.title));
        const preview = el("div", "macro-text", item.text);
        preview.dir = "auto";
        option.append(head, preview);
        if (item.translated) option.append(el("div", "muted translated-note", t("translatedFrom", { language: item.source_language })));
        if (item.missing && item.missing.length) option.append(el("div", "missing", t("missing", { names: item.missing.map((v) => "{" + v + "}").join(", ") })));
        option.addEventListener("mousedown", (event) => event.preventDefault());  // keep focus in the search box
        option.addEventListener("click", () => this.choose(index));
        this.list.append(option);
      });
      this.count.textContent = this.items.length ? t("found", { n: this.items.length }) : t("noMacros");
      this.setActive(this.items.length ? 0 : -1);
    }

    setActive(index) {
      this.active = index;
      [...this.list.children].forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
      if (index < 0) { this.search.removeAttribute("aria-activedescendant"); return; }
      const option = this.list.children[index];
      this.search.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }

    keydown(event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!this.items.length) return;
        const step = event.key === "ArrowDown" ? 1 : -1;
        this.setActive((this.active + step + this.items.length) % this.items.length);
      } else if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        if (this.active >= 0) this.choose(this.active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        this.close(true);
      }
    }

    /** Puts the macro's text in the reply box; an unfilled variable is selected and named above the box. */
    choose(index) {
      const item = this.items[index];
      if (!item) return;
      this.view.input.value = item.text;
      this.close(true);
      this.note = item.translated ? t("translatedFrom", { language: item.source_language })
        : item.translation_error && item.language !== (this.view.bundle.language || "en") ? t("untranslatedFrom", { language: item.language }) : "";
      this.checkFilled();
      const first = this.view.input.value.search(/\{[a-z_]+\}/);
      if (first >= 0) {
        const end = this.view.input.value.indexOf("}", first) + 1;
        this.view.input.setSelectionRange(first, end);
      }
      this.view.input.dispatchEvent(new Event("input"));
    }

    /** Names the variables still written as {name} in the reply box (the server refuses to send them). */
    checkFilled() {
      const names = [...new Set((this.view.input.value.match(/\{([a-z_]+)\}/g) || []).filter((v) => VARIABLES.includes(v.slice(1, -1))))];
      const lines = [];
      if (names.length) lines.push(t("missing", { names: names.join(", ") }));
      if (this.note && this.view.input.value) lines.push(this.note);
      this.warning.textContent = lines.join(" ");
      this.warning.hidden = !lines.length;
    }
  }

  /** Read-only tags and notes of a conversation opened from the history. */
  function summary(conversationId) {
    const root = el("section", "desk-notes desk-summary");
    (async () => {
      const answer = await json("/api/conversations/" + encodeURIComponent(conversationId) + "/desk");
      if (!answer.ok) return;
      const tags = el("p", "tags-line", answer.body.tags.length ? answer.body.tags.join(", ") : "—");
      const notes = el("ol", "note-list");
      for (const note of answer.body.notes) {
        const item = el("li", "note");
        const meta = el("div", "meta");
        meta.append(el("strong", "", note.author), el("time", "", new Date(note.created_at * 1000).toLocaleString()));
        item.append(meta, el("div", "text", note.text));
        notes.append(item);
      }
      if (!answer.body.notes.length) notes.append(el("li", "muted", t("noNotes")));
      root.append(el("h4", "", t("tags")), tags, el("h4", "", t("notes")), notes);
    })();
    return root;
  }

  /* -- history: tag filter, tags column, CSV -------------------------------------------------------- */
  function wireHistory() {
    const button = document.getElementById("history-csv");
    if (!button) return;
    button.addEventListener("click", async () => {
      const params = new URLSearchParams();
      for (const [key, value] of new FormData(document.getElementById("search"))) if (value) params.set(key, value);
      const response = await request("/api/history.csv?" + params);
      if (!response.ok) return;
      const link = el("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = "crossdesk-history.csv";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    });
  }

  window.CrossdeskNotes = {
    /** Adds the notes panel and the macro list to a console conversation view; returns {root, load}. */
    attach(view, ctx) {
      if (ctx && ctx.request) request = ctx.request;
      const panel = new DeskPanel(view, ctx || {});
      const picker = new MacroPicker(view);
      view.input.before(picker.warning, picker.root);
      const row = view.input.parentNode.querySelector(".row");
      if (row) row.append(picker.button);
      applyStrings(panel.root);
      return { root: panel.root, load: () => panel.load(), picker };
    },
    setRequest(fn) { request = fn; },
    setLanguage(code) { lang = I18N[code] ? code : "en"; applyStrings(); },
    wireHistory,
    summary,
  };
})();
