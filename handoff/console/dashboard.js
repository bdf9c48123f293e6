/*
 * Crossdesk KPI dashboard (admins only): figures from GET /api/admin/kpis, each drawn with
 * Chart.js (vendor/chart.umd.min.js, loaded on first use so agents never download it) next to
 * its table (the accessible alternative) and a CSV export. All text goes in with textContent.
 */
(function () {
  "use strict";

  const CHART_JS = "/console/static/vendor/chart.umd.min.js";
  const COLORS = ["#1f5fbf", "#e07b00", "#2e7d32", "#8e24aa"];
  const I18N = {
    en: {
      dashboard: "Dashboard", from: "From", to: "To", timeZone: "Time zone", show: "Show", csv: "CSV",
      computed: "Computed in {ms} ms", loading: "Loading…", failed: "Could not load the figures: {message}",
      pending: "Some figures are not available yet.",
      tickets: "Tickets against the service promise", opened: "Opened", solved: "Solved",
      overdue: "Overdue (promise broken)", kept_pct: "Promise kept %",
      containment_by_language: "Containment by language (bot alone, %)",
      containment_by_intent: "Containment by first intent (%)",
      lost_by_trigger: "Conversations handed to people, by first trigger",
      handoffs_by_trigger_language: "Handoffs by trigger and language",
      response_times: "Waits and response times (seconds)",
      volume_by_hour: "Conversations by hour of day", volume_by_weekday: "Conversations by day of week",
      not_understood: "Messages the bot did not understand", agents: "Per agent",
      language: "Language", intent: "Intent", trigger: "Trigger", conversations: "Conversations",
      contained: "Contained", containment_pct: "Containment %", share_pct: "Share %", handoffs: "Handoffs",
      measure: "Measure", count: "Count", p50_s: "p50 (s)", p90_s: "p90 (s)", open: "Still open",
      hour: "Hour", weekday: "Day", text: "Message", agent: "Agent", messages: "Messages",
      first_response_p50_s: "First response p50 (s)", resolutions: "Resolutions", resolution_p50_s: "Resolution p50 (s)",
      queue_wait: "Queue wait", bot_first_response: "Bot first response", agent_first_response: "Person first response",
      resolution: "Resolution time",
      csat_by_language: "Satisfaction (CSAT) by language", csat_by_agent: "Satisfaction (CSAT) by agent",
      ratings: "Ratings", average: "Average (1-5)", satisfied_pct: "Satisfied (4-5) %",
      r1: "1", r2: "2", r3: "3", r4: "4", r5: "5",
    },
    ja: {
      dashboard: "ダッシュボード", from: "開始日", to: "終了日", timeZone: "タイムゾーン", show: "表示", csv: "CSV",
      computed: "{ms} ms で集計", loading: "読み込み中…", failed: "集計を取得できませんでした: {message}",
      pending: "まだ表示できない指標があります。",
      tickets: "チケットとサービス約束（期限）", opened: "受付", solved: "解決",
      overdue: "期限超過（約束違反）", kept_pct: "期限内解決率 %",
      containment_by_language: "言語別の自己解決率（ボットのみ, %）",
      containment_by_intent: "最初の意図別の自己解決率（%）",
      lost_by_trigger: "担当者へ引き継いだ会話（最初のきっかけ別）",
      handoffs_by_trigger_language: "きっかけ・言語別の引き継ぎ",
      response_times: "待ち時間と応答時間（秒）",
      volume_by_hour: "時間帯別の会話数", volume_by_weekday: "曜日別の会話数",
      not_understood: "ボットが理解できなかったメッセージ", agents: "担当者別",
      language: "言語", intent: "意図", trigger: "きっかけ", conversations: "会話数",
      contained: "自己解決", containment_pct: "自己解決率 %", share_pct: "割合 %", handoffs: "引き継ぎ数",
      measure: "指標", count: "件数", p50_s: "p50（秒）", p90_s: "p90（秒）", open: "未完了",
      hour: "時", weekday: "曜日", text: "メッセージ", agent: "担当者", messages: "メッセージ数",
      first_response_p50_s: "初回応答 p50（秒）", resolutions: "解決数", resolution_p50_s: "解決時間 p50（秒）",
      queue_wait: "待ち時間", bot_first_response: "ボットの初回応答", agent_first_response: "担当者の初回応答",
      resolution: "解決時間",
      csat_by_language: "言語別の満足度（CSAT）", csat_by_agent: "担当者別の満足度（CSAT）",
      ratings: "評価数", average: "平均（1〜5）", satisfied_pct: "満足（4〜5）%",
      r1: "1", r2: "2", r3: "3", r4: "4", r5: "5",
    },
  };
  if (window.CrossdeskI18n) window.CrossdeskI18n.extend(I18N, "dashboard");  // zh-CN, zh-TW, ko, fr, de, es (i18n.js)

  let lang = "en";
  // How the dashboard calls the API: the console's own request function (session cookie, logs out on 401).
  let request = (path) => fetch(path, { credentials: "same-origin" });
  let charts = [];
  let report = null;

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
  function isoDay(date) {
    return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
  }

  function loadChartJs() {
    if (window.Chart) return Promise.resolve();
    if (!loadChartJs.promise) {
      loadChartJs.promise = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = CHART_JS;
        script.onload = resolve;
        script.onerror = () => reject(new Error("chart library did not load"));
        document.head.append(script);
      });
    }
    return loadChartJs.promise;
  }

  function query() {
    const form = $("#kpi-form");
    const params = new URLSearchParams();
    for (const name of ["from", "to", "tz"]) if (form[name].value) params.set(name, form[name].value);
    return params;
  }

  async function fetchJson(path) {
    const response = await request(path);
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || body.error || response.status);
    return body;
  }

  function label(row, chart) {
    const value = (name) => {
      const cell = row[chart.columns.indexOf(name)];
      return name === "measure" ? t(cell) : cell;
    };
    return chart.x.map(value).join(" · ");
  }

  function table(chart) {
    const node = el("table", "kpi-table");
    node.append(el("caption", "", t(chart.id)));
    const head = el("tr");
    for (const column of chart.columns) {
      const th = el("th", "", t(column));
      th.scope = "col";
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const row of chart.rows) {
      const tr = el("tr");
      row.forEach((cell, i) => {
        const text = chart.columns[i] === "measure" ? t(cell) : cell === null ? "–" : cell;
        tr.append(el("td", typeof cell === "number" ? "num" : "", text));
      });
      tbody.append(tr);
    }
    node.append(thead, tbody);
    return node;
  }

  function draw(chart, holder) {
    const canvas = el("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", t(chart.id));
    holder.append(canvas);
    const datasets = chart.series.map((name, i) => ({
      label: t(name), backgroundColor: COLORS[i % COLORS.length],
      data: chart.rows.map((row) => row[chart.columns.indexOf(name)]),
    }));
    charts.push(new window.Chart(canvas, {
      type: "bar",
      data: { labels: chart.rows.map((row) => label(row, chart)), datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: datasets.length > 1 } }, scales: { y: { beginAtZero: true } } },
    }));
  }

  async function download(id) {
    const params = query();
    params.set("chart", id);
    const response = await request("/api/admin/kpis.csv?" + params);
    if (!response.ok) return;
    const link = el("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = `crossdesk-${id}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  function render() {
    charts.forEach((c) => c.destroy());
    charts = [];
    const root = $("#kpi-charts");
    root.replaceChildren();
    if (!report) return;
    $("#kpi-status").textContent = t("computed", { ms: report.elapsed_ms });
    for (const chart of report.charts) {
      const section = el("section", "kpi");
      section.id = "kpi-" + chart.id;
      const header = el("header");
      const csv = el("button", "", t("csv"));
      csv.type = "button";
      csv.className = "kpi-csv";
      csv.setAttribute("aria-label", `${t("csv")}: ${t(chart.id)}`);
      csv.addEventListener("click", () => download(chart.id));
      header.append(el("h3", "", t(chart.id)), csv);
      const body = el("div", "kpi-body");
      if (chart.kind !== "table" && chart.rows.length) {
        const holder = el("div", "kpi-chart");
        body.append(holder);
        draw(chart, holder);
      }
      body.append(table(chart));
      section.append(header, body);
      root.append(section);
    }
    if (report.pending.length) root.append(el("p", "muted", t("pending")));
  }

  function applyStrings() {
    document.querySelectorAll("[data-kpi-i18n]").forEach((node) => { node.textContent = t(node.dataset.kpiI18n); });
  }

  async function load(event) {
    if (event) event.preventDefault();
    $("#kpi-status").textContent = t("loading");
    try {
      const [body] = await Promise.all([fetchJson("/api/admin/kpis?" + query()), loadChartJs()]);
      report = body;
      render();
    } catch (error) {
      $("#kpi-status").textContent = t("failed", { message: error.message });
    }
  }

  let wired = false;
  function wire() {
    if (wired) return;
    wired = true;
    const form = $("#kpi-form");
    const today = new Date();
    form.to.value = isoDay(today);
    form.from.value = isoDay(new Date(today.getTime() - 29 * 86400000));
    form.tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    form.addEventListener("submit", load);
  }

  window.CrossdeskDashboard = {
    /** Show the dashboard in the UI language, loading the last 30 days; ``options.request(path)`` (the
     * console's API call, authenticated by its HttpOnly session cookie) fetches the figures. */
    open(options) {
      if (options.request) request = options.request;
      lang = options.lang || "en";
      wire();
      applyStrings();
      $("#dashboard").hidden = false;
      return load();
    },
    /** Switch the dashboard's texts (the figures stay). */
    setLanguage(code) {
      lang = code;
      applyStrings();
      if (report && !$("#dashboard").hidden) render();
    },
  };
})();
