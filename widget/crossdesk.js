/*
 * Crossdesk storefront chat widget.
 *
 * Embed with one tag (an optional config object may come first):
 *   <script>window.CrossdeskConfig = { language: "ja", position: "left" };</script>
 *   <script src="https://YOUR-CROSSDESK/widget/crossdesk.js" defer></script>
 *
 * Global API: Crossdesk.init(config), open(), close(), setLanguage(code),
 * setUser({id, name, email, hash}), destroy(). Arguments are checked; bad ones throw.
 *
 * Speaks Rasa's socket.io protocol (session_request / user_uttered /
 * bot_uttered); Crossdesk's extensions (history replay, acks, typing, contact
 * form) are used when the server offers them. Every text from the network is
 * rendered with textContent, never as HTML.
 */
(function () {
  "use strict";

  const SCRIPT = document.currentScript;
  const VERSION = "1.0.0";
  const STORAGE = "crossdesk.";
  const MAX_CHARS = 2000;
  const ACK_TIMEOUT_MS = 8000;
  const RETRYABLE = ["rate_limited", "busy"]; // refused, not stored: send again after retry_after
  // The console repeats "typing" every 2 s while the agent types; one that stops without
  // saying so (tab closed, connection lost) must not leave "is typing…" up for good.
  const TYPING_SHOWN_MS = 6000;
  const RTL = ["ar", "he", "fa", "ur"];

  /* UI strings. Conversation text itself comes from the server. */
  const STRINGS = {
    en: { attach: "Attach a photo or PDF", camera: "Take a photo", retrying: "Too many messages at once; sending again in a moment…", untranslated: "not translated", title: "Chat with us", subtitle: "Shipping, customs, payment, returns", launcher: "Chat",
      open: "Open chat", close: "Close chat", placeholder: "Type your message…", send: "Send",
      language: "Language", typing: "{name} is typing…", assistant: "Assistant", you: "You",
      offline: "Connection lost. Reconnecting… Your messages will be sent.", sending: "Sending…",
      failed: "Not sent: {reason}", unread: "{n} unread messages", contactTitle: "Leave your contact and we'll get back to you",
      email: "E-mail", name: "Name (optional)", contactSend: "Send contact", contactThanks: "Thanks! We'll reply by e-mail.",
      newConversation: "Messages",
      queue: "You are number {n} in line", queueWait: "expected wait about {m} min", queueSoon: "expected wait under a minute" },
    ja: { attach: "写真またはPDFを添付", camera: "写真を撮る", retrying: "短時間に送信が集中しています。まもなく再送信します…", untranslated: "未翻訳", title: "チャットでお問い合わせ", subtitle: "配送・関税・お支払い・返品", launcher: "チャット",
      open: "チャットを開く", close: "チャットを閉じる", placeholder: "メッセージを入力…", send: "送信",
      language: "言語", typing: "{name}が入力中…", assistant: "アシスタント", you: "あなた",
      offline: "接続が切れました。再接続しています…メッセージは後で送信されます。", sending: "送信中…",
      failed: "送信できませんでした：{reason}", unread: "未読メッセージ {n} 件", contactTitle: "連絡先を残していただければ、折り返しご連絡します",
      email: "メールアドレス", name: "お名前（任意）", contactSend: "連絡先を送信", contactThanks: "ありがとうございます。メールでご返信します。",
      newConversation: "メッセージ",
      queue: "順番待ち：{n}番目", queueWait: "待ち時間の目安 約{m}分", queueSoon: "待ち時間の目安 1分以内" },
    "zh-CN": { attach: "添加照片或PDF", camera: "拍照", retrying: "发送过于频繁，稍后将自动重新发送…", untranslated: "未翻译", title: "在线咨询", subtitle: "配送、关税、支付、退货", launcher: "咨询",
      open: "打开聊天", close: "关闭聊天", placeholder: "请输入消息…", send: "发送",
      language: "语言", typing: "{name}正在输入…", assistant: "智能助手", you: "我",
      offline: "连接已断开，正在重新连接…消息会在恢复后发送。", sending: "发送中…",
      failed: "未发送：{reason}", unread: "{n} 条未读消息", contactTitle: "留下联系方式，我们会尽快回复您",
      email: "电子邮箱", name: "姓名（选填）", contactSend: "提交", contactThanks: "谢谢！我们会通过邮件回复您。",
      newConversation: "消息",
      queue: "您目前排在第 {n} 位", queueWait: "预计等待约 {m} 分钟", queueSoon: "预计等待不到 1 分钟" },
    "zh-TW": { attach: "附加相片或PDF", camera: "拍照", retrying: "傳送過於頻繁，稍後將自動重新傳送…", untranslated: "未翻譯", title: "線上客服", subtitle: "運送、關稅、付款、退貨", launcher: "客服",
      open: "開啟聊天", close: "關閉聊天", placeholder: "請輸入訊息…", send: "傳送",
      language: "語言", typing: "{name}正在輸入…", assistant: "智慧助理", you: "我",
      offline: "連線中斷，正在重新連線…訊息會在恢復後送出。", sending: "傳送中…",
      failed: "未送出：{reason}", unread: "{n} 則未讀訊息", contactTitle: "留下聯絡方式，我們會盡快回覆您",
      email: "電子郵件", name: "姓名（選填）", contactSend: "送出", contactThanks: "謝謝！我們會用電子郵件回覆您。",
      newConversation: "訊息",
      queue: "您目前排在第 {n} 位", queueWait: "預計等候約 {m} 分鐘", queueSoon: "預計等候不到 1 分鐘" },
    ko: { attach: "사진 또는 PDF 첨부", camera: "사진 찍기", retrying: "메시지가 너무 많습니다. 잠시 후 다시 보냅니다…", untranslated: "번역 안 됨", title: "채팅 상담", subtitle: "배송, 관세, 결제, 반품", launcher: "상담",
      open: "채팅 열기", close: "채팅 닫기", placeholder: "메시지를 입력하세요…", send: "보내기",
      language: "언어", typing: "{name}님이 입력 중…", assistant: "어시스턴트", you: "나",
      offline: "연결이 끊겼습니다. 다시 연결하는 중… 메시지는 연결되면 전송됩니다.", sending: "보내는 중…",
      failed: "전송 실패: {reason}", unread: "읽지 않은 메시지 {n}개", contactTitle: "연락처를 남겨 주시면 답변드리겠습니다",
      email: "이메일", name: "이름 (선택)", contactSend: "연락처 보내기", contactThanks: "감사합니다! 이메일로 답변드리겠습니다.",
      newConversation: "메시지",
      queue: "대기 순서: {n}번째", queueWait: "예상 대기 시간 약 {m}분", queueSoon: "예상 대기 시간 1분 이내" },
    fr: { attach: "Joindre une photo ou un PDF", camera: "Prendre une photo", retrying: "Trop de messages à la fois ; nouvel envoi dans un instant…", untranslated: "non traduit", title: "Discutons", subtitle: "Livraison, douane, paiement, retours", launcher: "Aide",
      open: "Ouvrir le chat", close: "Fermer le chat", placeholder: "Écrivez votre message…", send: "Envoyer",
      language: "Langue", typing: "{name} écrit…", assistant: "Assistant", you: "Vous",
      offline: "Connexion perdue. Reconnexion… Vos messages seront envoyés.", sending: "Envoi…",
      failed: "Non envoyé : {reason}", unread: "{n} messages non lus", contactTitle: "Laissez vos coordonnées, nous vous recontacterons",
      email: "E-mail", name: "Nom (facultatif)", contactSend: "Envoyer", contactThanks: "Merci ! Nous vous répondrons par e-mail.",
      newConversation: "Messages",
      queue: "Vous êtes numéro {n} dans la file", queueWait: "attente estimée environ {m} min", queueSoon: "attente estimée moins d’une minute" },
    de: { attach: "Foto oder PDF anhängen", camera: "Foto aufnehmen", retrying: "Zu viele Nachrichten auf einmal; wird gleich erneut gesendet…", untranslated: "nicht übersetzt", title: "Chatte mit uns", subtitle: "Versand, Zoll, Zahlung, Rücksendung", launcher: "Chat",
      open: "Chat öffnen", close: "Chat schließen", placeholder: "Nachricht eingeben…", send: "Senden",
      language: "Sprache", typing: "{name} schreibt…", assistant: "Assistent", you: "Du",
      offline: "Verbindung unterbrochen. Neuer Versuch… Deine Nachrichten werden gesendet.", sending: "Wird gesendet…",
      failed: "Nicht gesendet: {reason}", unread: "{n} ungelesene Nachrichten", contactTitle: "Hinterlasse deine Kontaktdaten, wir melden uns",
      email: "E-Mail", name: "Name (optional)", contactSend: "Kontakt senden", contactThanks: "Danke! Wir antworten per E-Mail.",
      newConversation: "Nachrichten",
      queue: "Du bist Nummer {n} in der Warteschlange", queueWait: "geschätzte Wartezeit etwa {m} Min.", queueSoon: "geschätzte Wartezeit unter einer Minute" },
    es: { attach: "Adjuntar una foto o un PDF", camera: "Hacer una foto", retrying: "Demasiados mensajes a la vez; se reenviará en un momento…", untranslated: "sin traducir", title: "Chatea con nosotros", subtitle: "Envíos, aduanas, pagos, devoluciones", launcher: "Chat",
      open: "Abrir chat", close: "Cerrar chat", placeholder: "Escribe tu mensaje…", send: "Enviar",
      language: "Idioma", typing: "{name} está escribiendo…", assistant: "Asistente", you: "Tú",
      offline: "Conexión perdida. Reconectando… Tus mensajes se enviarán.", sending: "Enviando…",
      failed: "No enviado: {reason}", unread: "{n} mensajes sin leer", contactTitle: "Déjanos tu contacto y te responderemos",
      email: "Correo electrónico", name: "Nombre (opcional)", contactSend: "Enviar contacto", contactThanks: "¡Gracias! Te responderemos por correo.",
      newConversation: "Mensajes",
      queue: "Eres el número {n} en la cola", queueWait: "espera estimada unos {m} min", queueSoon: "espera estimada menos de un minuto" },
    ar: { attach: "إرفاق صورة أو ملف PDF", camera: "التقاط صورة", retrying: "رسائل كثيرة في وقت واحد؛ ستُرسل مجددًا بعد لحظات…", untranslated: "غير مترجم", title: "تحدث معنا", subtitle: "الشحن والجمارك والدفع والإرجاع", launcher: "محادثة",
      open: "افتح المحادثة", close: "أغلق المحادثة", placeholder: "اكتب رسالتك…", send: "إرسال",
      language: "اللغة", typing: "{name} يكتب…", assistant: "المساعد", you: "أنت",
      offline: "انقطع الاتصال. جارٍ إعادة الاتصال… سيتم إرسال رسائلك.", sending: "جارٍ الإرسال…",
      failed: "لم يتم الإرسال: {reason}", unread: "{n} رسائل غير مقروءة", contactTitle: "اترك بيانات التواصل وسنعود إليك",
      email: "البريد الإلكتروني", name: "الاسم (اختياري)", contactSend: "إرسال", contactThanks: "شكرًا! سنرد عبر البريد الإلكتروني.",
      newConversation: "الرسائل",
      queue: "ترتيبك {n} في قائمة الانتظار", queueWait: "الانتظار المتوقع نحو {m} دقيقة", queueSoon: "الانتظار المتوقع أقل من دقيقة" },
    he: { attach: "צירוף תמונה או PDF", camera: "צילום תמונה", retrying: "יותר מדי הודעות בבת אחת; נשלח שוב בעוד רגע…", untranslated: "לא תורגם", title: "דברו איתנו", subtitle: "משלוח, מכס, תשלום, החזרות", launcher: "צ'אט",
      open: "פתיחת הצ'אט", close: "סגירת הצ'אט", placeholder: "הקלידו הודעה…", send: "שליחה",
      language: "שפה", typing: "{name} מקליד/ה…", assistant: "עוזר", you: "אני",
      offline: "החיבור אבד. מתחבר מחדש… ההודעות יישלחו.", sending: "שולח…",
      failed: "לא נשלח: {reason}", unread: "{n} הודעות שלא נקראו", contactTitle: "השאירו פרטי קשר ונחזור אליכם",
      email: "דוא\"ל", name: "שם (לא חובה)", contactSend: "שליחה", contactThanks: "תודה! נחזור אליכם בדוא\"ל.",
      newConversation: "הודעות",
      queue: "את/ה במקום {n} בתור", queueWait: "זמן המתנה משוער כ-{m} דקות", queueSoon: "זמן המתנה משוער פחות מדקה" },
  };
  const LANGUAGE_NAMES = { en: "English", ja: "日本語", "zh-CN": "简体中文", "zh-TW": "繁體中文", ko: "한국어",
    fr: "Français", de: "Deutsch", es: "Español", ar: "العربية", he: "עברית" };

  /** The supported UI language closest to a BCP 47 tag ("zh-Hant-TW" -> "zh-TW"). */
  function uiLanguage(tag) {
    if (typeof tag !== "string" || !tag) return "en";
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) {
      return /hant|tw|hk|mo/.test(lower) ? "zh-TW" : "zh-CN";
    }
    const base = lower.split(/[-_]/)[0];
    return STRINGS[base] ? base : "en";
  }

  const clockFormats = new Map();
  const ICONS = {  // paperclip, camera
    attach: "M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7",
    camera: "M3 8h4l2-3h6l2 3h4v11H3z M12 10a3.5 3.5 0 1 0 0 7a3.5 3.5 0 0 0 0-7",
  };
  // Queue notices after which the shopper is offered the contact form: nobody online, or outside business hours.
  const OFFLINE_NOTICES = ["utter_handoff_offline", "utter_handoff_closed"];

  /** The browser's IANA time zone ("Asia/Tokyo"), or "" when it cannot tell. */
  function shopperTimeZone() {
    try {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      return typeof zone === "string" && zone.length <= 64 ? zone : "";
    } catch (error) {
      return "";
    }
  }

  /**
   * "14:05" or "2:05 PM" as the shopper's locale writes times: the browser's locale when it
   * speaks the chat's language (en-GB for English), else the chat's language. The hour cycle
   * is the locale's own (never forced).
   */
  function clockText(date, lang) {
    const browser = [navigator.language, ...(navigator.languages || [])];
    const locale = browser.find((tag) => typeof tag === "string" && tag && uiLanguage(tag) === lang) || lang;
    if (!clockFormats.has(locale)) {
      clockFormats.set(locale, new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" }));
    }
    return clockFormats.get(locale).format(date);
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
  }

  function newId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const storage = {
    get(key, fallback) {
      try { const raw = localStorage.getItem(STORAGE + key); return raw === null ? fallback : JSON.parse(raw); }
      catch (_) { return fallback; }
    },
    set(key, value) {
      try { localStorage.setItem(STORAGE + key, JSON.stringify(value)); } catch (_) { /* private mode */ }
    },
    remove(key) { try { localStorage.removeItem(STORAGE + key); } catch (_) { /* ignore */ } },
  };

  const LINK_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

  /** Text with http(s) links made clickable; everything else stays text. */
  function linkified(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(LINK_RE)) {
      let url = match[0].replace(/[.,;:!?)\]}」。、]+$/, "");
      let href;
      try { href = new URL(url); } catch (_) { continue; }
      if (href.protocol !== "http:" && href.protocol !== "https:") continue;
      fragment.append(text.slice(last, match.index));
      const a = document.createElement("a");
      a.href = href.href;
      a.textContent = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      fragment.append(a);
      last = match.index + url.length;
    }
    fragment.append(text.slice(last));
    return fragment;
  }

  const STYLE = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    .root { --accent: var(--crossdesk-accent, #1f5fbf); --accent-text: var(--crossdesk-accent-text, #fff);
      --bg: var(--crossdesk-background, #fff); --text: var(--crossdesk-text, #1a1a1a);
      --muted: var(--crossdesk-muted, #5a6270); --bot-bg: var(--crossdesk-bot-background, #eef1f5);
      --agent-bg: var(--crossdesk-agent-background, #fff4d6); --radius: var(--crossdesk-radius, 14px);
      font: 14px/1.45 var(--crossdesk-font, system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Noto Sans CJK JP", "Microsoft YaHei", sans-serif);
      color: var(--text); }
    button, input, select, textarea { font: inherit; }
    :focus-visible { outline: 3px solid var(--crossdesk-focus, #ffbf47); outline-offset: 2px; }
    .launcher { position: fixed; bottom: 20px; inset-inline-end: 20px; z-index: 2147483000; border: 0;
      border-radius: 28px; padding: 14px 20px; font-weight: 600; background: var(--accent); color: var(--accent-text);
      cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
    .root.left .launcher { inset-inline-end: auto; inset-inline-start: 20px; }
    .badge { display: none; position: absolute; top: -6px; inset-inline-end: -6px; min-width: 22px; height: 22px;
      padding: 0 6px; border-radius: 11px; background: #c62828; color: #fff; font: 700 12px/22px system-ui, sans-serif; }
    .badge.on { display: inline-block; }
    .panel { position: fixed; bottom: 84px; inset-inline-end: 20px; z-index: 2147483000; width: 370px;
      max-width: calc(100vw - 40px); height: 560px; max-height: calc(100vh - 110px); display: none;
      flex-direction: column; background: var(--bg); border-radius: var(--radius); overflow: hidden;
      box-shadow: 0 10px 34px rgba(0,0,0,.28); }
    .root.left .panel { inset-inline-end: auto; inset-inline-start: 20px; }
    .panel.open { display: flex; }
    header { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: var(--accent);
      color: var(--accent-text); }
    header .titles { flex: 1; min-width: 0; }
    header h2 { margin: 0; font-size: 16px; font-weight: 700; }
    header p { margin: 0; font-size: 12px; opacity: .9; }
    header select { max-width: 110px; border-radius: 6px; border: 0; padding: 4px; }
    header .close { border: 0; background: transparent; color: inherit; font-size: 22px; line-height: 1;
      cursor: pointer; padding: 4px 8px; border-radius: 6px; }
    .status { display: none; padding: 6px 12px; background: #fff3cd; color: #5c4400; font-size: 12px; }
    .status.on { display: block; }
    .queue { margin: 0; padding: 6px 12px; background: var(--crossdesk-bot-background, #f1f3f5); font-size: 12px; }
    .queue:empty { display: none; }
    .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px;
      overscroll-behavior: contain; }
    .msg { max-width: 85%; display: flex; flex-direction: column; gap: 2px; }
    .msg .bubble { padding: 8px 12px; border-radius: 14px; white-space: pre-wrap; overflow-wrap: anywhere;
      word-break: normal; line-break: strict; }
    .msg .meta { font-size: 11px; color: var(--muted); padding: 0 4px; }
    .msg a { color: inherit; text-decoration: underline; }
    .shopper { align-self: flex-end; align-items: flex-end; }
    .shopper .bubble { background: var(--accent); color: var(--accent-text); }
    .shopper.pending .bubble { opacity: .65; }
    .shopper.failed .bubble { background: #b3261e; }
    .bot, .agent { align-self: flex-start; }
    .bot .bubble { background: var(--bot-bg); }
    .agent .bubble { background: var(--agent-bg); border: 1px solid #e6c76a; }
    .system { align-self: center; max-width: 95%; text-align: center; }
    .system .bubble { background: transparent; color: var(--muted); font-size: 12px; padding: 2px 8px; }
    .replies { display: flex; flex-wrap: wrap; gap: 6px; }
    .replies button { border: 1px solid var(--accent); background: var(--bg); color: var(--accent);
      border-radius: 16px; padding: 5px 12px; cursor: pointer; }
    .typing { min-height: 20px; padding: 0 14px 4px; font-size: 12px; color: var(--muted); }
    .contact { display: flex; flex-direction: column; gap: 6px; padding: 10px; border: 1px solid #d0d6de;
      border-radius: 10px; background: var(--bg); }
    .contact label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
    .contact input { border: 1px solid #9aa3ad; border-radius: 6px; padding: 6px 8px; color: var(--text); }
    .contact button { align-self: flex-start; border: 0; border-radius: 6px; padding: 6px 12px;
      background: var(--accent); color: var(--accent-text); cursor: pointer; }
    .rating { display: flex; flex-direction: column; gap: 6px; padding: 10px; border: 1px solid #d0d6de;
      border-radius: 10px; background: var(--bg); }
    .rating fieldset { border: 0; margin: 0; padding: 0; display: flex; gap: 4px; flex-wrap: wrap; }
    .rating legend { font-size: 13px; margin-bottom: 6px; }
    .rating .score { display: inline-flex; align-items: center; justify-content: center; min-width: 36px; min-height: 36px;
      border: 1px solid var(--accent); border-radius: 18px; color: var(--accent); cursor: pointer; }
    .rating .score:has(input:checked) { background: var(--accent); color: var(--accent-text); }
    .rating .score input { position: absolute; opacity: 0; width: 1px; height: 1px; }
    .rating .score:focus-within { outline: 2px solid var(--accent); outline-offset: 2px; }
    .rating label.comment { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
    .rating textarea { border: 1px solid #9aa3ad; border-radius: 6px; padding: 6px 8px; min-height: 40px; flex: none; }
    .rating button { align-self: flex-start; border: 0; border-radius: 6px; padding: 6px 12px;
      background: var(--accent); color: var(--accent-text); cursor: pointer; }
    form.compose { display: flex; align-items: flex-end; border-top: 1px solid #d8dde3; }
    .composer { display: flex; align-items: flex-end; border-top: 1px solid #d8dde3; }
    .composer form.compose { flex: 1; border-top: 0; }
    .composer button.attach { border: 0; background: none; cursor: pointer; padding: 12px 4px 10px 10px; color: var(--muted); }
    a.file img { display: block; max-width: 200px; max-height: 200px; border-radius: 6px; }
    a.file { color: inherit; }
    textarea { flex: 1; border: 0; padding: 12px; resize: none; max-height: 120px; min-height: 44px;
      background: var(--bg); color: var(--text); }
    form.compose button { border: 0; background: none; padding: 12px 14px; font-weight: 700; color: var(--accent);
      cursor: pointer; }
    .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    @media (max-width: 520px) {
      .panel, .root.left .panel { inset: 0; width: 100%; max-width: none; height: var(--crossdesk-vh, 100%);
        max-height: none; border-radius: 0; }
      .panel.open ~ .launcher { display: none; }
    }
  `;

  const CONFIG_KEYS = { server: "string", language: "string", position: "string", title: "string",
    subtitle: "string", open: "boolean", user: "object", autoInit: "boolean" };

  function checkConfig(config) {
    if (config === undefined || config === null) return {};
    if (typeof config !== "object" || Array.isArray(config)) {
      throw new TypeError("Crossdesk.init(config): config must be an object");
    }
    for (const [key, value] of Object.entries(config)) {
      if (!(key in CONFIG_KEYS)) throw new TypeError(`Crossdesk.init: unknown option "${key}"`);
      if (typeof value !== CONFIG_KEYS[key] || value === null) {
        throw new TypeError(`Crossdesk.init: option "${key}" must be a ${CONFIG_KEYS[key]}`);
      }
    }
    if (config.position && !["left", "right"].includes(config.position)) {
      throw new TypeError('Crossdesk.init: "position" must be "left" or "right"');
    }
    if (config.server) new URL(config.server); // throws on a malformed URL
    if (config.user) checkUser(config.user);
    return config;
  }

  function checkUser(user) {
    if (typeof user !== "object" || user === null || Array.isArray(user)) {
      throw new TypeError("Crossdesk.setUser(user): user must be an object");
    }
    for (const [key, value] of Object.entries(user)) {
      if (!["id", "name", "email", "hash"].includes(key)) throw new TypeError(`Crossdesk.setUser: unknown field "${key}"`);
      if (typeof value !== "string" || value.length > 200) {
        throw new TypeError(`Crossdesk.setUser: "${key}" must be a string of at most 200 characters`);
      }
    }
    // hash: the shop server's hex HMAC-SHA256 of the id (identity verification, docs/protocol.md).
    if (user.hash !== undefined && (!/^[0-9a-fA-F]{64}$/.test(user.hash) || !user.id)) {
      throw new TypeError('Crossdesk.setUser: "hash" must be the 64-character hex HMAC-SHA256 of "id"');
    }
    if (user.email && !/^[^@\s]+@[^@\s]+\.[^@\s]{2,}$/.test(user.email)) {
      throw new TypeError('Crossdesk.setUser: "email" must be an e-mail address');
    }
    return { ...user };
  }

  /**
   * Styles the shadow root with a constructed stylesheet: a storefront CSP without 'unsafe-inline'
   * in style-src blocks a <style> element but not a sheet built by script. Browsers without
   * constructable stylesheets get the <style> element (returned, to be appended).
   */
  function styleShadowRoot(root) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLE);
      root.adoptedStyleSheets = [sheet];
      return [];
    } catch (_) {
      const style = document.createElement("style");
      style.textContent = STYLE;
      return [style];
    }
  }

  /** Builds the DOM. Holds no connection state. */
  class View {
    constructor(host, handlers) {
      this.root = host.attachShadow({ mode: "open" });
      this.handlers = handlers;
      this.frame = this.el("div", "root");
      this.panel = this.el("div", "panel");
      this.panel.id = "crossdesk-panel";
      this.panel.setAttribute("role", "dialog");
      this.panel.setAttribute("aria-labelledby", "crossdesk-title");
      this.panel.append(this.header(), this.status = this.el("div", "status"), this.logArea(), this.typing = this.el("div", "typing"), this.compose());
      this.typing.setAttribute("aria-live", "polite");
      this.status.setAttribute("role", "status");
      this.queue = this.el("p", "queue");  // the place in the queue (crossdesk:queue), read out politely
      this.queue.setAttribute("aria-live", "polite");
      this.status.after(this.queue);
      this.launcher = this.el("button", "launcher");
      this.launcher.setAttribute("aria-controls", "crossdesk-panel");
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcherText = this.el("span");
      this.badge = this.el("span", "badge");
      this.launcher.append(this.launcherText, this.badge);
      this.launcher.addEventListener("click", () => handlers.toggle());
      this.panel.addEventListener("keydown", (event) => { if (event.key === "Escape") handlers.close(); });
      this.frame.append(this.panel, this.launcher);
      this.root.append(...styleShadowRoot(this.root), this.frame);
    }

    el(tag, className, text) {
      const node = document.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined) node.textContent = text;
      return node;
    }

    header() {
      const header = this.el("header");
      const titles = this.el("div", "titles");
      this.title = this.el("h2");
      this.title.id = "crossdesk-title";
      this.subtitle = this.el("p");
      titles.append(this.title, this.subtitle);
      this.languageSelect = this.el("select");
      for (const [code, name] of Object.entries(LANGUAGE_NAMES)) {
        const option = this.el("option", "", name);
        option.value = code;
        this.languageSelect.append(option);
      }
      this.languageSelect.addEventListener("change", () => this.handlers.language(this.languageSelect.value));
      this.closeButton = this.el("button", "close", "×");
      this.closeButton.addEventListener("click", () => this.handlers.close());
      header.append(titles, this.languageSelect, this.closeButton);
      return header;
    }

    logArea() {
      this.log = this.el("div", "log");
      this.log.setAttribute("role", "log");
      this.log.setAttribute("aria-live", "polite");
      this.log.setAttribute("aria-relevant", "additions");
      this.log.tabIndex = 0;
      return this.log;
    }

    compose() {
      const form = this.el("form", "compose");
      this.input = this.el("textarea");
      this.input.rows = 1;
      this.input.maxLength = MAX_CHARS;
      this.input.setAttribute("enterkeyhint", "send");
      this.sendButton = this.el("button");
      this.sendButton.type = "submit";
      // Photos and PDFs: a button for the file picker; on touch devices another for the camera
      // (``capture``); paste and drag-and-drop below. The server checks what the bytes are.
      this.fileInput = this.fileButton("attach", ICONS.attach, false);
      this.cameraInput = this.fileButton("camera", ICONS.camera, true);
      // The file buttons sit beside the form, not in it: the form's one button is the send button.
      const composer = this.el("div", "composer");
      form.append(this.input, this.sendButton);
      composer.append(this.fileInput.button, form);
      if (window.matchMedia && window.matchMedia("(pointer: coarse)").matches) composer.insertBefore(this.cameraInput.button, form);
      this.input.addEventListener("paste", (event) => {
        const file = event.clipboardData && event.clipboardData.files && event.clipboardData.files[0];
        if (file) { event.preventDefault(); this.handlers.attach(file); }
      });
      this.panel.addEventListener("dragover", (event) => { if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) event.preventDefault(); });
      this.panel.addEventListener("drop", (event) => {
        const file = event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files[0];
        if (file) { event.preventDefault(); this.handlers.attach(file); }
      });
      form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
      this.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); this.submit(); }
      });
      this.input.addEventListener("input", () => this.handlers.typing());
      return composer;
    }

    /** A button that opens a hidden file input (``capture``: the camera on phones). */
    fileButton(name, icon, capture) {
      const input = this.el("input");
      input.type = "file";
      input.accept = capture ? "image/*" : "image/jpeg,image/png,image/webp,application/pdf";
      if (capture) input.setAttribute("capture", "environment");
      input.hidden = true;
      input.tabIndex = -1;
      input.addEventListener("change", () => { if (input.files[0]) this.handlers.attach(input.files[0]); input.value = ""; });
      const button = this.el("button", "attach");
      button.append(this.icon(icon));
      button.type = "button";
      button.dataset.name = name;
      button.hidden = true;  // shown once the server turns out to be Crossdesk (a plain Rasa server has no uploads)
      button.addEventListener("click", () => input.click());
      this.panel.append(input);
      return { input, button };
    }

    /** A 20 px line icon (SVG: no emoji font needed). */
    icon(path) {
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 24 24");
      svg.setAttribute("width", "20");
      svg.setAttribute("height", "20");
      svg.setAttribute("aria-hidden", "true");
      const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
      line.setAttribute("d", path);
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", "currentColor");
      line.setAttribute("stroke-width", "2");
      line.setAttribute("stroke-linecap", "round");
      svg.append(line);
      return svg;
    }

    /** A photo (its thumbnail, linking to the original) or a PDF (a link) in a message. */
    fileLink(file) {
      const link = this.el("a", "file");
      link.href = this.server + file.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      if (typeof file.thumbnail === "string") {
        const image = this.el("img");
        image.src = this.server + file.thumbnail;
        image.alt = String(file.filename || "");
        image.loading = "lazy";
        link.append(image);
      } else {
        link.textContent = "PDF · " + String(file.filename || "");
      }
      return link;
    }

    submit() {
      const text = this.input.value.trim();
      if (!text) return;
      this.input.value = "";
      this.handlers.send(text);
    }

    applyLanguage(lang, strings, config) {
      this.frame.lang = lang;
      this.frame.dir = RTL.includes(lang) ? "rtl" : "ltr";
      this.title.textContent = config.title || strings.title;
      this.subtitle.textContent = config.subtitle || strings.subtitle;
      this.languageSelect.value = lang;
      this.languageSelect.setAttribute("aria-label", strings.language);
      this.closeButton.setAttribute("aria-label", strings.close);
      this.launcherText.textContent = strings.launcher;
      this.launcher.setAttribute("aria-label", strings.open);
      this.input.placeholder = strings.placeholder;
      this.input.setAttribute("aria-label", strings.placeholder);
      this.sendButton.textContent = strings.send;
      for (const { button } of [this.fileInput, this.cameraInput]) {
        button.setAttribute("aria-label", strings[button.dataset.name]);
        button.title = strings[button.dataset.name];
      }
      this.log.setAttribute("aria-label", strings.newConversation);
    }

    /** One message bubble; ``message`` is {sender, text, ts, name, id, message_id}. */
    message(message, strings, lang) {
      const sender = ["shopper", "bot", "agent", "system"].includes(message.sender) ? message.sender : "bot";
      const row = this.el("div", "msg " + sender);
      if (message.message_id) row.dataset.messageId = message.message_id;
      if (message.id !== undefined && message.id !== null) row.dataset.id = String(message.id);
      const bubble = this.el("div", "bubble");
      bubble.dir = "auto";
      const file = message.file;
      if (file && typeof file.url === "string" && file.url.startsWith("/api/attachments/")) bubble.append(this.fileLink(file));
      else bubble.append(linkified(String(message.text || "")));
      row.append(bubble);
      if (sender !== "system") row.append(this.meta(message, strings, lang));
      return row;
    }

    meta(message, strings, lang) {
      const who = message.sender === "agent" ? (message.name || "") :
        message.sender === "shopper" ? strings.you : strings.assistant;
      const time = new Date((message.ts || Date.now() / 1000) * 1000);
      const meta = this.el("div", "meta");
      const clock = this.el("time", "", clockText(time, lang));
      clock.dateTime = time.toISOString();
      meta.append(who ? who + " · " : "", clock);
      if (message.untranslated) meta.append(" · ⚠ " + strings.untranslated);
      return meta;
    }

    quickReplies(replies, onPick) {
      const row = this.el("div", "replies");
      for (const reply of replies) {
        if (!reply || typeof reply.title !== "string") continue;
        const button = this.el("button", "", reply.title);
        button.type = "button";
        button.dataset.payload = String(reply.payload || "");
        button.addEventListener("click", () => { row.remove(); onPick(reply); });
        row.append(button);
      }
      return row;
    }

    contactForm(strings, onSubmit) {
      const form = this.el("form", "contact");
      const title = this.el("div", "", strings.contactTitle);
      const email = this.el("input");
      email.type = "email";
      email.required = true;
      email.autocomplete = "email";
      const name = this.el("input");
      name.autocomplete = "name";
      name.maxLength = 100;
      const emailLabel = this.el("label", "", strings.email);
      emailLabel.append(email);
      const nameLabel = this.el("label", "", strings.name);
      nameLabel.append(name);
      const button = this.el("button", "", strings.contactSend);
      button.type = "submit";
      form.append(title, emailLabel, nameLabel, button);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        onSubmit(email.value.trim(), name.value.trim(), form);
      });
      return form;
    }

    /** The CSAT form of a ``crossdesk:rating_request``: five radio buttons, an optional comment, send. */
    ratingForm(request, onSubmit) {
      const form = this.el("form", "rating");
      const scores = this.el("fieldset");
      scores.append(this.el("legend", "", request.text));
      for (let n = 1; n <= 5; n += 1) {
        const label = this.el("label", "score");
        const input = this.el("input");
        input.type = "radio";
        input.name = "rating";
        input.value = String(n);
        input.required = true;
        input.setAttribute("aria-label", String(request.scale || "{n}").replace("{n}", n));
        label.append(input, this.el("span", "", String(n)));
        scores.append(label);
      }
      const comment = this.el("textarea");
      comment.maxLength = 1000;
      const commentLabel = this.el("label", "comment", request.comment);
      commentLabel.append(comment);
      const button = this.el("button", "", request.submit);
      button.type = "submit";
      form.append(scores, commentLabel, button);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const picked = form.querySelector("input[name=rating]:checked");
        if (picked) onSubmit(Number(picked.value), comment.value.trim(), form);
      });
      return form;
    }

    append(node) {
      const nearBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
      this.log.append(node);
      if (nearBottom || node.classList.contains("shopper")) this.log.scrollTop = this.log.scrollHeight;
    }
  }

  /** The widget: connection, outbox, rendering of protocol events. */
  class Widget {
    constructor(config) {
      this.config = config;
      this.server = (config.server || (SCRIPT && SCRIPT.src ? new URL(SCRIPT.src).origin : location.origin)).replace(/\/$/, "");
      this.lang = uiLanguage(config.language || storage.get("language", null) || navigator.language);
      this.user = config.user ? checkUser(config.user) : storage.get("user", null);
      this.sessionId = storage.get("session", null);
      this.outbox = storage.get("outbox", []);
      this.unread = 0;
      this.extended = false;
      this.flushing = false;
      this.typingTimer = null;
      this.host = document.createElement("div");
      this.host.id = "crossdesk-widget";
      document.body.appendChild(this.host);
      this.view = new View(this.host, {
        toggle: () => (this.isOpen() ? this.close() : this.open()),
        close: () => this.close(),
        send: (text) => this.send(text),
        language: (code) => this.setLanguage(code),
        typing: () => this.typing(),
        attach: (file) => this.attach(file),
      });
      this.view.server = this.server;
      if (config.position === "left") this.view.frame.classList.add("left");
      this.applyLanguage();
      this.watchViewport();
      this.renderPending();
      if (config.open) this.open();
      this.connect();
    }

    get strings() { return STRINGS[this.lang]; }

    applyLanguage() { this.view.applyLanguage(this.lang, this.strings, this.config); this.updateBadge(); if (this.view.queue) this.renderQueue(); }

    isOpen() { return this.view.panel.classList.contains("open"); }

    open() {
      this.view.panel.classList.add("open");
      this.view.launcher.setAttribute("aria-expanded", "true");
      this.unread = 0;
      this.updateBadge();
      this.view.log.scrollTop = this.view.log.scrollHeight;
      this.view.input.focus();
    }

    close() {
      if (!this.isOpen()) return;
      this.view.panel.classList.remove("open");
      this.view.launcher.setAttribute("aria-expanded", "false");
      this.view.launcher.focus();
    }

    setLanguage(code) {
      if (typeof code !== "string" || !code) throw new TypeError("Crossdesk.setLanguage(code): code must be a language tag");
      this.lang = uiLanguage(code);
      storage.set("language", this.lang);
      this.applyLanguage();
    }

    setUser(user) {
      this.user = checkUser(user);
      storage.set("user", this.user);
    }

    updateBadge() {
      const badge = this.view.badge;
      badge.textContent = this.unread > 9 ? "9+" : String(this.unread);
      badge.classList.toggle("on", this.unread > 0);
      const label = this.unread ? this.strings.open + " — " + format(this.strings.unread, { n: this.unread }) : this.strings.open;
      this.view.launcher.setAttribute("aria-label", label);
    }

    /* On phones the on-screen keyboard shrinks the visual viewport: keep the panel inside it. */
    watchViewport() {
      const viewport = window.visualViewport;
      if (!viewport) return;
      this.onViewport = () => this.view.frame.style.setProperty("--crossdesk-vh", viewport.height + "px");
      viewport.addEventListener("resize", this.onViewport);
      this.onViewport();
    }

    async connect() {
      const io = await loadSocketIo(this.server);
      if (this.destroyed) return;
      this.socket = io(this.server, { transports: ["websocket", "polling"], reconnectionDelay: 500,
        reconnectionDelayMax: 8000, randomizationFactor: 0.5 });
      const socket = this.socket;
      socket.on("connect", () => this.requestSession());
      socket.on("disconnect", () => this.setOnline(false));
      socket.on("connect_error", () => this.setOnline(false));
      socket.on("session_confirm", (data) => this.confirmed(data));
      socket.on("crossdesk:history", (history) => this.history(history));
      socket.on("crossdesk:shopper_message", (message) => this.receive({ ...message, sender: "shopper" }));
      socket.on("bot_uttered", (message) => this.receive(message));
      socket.on("crossdesk:typing", (data) => this.showTyping(data));
      socket.on("crossdesk:queue", (data) => this.showQueue(data));
      socket.on("crossdesk:rating_request", (request) => this.askRating(request));
    }

    /** Upload a photo or PDF (``POST /api/attachments``); it comes back as this shopper's message. */
    async attach(file) {
      if (!this.sessionId || !this.extended) return;  // a plain Rasa server has no uploads
      const form = new FormData();
      form.append("session_id", this.sessionId);
      form.append("file", file, file.name || "photo");
      let reason = "";
      try {
        const answer = await fetch(this.server + "/api/attachments", { method: "POST", body: form });
        if (answer.ok) return;
        reason = ((await answer.json().catch(() => ({}))).message) || String(answer.status);
      } catch (error) {
        reason = this.strings.offline;
      }
      this.view.status.textContent = this.strings.failed.replace("{reason}", reason);
      this.view.status.classList.add("on");
    }

    /** After an agent resolved the conversation: one CSAT form per resolution (handoff/csat.py). */
    askRating(request) {
      if (!request || typeof request.resolution_id !== "number" || typeof request.text !== "string") return;
      if (this.ratingForm && this.ratingForm.isConnected) {
        if (this.ratingForm.dataset.resolution === String(request.resolution_id)) return;
        this.ratingForm.remove();
      }
      this.ratingForm = this.view.ratingForm(request, (rating, comment, form) => {
        const payload = comment ? { resolution_id: request.resolution_id, rating, comment } : { resolution_id: request.resolution_id, rating };
        this.socket.timeout(ACK_TIMEOUT_MS).emit("crossdesk:rating", payload, (error, ack) => {
          if (error || !ack || !(ack.ok || ack.error === "already_rated")) return;
          const thanks = this.view.el("div", "msg system", request.thanks);
          thanks.setAttribute("role", "status");
          form.replaceWith(thanks);
        });
      });
      this.ratingForm.dataset.resolution = String(request.resolution_id);
      this.view.append(this.ratingForm);
    }

    requestSession() {
      this.confirmedSession = false;
      // extensions: 1 asks for Crossdesk's extension keys and events (plain Rasa ignores the key).
      this.socket.emit("session_request", { session_id: this.sessionId, locale: this.locale(), extensions: 1 });
    }

    locale() { return storage.get("language", null) || navigator.language; }

    confirmed(data) {
      const id = typeof data === "string" ? data : data && data.session_id;
      if (typeof id !== "string") return;
      this.sessionId = id;
      storage.set("session", id);
      this.confirmedSession = true;
      this.setOnline(true);
      // A Crossdesk server replays the history right away; a plain Rasa server never does.
      clearTimeout(this.plainTimer);
      this.plainTimer = setTimeout(() => this.flush(), this.extended ? 0 : 1500);
    }

    setOnline(online) {
      this.online = online;
      this.view.status.textContent = online ? "" : this.strings.offline;
      this.view.status.classList.toggle("on", !online);
    }

    history(history) {
      if (!history || !Array.isArray(history.messages)) return;
      this.extended = true;
      this.view.fileInput.button.hidden = this.view.cameraInput.button.hidden = false;
      // An answer stored after the server read this history can arrive just before it (answers
      // recovered after a restart stream in while shoppers reconnect): keep it after the replay.
      const replayed = Math.max(0, ...history.messages.map((m) => Number(m.id) || 0));
      const newer = [...this.view.log.querySelectorAll(".msg[data-id]")].filter((row) => Number(row.dataset.id) > replayed);
      this.view.log.replaceChildren();
      this.handoff = "";
      this.withAgent = this.offlineQueued = this.contactGiven = false;
      const messages = history.messages;
      messages.forEach((message, index) => this.render(message, index === messages.length - 1, true));
      if (typeof history.state === "string") {  // the server's word on where the conversation is now
        this.handoff = ["waiting", "with_agent"].includes(history.state) ? history.state : "";
        this.withAgent = history.state === "with_agent";
        if (history.state !== "waiting") this.offlineQueued = false;
      }
      newer.forEach((row) => this.view.append(row));
      this.offerContactForm();  // still queued with the team offline: the form comes back after a reload
      this.renderPending();
      clearTimeout(this.plainTimer);
      this.flush();
    }

    /** A message from the server (bot, agent, system, or this shopper in another tab). */
    receive(message) {
      if (!message || typeof message !== "object") return;
      if (message.id !== undefined && this.view.log.querySelector(`[data-id="${CSS.escape(String(message.id))}"]`)) return;
      if (message.sender === "shopper" && message.message_id &&
          this.view.log.querySelector(`[data-message-id="${CSS.escape(message.message_id)}"]`)) return;
      this.render(message, true, false);
      if (message.sender !== "shopper") {
        this.showTyping({ typing: false });
        if (!this.isOpen() || document.hidden) { this.unread += 1; this.updateBadge(); }
      }
    }

    render(message, last, replay) {
      // The stored contact line ("Name <email>") is for agents; the shopper sees the thank-you.
      const shown = message.event === "contact" ? { ...message, text: this.strings.contactThanks } : message;
      const row = this.view.message(shown, this.strings, this.lang);
      this.view.append(row);
      this.track(message.event);
      if (OFFLINE_NOTICES.includes(message.event) && last && !replay) this.offerContactForm();
      const replies = Array.isArray(message.quick_replies) ? message.quick_replies.filter((r) => this.offered(r)) : [];
      if (last && replies.length) {
        this.view.append(this.view.quickReplies(replies, (reply) => this.send(reply.payload, reply.title)));
      }
      if (!replay && last) this.view.log.querySelectorAll(".replies").forEach((r, i, all) => { if (i < all.length - 1 || message.sender === "shopper") r.remove(); });
    }

    /** Follows the handoff notices: ``handoff`` is "waiting", "with_agent" or "" (the bot has the chat). */
    track(event) {
      const queued = { utter_handoff_waiting: "waiting", utter_handoff_offline: "waiting", utter_agent_requeued: "waiting",
        utter_handoff_closed: "waiting",
        utter_agent_joined: "with_agent", utter_agent_left: "" };
      if (event === "contact") this.contactGiven = true;
      if (!(event in queued)) return;
      this.handoff = queued[event];
      this.withAgent = this.handoff === "with_agent";
      this.offlineQueued = OFFLINE_NOTICES.includes(event);
      if (this.offlineQueued) this.contactGiven = false;
      if (this.handoff) this.hideRequestHuman();
    }

    /** A quick reply worth showing: no "Talk to a person" once a person was asked for. */
    offered(reply) {
      return !(this.handoff && reply && typeof reply.payload === "string" && reply.payload.trim().startsWith("/request_human"));
    }

    hideRequestHuman() {
      this.view.log.querySelectorAll(".replies").forEach((row) => {
        row.querySelectorAll("button").forEach((button) => { if (!this.offered({ payload: button.dataset.payload })) button.remove(); });
        if (!row.children.length) row.remove();
      });
    }

    /** The contact form, once, while the conversation is queued with the team offline and no contact was left. */
    offerContactForm() {
      if (!this.offlineQueued || this.contactGiven || storage.get("contact:" + this.sessionId, false)) return;
      if (this.contactForm && this.contactForm.isConnected) return;
      this.contactForm = this.view.contactForm(this.strings, (email, name, form) => this.leaveContact(email, name, form));
      this.view.append(this.contactForm);
    }

    leaveContact(email, name, form) {
      if (!this.socket || !this.online) return;
      const payload = name ? { email, name } : { email };
      this.socket.timeout(ACK_TIMEOUT_MS).emit("crossdesk:contact", payload, (error, ack) => {
        if (error || !ack || !ack.ok) return;
        storage.set("contact:" + this.sessionId, true);
        this.contactGiven = true;
        form.replaceWith(this.view.el("div", "msg system", this.strings.contactThanks));
      });
    }

    /** Queue a shopper message; it is sent (once, in order) whenever the socket is up. */
    send(text, shown) {
      const message = String(text).trim().slice(0, MAX_CHARS);
      if (!message) return;
      const item = { message_id: newId(), text: message, shown: shown || message, ts: Date.now() / 1000 };
      this.outbox.push(item);
      storage.set("outbox", this.outbox);
      this.view.log.querySelectorAll(".replies").forEach((r) => r.remove());
      this.view.append(this.pendingRow(item));
      this.stopTyping();
      this.flush();
    }

    pendingRow(item) {
      const row = this.view.message({ sender: "shopper", text: item.shown, ts: item.ts, message_id: item.message_id },
        this.strings, this.lang);
      row.classList.add("pending");
      row.querySelector(".meta").append(" · " + this.strings.sending);
      return row;
    }

    renderPending() {
      for (const item of this.outbox) {
        if (!this.view.log.querySelector(`[data-message-id="${CSS.escape(item.message_id)}"]`)) {
          this.view.append(this.pendingRow(item));
        }
      }
    }

    async flush() {
      if (this.retryTimer || this.flushing || !this.socket || !this.online || !this.confirmedSession) return;
      this.flushing = true;
      try {
        while (this.outbox.length && this.online) {
          const item = this.outbox[0];
          const ack = await this.emitWithAck(item);
          if (ack === null) break; // no answer: keep it queued, retry after reconnect
          if (ack.ok === false && RETRYABLE.includes(ack.error)) { this.retryLater(item, ack); break; }
          this.outbox.shift();
          storage.set("outbox", this.outbox);
          this.delivered(item, ack);
        }
      } finally {
        this.flushing = false;
      }
    }

    /** The server asked us to slow down: keep the message first in the outbox, send it again later. */
    retryLater(item, ack) {
      const row = this.view.log.querySelector(`[data-message-id="${CSS.escape(item.message_id)}"]`);
      if (row) row.querySelector(".meta").textContent = this.strings.retrying;
      const seconds = Math.min(60, Math.max(0.2, Number(ack.retry_after) || 1));
      this.retryTimer = setTimeout(() => { this.retryTimer = null; this.flush(); }, seconds * 1000);
    }

    emitWithAck(item) {
      const metadata = { locale: this.locale(), page: location.pathname };
      const timezone = shopperTimeZone();  // agents see the shopper's local time; closed-hours notices use it
      if (timezone) metadata.timezone = timezone;
      if (this.user) metadata.user = this.user;
      const payload = { message: item.text, session_id: this.sessionId, message_id: item.message_id, metadata };
      return new Promise((resolve) => {
        this.socket.timeout(ACK_TIMEOUT_MS).emit("user_uttered", payload, (error, ack) => {
          if (error) resolve(null);
          else resolve(ack || { ok: true }); // plain Rasa acknowledges with nothing
        });
      });
    }

    delivered(item, ack) {
      const row = this.view.log.querySelector(`[data-message-id="${CSS.escape(item.message_id)}"]`);
      if (!row) return;
      row.classList.remove("pending");
      const meta = row.querySelector(".meta");
      if (ack.ok === false) {
        row.classList.add("failed");
        meta.textContent = format(this.strings.failed, { reason: ack.message || ack.error || "" });
        return;
      }
      if (ack.id !== undefined) row.dataset.id = String(ack.id);
      meta.replaceChildren(this.view.meta({ sender: "shopper", ts: item.ts }, this.strings, this.lang).textContent);
    }

    /** ``crossdesk:queue {position, expected_wait_seconds}``: the place in line (null: out of the queue). */
    showQueue(data) {
      this.place = data && Number.isInteger(data.position) && data.position > 0 ? data : null;
      this.renderQueue();
    }

    renderQueue() {
      const place = this.place, strings = this.strings;
      let text = "";
      if (place) {
        text = format(strings.queue, { n: place.position });
        const wait = place.expected_wait_seconds;
        if (Number.isFinite(wait)) {
          text += " · " + (wait < 60 ? strings.queueSoon : format(strings.queueWait, { m: Math.round(wait / 60) }));
        }
      }
      this.view.queue.textContent = text;
    }

    showTyping(data) {
      const on = data && data.typing === true;
      clearTimeout(this.typingShownTimer);
      this.view.typing.textContent = on ? format(this.strings.typing, { name: (data && data.name) || this.strings.assistant }) : "";
      if (on) this.typingShownTimer = setTimeout(() => this.showTyping({ typing: false }), TYPING_SHOWN_MS);
    }

    typing() {
      if (!this.withAgent || !this.socket || !this.online) return;
      if (!this.typingTimer) this.socket.emit("crossdesk:typing", { typing: true });
      clearTimeout(this.typingTimer);
      this.typingTimer = setTimeout(() => this.stopTyping(), 3000);
    }

    stopTyping() {
      if (!this.typingTimer) return;
      clearTimeout(this.typingTimer);
      this.typingTimer = null;
      if (this.socket && this.online) this.socket.emit("crossdesk:typing", { typing: false });
    }

    destroy() {
      this.destroyed = true;
      if (this.socket) this.socket.disconnect();
      if (this.onViewport) window.visualViewport.removeEventListener("resize", this.onViewport);
      clearTimeout(this.plainTimer);
      clearTimeout(this.typingTimer);
      clearTimeout(this.retryTimer);
      clearTimeout(this.typingShownTimer);
      this.host.remove();
    }
  }

  let socketIoPromise = null;
  function loadSocketIo(server) {
    if (window.io) return Promise.resolve(window.io);
    if (!socketIoPromise) {
      socketIoPromise = new Promise((resolve, reject) => {
        const tag = document.createElement("script");
        tag.src = server + "/widget/vendor/socket.io.min.js";
        tag.onload = () => resolve(window.io);
        tag.onerror = () => { socketIoPromise = null; reject(new Error("Crossdesk: could not load socket.io")); };
        document.head.appendChild(tag);
      });
    }
    return socketIoPromise;
  }

  let widget = null;
  function current(method) {
    if (!widget) throw new Error(`Crossdesk.${method}(): call Crossdesk.init() first`);
    return widget;
  }

  const api = Object.freeze({
    version: VERSION,
    init(config) {
      const checked = checkConfig(config);
      if (widget) widget.destroy();
      const start = () => { widget = new Widget(checked); };
      if (document.body) start();
      else document.addEventListener("DOMContentLoaded", start, { once: true });
    },
    open() { current("open").open(); },
    close() { current("close").close(); },
    setLanguage(code) { current("setLanguage").setLanguage(code); },
    setUser(user) { current("setUser").setUser(user); },
    destroy() { if (widget) { widget.destroy(); widget = null; } },
  });
  window.Crossdesk = api;

  const initial = window.CrossdeskConfig;
  if (!(initial && initial.autoInit === false)) api.init(initial);
})();
