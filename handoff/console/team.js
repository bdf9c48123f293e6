/*
 * Crossdesk team screen (admins only): the agent accounts from /api/admin/agents: list, create,
 * edit display name, languages, skills (routing: docs/protocol.md, Routing) and role, deactivate
 * (their open consoles are cut off at once) or reactivate, reset a password. textContent only.
 */
(function () {
  "use strict";

  const I18N = {
    en: {
      team: "Team", newAgent: "New agent", username: "Username", displayName: "Display name", password: "Password",
      languages: "Languages", skills: "Skills", role: "Role", create: "Create", status: "Status", actions: "Actions",
      listHint: "Comma-separated: languages like en, ja, zh-TW; skills like payments, returns, product.",
      online: "online, {n} conversation(s)", offline: "offline", deactivated: "deactivated",
      edit: "Edit", save: "Save", cancel: "Cancel", deactivate: "Deactivate", reactivate: "Reactivate",
      resetPassword: "Reset password", newPassword: "New password", editing: "Edit {name}",
      created: "{name} can now log in.", saved: "Saved {name}.", deactivatedDone: "{name} is deactivated; {n} open console(s) cut off.",
      reactivatedDone: "{name} can log in again.", passwordDone: "New password set for {name}; their open consoles log in again.",
      confirmDeactivate: "Deactivate {name}? They are logged out at once and their conversations return to the queue.",
      failed: "Not done: {message}", agent: "Agent", content: "Content", admin: "Admin", loading: "Loading…",
    },
    ja: {
      team: "チーム", newAgent: "担当者を追加", username: "ユーザー名", displayName: "表示名", password: "パスワード",
      languages: "対応言語", skills: "スキル", role: "役割", create: "追加", status: "状態", actions: "操作",
      listHint: "カンマ区切り：言語は en, ja, zh-TW など、スキルは payments, returns, product など。",
      online: "オンライン（会話 {n} 件）", offline: "オフライン", deactivated: "無効",
      edit: "編集", save: "保存", cancel: "キャンセル", deactivate: "無効にする", reactivate: "有効に戻す",
      resetPassword: "パスワードを再設定", newPassword: "新しいパスワード", editing: "{name} を編集",
      created: "{name} がログインできるようになりました。", saved: "{name} を保存しました。",
      deactivatedDone: "{name} を無効にしました。開いていたコンソール {n} 件を切断しました。",
      reactivatedDone: "{name} は再びログインできます。", passwordDone: "{name} のパスワードを再設定しました。開いていたコンソールは再ログインが必要です。",
      confirmDeactivate: "{name} を無効にしますか？すぐにログアウトされ、担当中の会話は待ち行列に戻ります。",
      failed: "できませんでした：{message}", agent: "担当者", content: "コンテンツ", admin: "管理者", loading: "読み込み中…",
    },
  };
  if (window.CrossdeskI18n) window.CrossdeskI18n.extend(I18N, "team");  // zh-CN, zh-TW, ko, fr, de, es (i18n.js)

  let lang = "en";
  let request = null;  // (path, options) -> fetch Response, from console.js
  let me = null;
  let roles = ["agent", "admin", "content"];

  const $ = (selector) => document.querySelector(selector);
  function t(key, values) {
    const template = (I18N[lang] || I18N.en)[key] || I18N.en[key] || key;
    return template.replace(/\{(\w+)\}/g, (_, name) => (values && name in values ? String(values[name]) : ""));
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function list(value) { return value.split(",").map((item) => item.trim()).filter(Boolean); }
  function field(label, input) {
    const wrap = el("label", "field");
    wrap.append(el("span", "", label), input);
    return wrap;
  }
  function input(name, attributes) {
    const node = el("input");
    node.name = name;
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    return node;
  }
  function roleSelect(value) {
    const select = el("select");
    select.name = "role";
    for (const role of roles) {
      const option = el("option", "", t(role));
      option.value = role;
      select.append(option);
    }
    select.value = value || "agent";
    return select;
  }
  function say(message) { $("#team-status").textContent = message; }

  async function call(path, method, body) {
    const response = await request(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.message || data.error || String(response.status));
    return data;
  }

  function build() {
    const root = $("#team");
    if (root.dataset.built) return;
    root.dataset.built = "1";
    const title = el("h2", "", "");
    title.id = "team-title";
    const form = el("form", "search");
    form.id = "team-create";
    const heading = el("h3", "", "");
    heading.id = "team-new-title";
    form.setAttribute("aria-labelledby", "team-new-title");
    form.append(
      field("", input("username", { required: "", maxlength: "64", autocomplete: "off" })),
      field("", input("display_name", { maxlength: "128" })),
      field("", input("password", { type: "password", required: "", minlength: "8", maxlength: "256", autocomplete: "new-password" })),
      field("", input("languages", { maxlength: "200", placeholder: "en, ja" })),
      field("", input("skills", { maxlength: "400", placeholder: "payments, returns" })),
      field("", roleSelect("agent")),
      el("button", "", ""));
    form.querySelector("button").type = "submit";
    form.addEventListener("submit", (event) => { event.preventDefault(); create(form); });
    const hint = el("p", "muted", "");
    hint.id = "team-hint";
    const status = el("p", "", "");
    status.id = "team-status";
    status.setAttribute("role", "status");
    const table = el("table", "results team-list");
    const head = el("thead");
    const row = el("tr");
    for (const key of ["displayName", "languages", "skills", "role", "status", "actions"]) {
      const th = el("th", "", "");
      th.dataset.teamI18n = key;
      th.scope = "col";
      row.append(th);
    }
    head.append(row);
    const body = el("tbody");
    body.id = "team-agents";
    table.append(head, body);
    const editor = el("div", "ticket-detail");
    editor.id = "team-editor";
    editor.hidden = true;
    root.append(title, heading, form, hint, status, table, editor);
    // Any other view opened from the sidebar (a conversation, history, tickets...) replaces this one.
    $("#sidebar").addEventListener("click", (event) => {
      if (!event.target.closest("#show-team")) root.hidden = true;
    }, true);
  }

  function label() {
    $("#team-title").textContent = t("team");
    $("#team-new-title").textContent = t("newAgent");
    const labels = ["username", "displayName", "password", "languages", "skills", "role"];
    $("#team-create").querySelectorAll("label.field > span").forEach((span, index) => { span.textContent = t(labels[index]); });
    $("#team-create button[type=submit]").textContent = t("create");
    $("#team-hint").textContent = t("listHint");
    document.querySelectorAll("[data-team-i18n]").forEach((node) => { node.textContent = t(node.dataset.teamI18n); });
  }

  async function load() {
    say(t("loading"));
    try {
      const data = await call("/api/admin/agents", "GET");
      roles = data.roles || roles;
      render(data.agents);
      say("");
    } catch (error) {
      say(t("failed", { message: error.message }));
    }
  }

  function render(agents) {
    const body = $("#team-agents");
    body.replaceChildren();
    for (const agent of agents) {
      const row = el("tr");
      row.dataset.username = agent.username;
      const name = el("td");
      name.append(el("strong", "", agent.display_name), el("div", "muted", agent.username));
      const state = !agent.active ? t("deactivated") : agent.online ? t("online", { n: agent.load }) : t("offline");
      const actions = el("td");
      const edit = el("button", "", t("edit"));
      edit.type = "button";
      edit.setAttribute("aria-label", `${t("edit")}: ${agent.display_name}`);
      edit.addEventListener("click", () => openEditor(agent));
      actions.append(edit);
      if (!me || agent.id !== me.id) {
        const toggle = el("button", agent.active ? "danger" : "", agent.active ? t("deactivate") : t("reactivate"));
        toggle.type = "button";
        toggle.className += agent.active ? " deactivate" : " reactivate";
        toggle.setAttribute("aria-label", `${toggle.textContent}: ${agent.display_name}`);
        toggle.addEventListener("click", () => setActive(agent, !agent.active));
        actions.append(" ", toggle);
      }
      row.append(name, el("td", "", agent.languages.join(", ")), el("td", "", agent.skills.join(", ")),
        el("td", "", t(agent.role)), el("td", "status", state), actions);
      body.append(row);
    }
  }

  async function create(form) {
    const body = {
      username: form.username.value.trim(), password: form.password.value, languages: list(form.languages.value),
      skills: list(form.skills.value), role: form.role.value,
    };
    if (form.display_name.value.trim()) body.display_name = form.display_name.value.trim();
    try {
      const data = await call("/api/admin/agents", "POST", body);
      form.reset();
      await load();
      say(t("created", { name: data.agent.display_name }));
    } catch (error) {
      say(t("failed", { message: error.message }));
    }
  }

  function openEditor(agent) {
    const editor = $("#team-editor");
    editor.hidden = false;
    const title = el("h3", "", t("editing", { name: agent.display_name }));
    title.id = "team-edit-title";
    const form = el("form", "search");
    form.setAttribute("aria-labelledby", "team-edit-title");
    const name = input("display_name", { required: "", maxlength: "128" });
    name.value = agent.display_name;
    const languages = input("languages", { maxlength: "200" });
    languages.value = agent.languages.join(", ");
    const skills = input("skills", { maxlength: "400" });
    skills.value = agent.skills.join(", ");
    const role = roleSelect(agent.role);
    if (me && agent.id === me.id) role.disabled = true;  // nobody changes their own role
    const save = el("button", "", t("save"));
    save.type = "submit";
    const cancel = el("button", "", t("cancel"));
    cancel.type = "button";
    cancel.addEventListener("click", () => { editor.hidden = true; editor.replaceChildren(); });
    form.append(field(t("displayName"), name), field(t("languages"), languages), field(t("skills"), skills),
      field(t("role"), role), save, cancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { display_name: name.value.trim(), languages: list(languages.value), skills: list(skills.value) };
      if (!role.disabled) body.role = role.value;
      try {
        const data = await call(`/api/admin/agents/${agent.id}`, "PATCH", body);
        editor.hidden = true;
        editor.replaceChildren();
        await load();
        say(t("saved", { name: data.agent.display_name }));
      } catch (error) {
        say(t("failed", { message: error.message }));
      }
    });
    const reset = el("form", "search");
    reset.setAttribute("aria-label", t("resetPassword"));
    const password = input("password", { type: "password", required: "", minlength: "8", maxlength: "256", autocomplete: "new-password" });
    const resetButton = el("button", "", t("resetPassword"));
    resetButton.type = "submit";
    reset.append(field(t("newPassword"), password), resetButton);
    reset.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await call(`/api/admin/agents/${agent.id}/password`, "POST", { password: password.value });
        reset.reset();
        say(t("passwordDone", { name: agent.display_name }));
      } catch (error) {
        say(t("failed", { message: error.message }));
      }
    });
    editor.replaceChildren(title, form, reset);
    name.focus();
  }

  async function setActive(agent, active) {
    if (!active && !window.confirm(t("confirmDeactivate", { name: agent.display_name }))) return;
    try {
      const data = await call(`/api/admin/agents/${agent.id}/${active ? "reactivate" : "deactivate"}`, "POST");
      await load();
      say(active ? t("reactivatedDone", { name: agent.display_name })
        : t("deactivatedDone", { name: agent.display_name, n: data.sockets_closed }));
    } catch (error) {
      say(t("failed", { message: error.message }));
    }
  }

  window.CrossdeskTeam = {
    /** Show the team screen: ``{request, lang, me}`` from the console. */
    open(options) {
      request = options.request || request;
      lang = options.lang || lang;
      me = options.me || me;
      build();
      label();
      $("#team").hidden = false;
      load();
    },
    hide() { const root = $("#team"); if (root) root.hidden = true; },
    setLanguage(code) {
      lang = code;
      if ($("#team") && $("#team").dataset.built) { label(); if (!$("#team").hidden) load(); }
    },
  };
})();
