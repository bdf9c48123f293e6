/* Crossdesk studio: content staff review what the bot missed, edit training data, answers and store facts,
 * try messages and train. Same login as the console (an HttpOnly session cookie; this script never sees the
 * token). Everything shoppers wrote is rendered with textContent only. */
(() => {
  "use strict";
  const LANGUAGES = ["en", "ja", "zh-CN", "zh-TW", "ko", "fr", "de", "es"];
  const FINAL = ["live", "rejected", "failed"];
  const I18N = {
    en: { appName: "Crossdesk studio", username: "Username", password: "Password", login: "Log in", logout: "Log out",
      loginFailed: "Wrong username or password.", tooManyAttempts: "Too many failed logins. Try again in {s} s.",
      forbidden: "The studio is for content staff and admins; your role ({role}) cannot use it.",
      toConsole: "Go to the agent console", inbox: "Inbox", coverage: "Coverage", examples: "Examples", answers: "Answers",
      facts: "Store facts", tryIt: "Try it", training: "Training", language: "Language", reason: "Reason", state: "State",
      search: "Search", show: "Show", anyLanguage: "Any language", anyReason: "Any reason",
      reason_fallback: "Not understood", reason_out_of_scope: "Out of scope", reason_low_confidence: "Low confidence",
      reason_handoff: "Handed to a person", state_open: "Open", state_added: "Added to an intent",
      state_out_of_scope: "Marked out of scope", state_dismissed: "Dismissed", intent: "Intent", addToIntent: "Add to intent",
      markOutOfScope: "Mark out of scope", dismiss: "Dismiss", message: "Message", confidence: "Confidence", when: "When",
      transcript: "Transcript", open: "Open", close: "Close", more: "More", selectItem: "Select {text}",
      nothingSelected: "Select at least one message first.", done: "Done: {n} message(s). Train to use new examples.",
      saved: "Saved.", savedLive: "Saved: shoppers get it from now on.", savedRetrain: "Saved. Train to use it.",
      coverageHelp: "Examples per intent and language. ! = thin (too few examples), × = an example also used by another intent, – = answer missing.",
      findings: "Findings of the data check", noFindings: "No problems found.", newExample: "New example", add: "Add",
      edit: "Edit", save: "Save", cancel: "Cancel", delete: "Delete", editExample: "Edit example", confirmDelete: "Delete “{text}”?",
      destination: "Destination", preview: "Preview", placeholders: "Placeholders: {list}", english: "English: {text}",
      variation: "Variation {n}", unfilled: "Not filled: {list}", policies: "Shop policies", try: "Try",
      result_language: "Language", result_intent: "Intent", result_confidence: "Confidence", result_entities: "Entities",
      result_answers: "Answer", train: "Train a new model", trainingUnavailable: "Training is not available on this server yet.",
      gate: "Quality gate per language", liveScore: "Live model", candidateScore: "New model", result: "Result", pass: "pass",
      fail: "fail", log: "Log", models: "Models", model: "Model", created: "Created", live: "Live", action: "Action",
      rollback: "Make live", isLive: "live", trainingState: "Training: {state}", state_queued: "queued",
      state_training: "training", state_checking: "checking quality", state_swapping: "swapping in", state_live: "live",
      state_rejected: "rejected by the quality gate", state_failed: "failed", noTraining: "No training yet.",
      trainingRunning: "A training is already running.", default: "Default (unlisted destinations)",
      days_min: "Days (min)", days_max: "Days (max)", fee_jpy: "Fee (JPY)", free_over_jpy: "Free over (JPY)",
      currency: "Currency", payment_methods: "Payment methods (comma-separated)", model_: "Duties model (ddp/ddu)",
      threshold: "Duty threshold", vat: "Tax label", dispatch_days: "Dispatch days", return_days: "Return days",
      refund_days: "Refund days", tracking_url: "Tracking URL", none: "none" },
    ja: { appName: "Crossdesk スタジオ", username: "ユーザー名", password: "パスワード", login: "ログイン", logout: "ログアウト",
      loginFailed: "ユーザー名またはパスワードが違います。", tooManyAttempts: "ログイン失敗が多すぎます。{s} 秒後にもう一度お試しください。",
      forbidden: "スタジオはコンテンツ担当者と管理者専用です。あなたのロール（{role}）では使えません。",
      toConsole: "担当者コンソールへ", inbox: "受信箱", coverage: "カバレッジ", examples: "例文", answers: "回答",
      facts: "ストア情報", tryIt: "試す", training: "学習", language: "言語", reason: "理由", state: "状態",
      search: "検索", show: "表示", anyLanguage: "すべての言語", anyReason: "すべての理由",
      reason_fallback: "理解できず", reason_out_of_scope: "対象外", reason_low_confidence: "確信度が低い",
      reason_handoff: "担当者へ引き継ぎ", state_open: "未対応", state_added: "インテントに追加済み",
      state_out_of_scope: "対象外に設定済み", state_dismissed: "却下", intent: "インテント", addToIntent: "インテントに追加",
      markOutOfScope: "対象外にする", dismiss: "却下", message: "メッセージ", confidence: "確信度", when: "日時",
      transcript: "会話記録", open: "開く", close: "閉じる", more: "さらに表示", selectItem: "{text} を選択",
      nothingSelected: "先にメッセージを選択してください。", done: "{n} 件を処理しました。新しい例文を使うには学習してください。",
      saved: "保存しました。", savedLive: "保存しました。今からお客様への回答に反映されます。", savedRetrain: "保存しました。反映するには学習してください。",
      coverageHelp: "インテント・言語ごとの例文数。! = 例文が少ない、× = 他のインテントと重複する例文、– = 回答がありません。",
      findings: "データチェックの結果", noFindings: "問題はありません。", newExample: "新しい例文", add: "追加",
      edit: "編集", save: "保存", cancel: "キャンセル", delete: "削除", editExample: "例文を編集", confirmDelete: "「{text}」を削除しますか？",
      destination: "配送先", preview: "プレビュー", placeholders: "差し込み項目：{list}", english: "英語：{text}",
      variation: "バリエーション {n}", unfilled: "未設定：{list}", policies: "ショップのポリシー", try: "試す",
      result_language: "言語", result_intent: "インテント", result_confidence: "確信度", result_entities: "エンティティ",
      result_answers: "回答", train: "新しいモデルを学習", trainingUnavailable: "このサーバーではまだ学習を利用できません。",
      gate: "言語ごとの品質チェック", liveScore: "現在のモデル", candidateScore: "新しいモデル", result: "結果", pass: "合格",
      fail: "不合格", log: "ログ", models: "モデル", model: "モデル", created: "作成日時", live: "稼働中", action: "操作",
      rollback: "稼働させる", isLive: "稼働中", trainingState: "学習：{state}", state_queued: "待機中",
      state_training: "学習中", state_checking: "品質チェック中", state_swapping: "切り替え中", state_live: "稼働中",
      state_rejected: "品質チェックで不合格", state_failed: "失敗", noTraining: "まだ学習していません。",
      trainingRunning: "すでに学習中です。", default: "既定（一覧にない配送先）",
      days_min: "日数（最短）", days_max: "日数（最長）", fee_jpy: "送料（円）", free_over_jpy: "送料無料の金額（円）",
      currency: "通貨", payment_methods: "支払い方法（カンマ区切り）", model_: "関税モデル（ddp/ddu）",
      threshold: "関税の基準額", vat: "税の名称", dispatch_days: "発送日数", return_days: "返品期間（日）",
      refund_days: "返金日数", tracking_url: "追跡URL", none: "なし" },
  };

  const $ = (selector, root) => (root || document).querySelector(selector);
  const prefs = { lang: localStorage.getItem("crossdesk.studio.lang") || ((navigator.language || "en").startsWith("ja") ? "ja" : "en") };
  function t(key, values) {
    const text = (I18N[prefs.lang] || I18N.en)[key] || I18N.en[key] || key;
    return text.replace(/\{(\w+)\}/g, (_, name) => (values && name in values ? String(values[name]) : `{${name}}`));
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function button(label, onClick, className) {
    const node = el("button", className, label);
    node.type = "button";
    node.addEventListener("click", guard(onClick));
    return node;
  }
  function applyStrings() {
    document.documentElement.lang = prefs.lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    fillLanguageSelects();
  }
  function status(text, isError) {
    const box = $("#status");
    box.textContent = text || "";
    box.classList.toggle("error", Boolean(isError));
  }
  const when = (ts) => new Date(ts * 1000).toLocaleString(prefs.lang);

  /* -- HTTP -------------------------------------------------------------------- */
  const api = {
    async call(path, method, body) {
      const response = await fetch(path, { method: method || "GET", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (response.status === 401) { session.showLogin(); throw new Error("unauthorized"); }
      let data = null;
      try { data = await response.json(); } catch (_) { data = null; }
      return { status: response.status, ok: response.ok, data: data || {} };
    },
    /** The JSON of a successful call; otherwise the server's message in the status line, and an error. */
    async json(path, method, body) {
      const answer = await this.call(path, method, body);
      if (!answer.ok) {
        status(answer.data.message || `${answer.status}`, true);
        throw new Error(answer.data.error || String(answer.status));
      }
      return answer.data;
    },
  };

  /* -- session ---------------------------------------------------------------- */
  const session = {
    me: null,
    async start() {
      applyStrings();
      const answer = await fetch("/api/me", { credentials: "same-origin" });
      if (!answer.ok) { this.showLogin(); return; }
      this.enter(await answer.json());
    },
    showLogin() {
      $("#app").hidden = true; $("#forbidden").hidden = true; $("#login").hidden = false;
      $("#login-form [name=username]").focus();
    },
    enter(me) {
      this.me = me;
      $("#login").hidden = true;
      if (!["content", "admin"].includes(me.role)) {
        $("#forbidden-text").textContent = t("forbidden", { role: me.role });
        $("#forbidden").hidden = false;
        return;
      }
      $("#app").hidden = false;
      $("#me-name").textContent = me.display_name;
      studio.boot();
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
      this.enter(body.agent);
    },
    async logout() {
      await fetch("/api/logout", { method: "POST", credentials: "same-origin" }).catch(() => null);
      training.stop();
      this.me = null;
      this.showLogin();
    },
  };

  /* -- shared lists ------------------------------------------------------------- */
  const catalogue = { intents: [], answers: [] };
  function fillLanguageSelects() {
    document.querySelectorAll("select.languages, select.languages-any").forEach((select) => {
      const current = select.value;
      select.replaceChildren();
      if (select.classList.contains("languages-any")) select.append(new Option(t("anyLanguage"), ""));
      LANGUAGES.forEach((lang) => select.append(new Option(lang, lang)));
      if (current) select.value = current;
    });
  }
  function fillIntentSelects() {
    document.querySelectorAll("select.intents").forEach((select) => {
      const current = select.value;
      select.replaceChildren(...catalogue.intents.map((name) => new Option(name, name)));
      if (current) select.value = current;
    });
  }

  /* -- tabs -------------------------------------------------------------------- */
  const studio = {
    booted: false,
    async boot() {
      if (!this.booted) {
        this.booted = true;
        document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => this.show(b.dataset.tab)));
      }
      const data = await api.json("/api/studio/intents");
      catalogue.intents = data.intents;
      catalogue.answers = data.answers;
      fillLanguageSelects();
      fillIntentSelects();
      this.show(location.hash.slice(1) || "inbox");
    },
    show(name) {
      if (!$(`#tab-${name}`)) name = "inbox";
      document.querySelectorAll(".tab").forEach((tab) => { tab.hidden = tab.id !== `tab-${name}`; });
      document.querySelectorAll("#tabs button").forEach((b) => {
        if (b.dataset.tab === name) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
      });
      history.replaceState(null, "", `#${name}`);
      status("");
      if (name !== "training") training.stop();
      guard(({ inbox: () => inbox.load(), coverage: () => coverage.load(), examples: () => examples.load(),
        answers: () => answers.load(), facts: () => facts.load(), try: () => null, training: () => training.load() })[name])();
    },
  };

  /* -- inbox ------------------------------------------------------------------- */
  const inbox = {
    items: [],
    query(before) {
      const form = $("#inbox-filter");
      const params = new URLSearchParams();
      for (const name of ["language", "reason", "state", "q"]) if (form[name].value) params.set(name, form[name].value);
      if (before) params.set("before", before);
      return params;
    },
    async load(before) {
      const turn = this.turn = (this.turn || 0) + 1;
      const data = await api.json(`/api/studio/inbox?${this.query(before)}`);
      if (turn !== this.turn) return;
      if (!before) this.items = [];
      this.items.push(...data.items);
      this.renderGroups(data.groups);
      this.render();
      const more = $("#inbox-more");
      more.hidden = !data.next_before;
      more.onclick = guard(() => this.load(data.next_before));
    },
    renderGroups(groups) {
      $("#inbox-groups").replaceChildren(...groups.map((g) =>
        el("li", "", `${g.language || "?"} · ${t("reason_" + g.reason)}: ${g.count}`)));
    },
    render() {
      const body = $("#inbox-items");
      body.replaceChildren();
      for (const item of this.items) {
        const row = el("tr");
        row.dataset.id = item.id;
        const check = el("input");
        check.type = "checkbox";
        check.className = "pick";
        check.value = item.id;
        check.setAttribute("aria-label", t("selectItem", { text: item.text }));
        const pick = el("td"); pick.append(check);
        const message = el("td", "text", item.text);
        const reason = t("reason_" + item.reason) + (item.trigger ? ` (${item.trigger})` : "");
        const view = el("td"); view.append(button(t("open"), () => this.transcript(item)));
        row.append(pick, message, el("td", "", item.language || "?"), el("td", "", item.intent || ""),
          el("td", "", item.confidence === null ? "" : item.confidence.toFixed(2)), el("td", "", reason),
          el("td", "", when(item.created_at)), view);
        body.append(row);
      }
      $("#select-all").checked = false;
    },
    selected() { return [...document.querySelectorAll("#inbox-items .pick:checked")].map((c) => Number(c.value)); },
    async act(action) {
      const ids = this.selected();
      if (!ids.length) { status(t("nothingSelected"), true); return; }
      const body = { action, ids };
      if (action === "add") body.intent = $("#inbox-actions [name=intent]").value;
      const done = await api.json("/api/studio/inbox/actions", "POST", body);
      await this.load();
      status(action === "dismiss" ? t("saved") : t("done", { n: done.results.length }));
    },
    async transcript(item) {
      const data = await api.json(item.transcript);
      const list = $("#transcript-messages");
      list.replaceChildren(...data.messages.map((m) => {
        const line = el("li", m.sender);
        if (m.id === item.message_id) line.setAttribute("aria-current", "true");
        line.append(el("span", "who", `${m.sender} · ${m.language || "?"}${m.intent ? " · " + m.intent : ""}`), el("span", "", m.text));
        return line;
      }));
      $("#transcript").hidden = false;
      $("#transcript-close").focus();
    },
  };

  /* -- coverage -------------------------------------------------------------------- */
  const coverage = {
    async load() {
      const data = await api.json("/api/studio/coverage");
      const head = el("tr");
      head.append(el("th", "", t("intent")), ...data.languages.map((lang) => el("th", "", lang)));
      $("#coverage-head").replaceChildren(head);
      $("#coverage-body").replaceChildren(...data.intents.map((intent) => {
        const row = el("tr");
        row.append(el("th", "", intent));
        for (const lang of data.languages) {
          const cell = data.cells[intent][lang];
          const td = el("td");
          const open = button(String(cell.examples), () => examples.open(intent, lang), "count");
          open.setAttribute("aria-label", `${intent} · ${lang}: ${cell.examples}`);
          td.append(open);
          const notes = [];
          if (cell.thin) { td.classList.add("thin"); td.append(el("span", "flag", " !")); notes.push(t("coverageHelp")); }
          if (cell.collisions.length) {
            td.classList.add("collision"); td.append(el("span", "flag", " ×"));
            notes.push(...cell.collisions.map((c) => `${c.example} ↔ ${c.other}`));
          }
          if (cell.answer === "missing") { td.classList.add("missing"); td.append(el("span", "flag", " –")); notes.push(cell.missing_answers.join(", ")); }
          if (notes.length) td.title = notes.join("\n");
          td.dataset.intent = intent; td.dataset.language = lang;
          row.append(td);
        }
        return row;
      }));
      const findings = [...data.errors.map((m) => el("li", "error", m)), ...data.warnings.map((m) => el("li", "", m))];
      $("#coverage-findings").replaceChildren(...(findings.length ? findings : [el("li", "", t("noFindings"))]));
    },
  };

  /* -- examples ---------------------------------------------------------------------- */
  const examples = {
    form() { return $("#examples-filter"); },
    /** The examples of one intent in one language (from a coverage cell). */
    open(intent, language) {
      const form = this.form();
      form.intent.value = intent;
      form.language.value = language;
      form.q.value = "";
      studio.show("examples");
    },
    async load() {
      const form = this.form();
      if (!form.language.value) form.language.value = "en";
      const params = new URLSearchParams({ intent: form.intent.value, language: form.language.value });
      if (form.q.value) params.set("q", form.q.value);
      const turn = this.turn = (this.turn || 0) + 1;
      const data = await api.json(`/api/studio/examples?${params}`);
      if (turn !== this.turn) return;  // a newer list was asked for meanwhile
      $("#examples-list").replaceChildren(...data.examples.map((example) => this.row(example)));
    },
    row(example) {
      const item = el("li");
      const text = el("span", "text", example.text);
      const edit = button(t("edit"), () => {
        const input = el("input");
        input.value = example.text;
        input.setAttribute("aria-label", t("editExample"));
        const save = button(t("save"), async () => {
          await this.send("PUT", "/api/studio/examples", { old: example.text, text: input.value });
        });
        item.replaceChildren(input, save, button(t("cancel"), () => this.load()));
        input.focus();
      });
      const remove = button(t("delete"), async () => {
        if (!window.confirm(t("confirmDelete", { text: example.text }))) return;
        await this.send("POST", "/api/studio/examples/delete", { text: example.text });
      }, "danger");
      item.append(text, el("span", "muted", example.file), edit, remove);
      return item;
    },
    async send(method, path, body) {
      const form = this.form();
      await api.json(path, method, { intent: form.intent.value, language: form.language.value, ...body });
      await this.load();
      status(t("savedRetrain"));
    },
  };

  /* -- answers --------------------------------------------------------------------------- */
  const answers = {
    async load() {
      const form = $("#answers-filter");
      if (!form.language.value) form.language.value = "en";
      const params = new URLSearchParams({ language: form.language.value });
      if (form.q.value) params.set("q", form.q.value);
      const turn = this.turn = (this.turn || 0) + 1;
      const data = await api.json(`/api/studio/answers?${params}`);
      if (turn !== this.turn) return;
      $("#answers-list").replaceChildren(...data.answers.map((answer) => this.card(answer, data.language)));
    },
    card(answer, language) {
      const card = el("section", "answer");
      card.dataset.name = answer.name;
      card.append(el("h3", "", answer.name),
        el("p", "muted", t("placeholders", { list: answer.placeholders.map((p) => `{${p}}`).join(" ") || t("none") })));
      const texts = answer.texts.length ? answer.texts : [""];  // missing in this language: write its first text
      texts.forEach((text, index) => {
        const label = el("label", "");
        label.append(el("span", "", t("variation", { n: index + 1 })));
        const box = el("textarea");
        box.value = text;
        box.dataset.index = index;
        label.append(box);
        const preview = el("p", "preview");
        preview.hidden = true;
        preview.setAttribute("aria-live", "polite");
        const save = button(t("save"), async () => {
          await api.json("/api/studio/answers", "PUT", { language, name: answer.name, index, text: box.value });
          status(t("savedLive"));
        }, "primary");
        save.classList.add("save");
        const show = button(t("preview"), async () => {
          const destination = $("#answers-filter [name=destination]").value.trim() || null;
          const data = await api.json("/api/studio/answers/preview", "POST", { language, text: box.value, destination });
          preview.textContent = data.text + (data.unfilled.length ? `\n${t("unfilled", { list: data.unfilled.join(", ") })}` : "");
          preview.hidden = false;
        });
        show.classList.add("show-preview");
        if (answer.english[index] && language !== "en") card.append(el("p", "english", t("english", { text: answer.english[index] })));
        card.append(label, save, show, preview);
      });
      return card;
    },
  };

  /* -- store facts ------------------------------------------------------------------------- */
  const DESTINATION_FIELDS = [["days_min", "int"], ["days_max", "int"], ["fee_jpy", "int"], ["free_over_jpy", "int"],
    ["currency", "text"], ["payment_methods", "list"], ["duties.model", "text"], ["duties.threshold", "text"], ["duties.vat", "text"]];
  const POLICY_FIELDS = [["dispatch_days", "int"], ["return_days", "int"], ["refund_days", "int"], ["tracking_url", "text"]];
  const facts = {
    data: null,
    async load() {
      this.data = await api.json("/api/studio/facts");
      const select = $("#facts-code");
      const current = select.value || "default";
      const codes = Object.keys((this.data.destinations || {}).destinations || {}).sort();
      select.replaceChildren(new Option(t("default"), "default"), ...codes.map((c) => new Option(c, c)));
      select.value = current;
      select.onchange = () => this.renderDestination();
      this.renderDestination();
      this.renderForm($("#policies-form"), POLICY_FIELDS, this.data.policies || {}, "policies", []);
    },
    renderDestination() {
      const code = $("#facts-code").value;
      const destinations = this.data.destinations || {};
      const values = code === "default" ? destinations.default || {} : (destinations.destinations || {})[code] || {};
      this.renderForm($("#facts-form"), DESTINATION_FIELDS, values, "destinations",
        code === "default" ? ["default"] : ["destinations", code]);
    },
    renderForm(form, fields, values, file, prefix) {
      form.replaceChildren();
      const inputs = [];
      for (const [name, kind] of fields) {
        const parts = name.split(".");
        let value = values;
        for (const part of parts) value = value === undefined || value === null ? undefined : value[part];
        const label = el("label");
        label.append(el("span", "", t(parts[parts.length - 1] === "model" ? "model_" : parts[parts.length - 1])));
        const input = el("input");
        input.name = name;
        input.value = value === undefined ? "" : kind === "list" ? value.join(", ") : String(value);
        input.dataset.original = input.value;
        if (kind === "int") input.inputMode = "numeric";
        label.append(input);
        form.append(label);
        inputs.push([input, parts, kind]);
      }
      const save = el("button", "", t("save"));
      save.type = "submit";
      form.append(save);
      form.onsubmit = guard(async (event) => {
        event.preventDefault();
        for (const [input, parts, kind] of inputs) {
          if (input.value === input.dataset.original) continue;
          const raw = input.value.trim();
          const value = kind === "int" ? (/^-?\d+$/.test(raw) ? Number(raw) : raw)
            : kind === "list" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : raw;
          await api.json("/api/studio/facts", "PUT", { file, path: [...prefix, ...parts], value });
        }
        await this.load();
        status(t("savedLive"));
      });
    },
  };

  /* -- try it ---------------------------------------------------------------------------------- */
  async function tryIt(event) {
    event.preventDefault();
    const form = event.target;
    const data = await api.json("/api/studio/try", "POST",
      { text: form.text.value, destination: form.destination.value.trim() || null });
    const out = $("#try-result");
    out.replaceChildren();
    const add = (key, value) => out.append(el("dt", "", t(key)), el("dd", "", value));
    add("result_language", data.language || "?");
    add("result_intent", data.intent || "");
    add("result_confidence", data.confidence === null ? "" : data.confidence.toFixed(3));
    add("result_entities", data.entities.map((e) => `${e.entity}=${e.value}`).join(", ") || t("none"));
    add("result_answers", data.answers.join("\n\n"));
  }

  /* -- training (the training API; absent until that part of the server is deployed) -------------- */
  const training = {
    timer: null,
    stop() { clearTimeout(this.timer); this.timer = null; },
    async load() {
      this.stop();
      const answer = await api.call("/api/studio/training");
      const missing = answer.status === 404;  // this server has no training API yet
      $("#training-unavailable").hidden = !missing;
      $("#train").disabled = missing;
      if (missing) return;
      this.render(answer.data.job);
      await this.loadModels();
      if (answer.data.job && !FINAL.includes(answer.data.job.state)) this.timer = setTimeout(guard(() => this.load()), 2000);
    },
    render(job) {
      $("#training-state").textContent = job ? t("trainingState", { state: t("state_" + job.state) }) : t("noTraining");
      $("#training-log").textContent = job ? (job.log || []).join("\n") : "";
      const log = $("#training-log"); log.scrollTop = log.scrollHeight;
      const languages = (job && job.gate && job.gate.languages) || {};
      $("#gate-rows").replaceChildren(...Object.entries(languages).map(([lang, row]) => {
        const tr = el("tr");
        tr.append(el("td", "", lang), el("td", "", row.live === null ? "" : Number(row.live).toFixed(3)),
          el("td", "", row.candidate === null ? "" : Number(row.candidate).toFixed(3)),
          el("td", row.ok ? "ok" : "bad", row.ok ? t("pass") : t("fail")));
        return tr;
      }));
    },
    async loadModels() {
      const answer = await api.call("/api/studio/models");
      if (!answer.ok) return;
      $("#models").replaceChildren(...(answer.data.models || []).map((model) => {
        const tr = el("tr");
        const action = el("td");
        if (!model.live) action.append(button(t("rollback"), () => this.activate(model.name)));
        tr.append(el("td", "", model.name), el("td", "", model.created_at ? when(model.created_at) : ""),
          el("td", "", model.live ? t("isLive") : ""), action);
        return tr;
      }));
    },
    async train() {
      const answer = await api.call("/api/studio/training", "POST");
      if (answer.status === 409) { status(t("trainingRunning"), true); }
      else if (!answer.ok) { status(answer.data.message || String(answer.status), true); return; }
      await this.load();
    },
    async activate(name) {
      await api.json(`/api/studio/models/${encodeURIComponent(name)}/activate`, "POST");
      status(t("saved"));
      await this.load();
    },
  };

  /* -- wiring ---------------------------------------------------------------------------------- */
  function guard(handler) {
    return (...args) => Promise.resolve(handler(...args)).catch((error) => {
      if (error && error.message !== "unauthorized" && !$("#status").textContent) status(String(error.message || error), true);
    });
  }
  document.addEventListener("DOMContentLoaded", () => {
    $("#login-form").addEventListener("submit", (event) => session.login(event));
    document.querySelectorAll("button.logout").forEach((b) => b.addEventListener("click", () => session.logout()));
    $("#ui-language").value = prefs.lang;
    $("#ui-language").addEventListener("change", (event) => {
      prefs.lang = event.target.value;
      localStorage.setItem("crossdesk.studio.lang", prefs.lang);
      applyStrings();
      if (session.me && !$("#app").hidden) studio.show(location.hash.slice(1) || "inbox");
    });
    $("#inbox-filter").addEventListener("submit", guard((event) => { event.preventDefault(); return inbox.load(); }));
    $("#inbox-actions").addEventListener("submit", guard((event) => { event.preventDefault(); return inbox.act("add"); }));
    $("#mark-oos").addEventListener("click", guard(() => inbox.act("out_of_scope")));
    $("#dismiss").addEventListener("click", guard(() => inbox.act("dismiss")));
    $("#select-all").addEventListener("change", (event) => {
      document.querySelectorAll("#inbox-items .pick").forEach((c) => { c.checked = event.target.checked; });
    });
    $("#transcript-close").addEventListener("click", () => { $("#transcript").hidden = true; });
    $("#examples-filter").addEventListener("submit", guard((event) => { event.preventDefault(); return examples.load(); }));
    $("#examples-filter [name=intent]").addEventListener("change", guard(() => examples.load()));
    $("#examples-filter [name=language]").addEventListener("change", guard(() => examples.load()));
    $("#example-add").addEventListener("submit", guard(async (event) => {
      event.preventDefault();
      await examples.send("POST", "/api/studio/examples", { text: event.target.text.value });
      event.target.text.value = "";
    }));
    $("#answers-filter").addEventListener("submit", guard((event) => { event.preventDefault(); return answers.load(); }));
    $("#try-form").addEventListener("submit", guard(tryIt));
    $("#train").addEventListener("click", guard(() => training.train()));
    guard(() => session.start())();
  });
})();
