// The caretbot demo page: polls /demo/api/state and renders a phone and a Slack
// channel; every action POSTs to /demo/api/*, which the stand-ins turn into the signed
// requests Slack and Twilio would send caretbot. No framework, no build step.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const people = {};        // Slack user id -> display name
let last = "";            // the last state, as JSON, to skip renders that change nothing
let state = null;
const threadNodes = new Map();  // root ts -> {box, body, key}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "html") node.innerHTML = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Shortcodes caretbot and its teammates use, shown as the emoji Slack shows.
const EMOJI = {
  information_source: "ℹ️", white_check_mark: "✅", x: "❌", warning: "⚠️", email: "📧",
  speech_balloon: "💬", hourglass_flowing_sand: "⏳", no_entry_sign: "🚫", outbox_tray: "📤",
  inbox_tray: "📥", eyes: "👀", thumbsup: "👍", "+1": "👍", calendar: "📆", lock: "🔒",
  heavy_check_mark: "✔️", bell: "🔔", no_bell: "🔕", link: "🔗", memo: "📝", rotating_light: "🚨",
  large_green_circle: "🟢", large_yellow_circle: "🟡", red_circle: "🔴", mega: "📣",
  arrows_counterclockwise: "🔄", clock3: "🕒", mailbox_with_mail: "📬", raised_hand: "✋",
};
const emoji = (name) => EMOJI[name] || ":" + name + ":";

function unescapeSlack(s) {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// Slack mrkdwn to HTML: <@U..> mentions, <url|label> links, *bold*, _italic_, ~strike~, `code`.
function mrkdwn(text) {
  const parts = String(text || "").split(/<([^<>]+)>/);
  let out = "";
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      const [target, label] = part.split("|", 2);
      if (target.startsWith("@")) out += "<b>@" + escapeHtml(people[target.slice(1)] || label || target.slice(1)) + "</b>";
      else if (target.startsWith("#")) out += "<b>#" + escapeHtml(label || target.slice(1)) + "</b>";
      else if (target.startsWith("!")) out += "<b>@" + escapeHtml(label || target.slice(1)) + "</b>";
      else out += '<a href="' + escapeHtml(target) + '" target="_blank" rel="noopener">' + escapeHtml(unescapeSlack(label || target)) + "</a>";
      return;
    }
    let h = escapeHtml(unescapeSlack(part));
    h = h.replace(/:([a-z0-9_+-]+):/g, (all, name) => (EMOJI[name] ? EMOJI[name] : all))
      .replace(/`([^`\n]+)`/g, "<code>$1</code>")
      .replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<b>$2</b>")
      .replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>")
      .replace(/(^|[\s(])~([^~\n]+)~/g, "$1<s>$2</s>");
    out += h;
  });
  // *<link|label>* is a bold link: the link was a token, so bold it here.
  return out.replace(/\*(<a [^>]*>[^<]*<\/a>|<b>[^<]*<\/b>)\*/g, "<b>$1</b>").replace(/\n/g, "<br>");
}

function textOf(obj) {
  if (!obj) return "";
  return obj.type === "plain_text" ? escapeHtml(obj.text) : mrkdwn(obj.text);
}

function richText(block) {
  const walk = (els) => (els || []).map((e) => {
    if (e.type === "text") return escapeHtml(e.text);
    if (e.type === "user") return "<b>@" + escapeHtml(people[e.user_id] || e.user_id) + "</b>";
    if (e.type === "link") return '<a href="' + escapeHtml(e.url) + '">' + escapeHtml(e.text || e.url) + "</a>";
    if (e.type === "emoji") return escapeHtml(emoji(e.name));
    return walk(e.elements);
  }).join("");
  return walk(block.elements).replace(/\n/g, "<br>");
}

// One Block Kit element that can be clicked; `onAction(action)` sends the click.
function element(e, onAction) {
  if (e.type === "button") {
    return el("button", {
      type: "button", class: "card-button " + (e.style || ""), "data-action": e.action_id,
      onclick: () => onAction({ action_id: e.action_id, block_id: e.block_id || "", type: "button", value: e.value, text: e.text }),
    }, e.text.text);
  }
  if (e.type === "static_select" || e.type === "users_select" || e.type === "conversations_select") {
    const options = e.type === "users_select"
      ? Object.entries(people).map(([id, name]) => ({ value: id, text: { type: "plain_text", text: name } }))
      : (e.options || (e.option_groups || []).flatMap((g) => g.options));
    const select = el("select", { "data-action": e.action_id },
      el("option", { value: "" }, (e.placeholder && e.placeholder.text) || "Choose…"),
      ...options.map((o) => el("option", { value: o.value }, o.text.text)));
    select.addEventListener("change", () => {
      if (!select.value) return;
      const chosen = options.find((o) => o.value === select.value);
      const action = { action_id: e.action_id, block_id: e.block_id || "", type: e.type };
      if (e.type === "users_select") action.selected_user = select.value;
      else action.selected_option = chosen;
      onAction(action);
    });
    return select;
  }
  if (e.type === "overflow") {
    return element({ ...e, type: "static_select", placeholder: { text: "⋯" } }, onAction);
  }
  return null;
}

function blocks(list, onAction) {
  const box = el("div", { class: "blocks" });
  for (const b of list || []) {
    const withBlock = (e) => ({ ...e, block_id: b.block_id });
    if (b.type === "section") {
      const node = el("div", { class: "block section", html: textOf(b.text) });
      if (b.fields) node.append(el("div", { class: "fields", html: b.fields.map(textOf).map((f) => "<div>" + f + "</div>").join("") }));
      if (b.accessory) {
        const acc = b.accessory.type === "image"
          ? el("img", { src: b.accessory.image_url, alt: b.accessory.alt_text || "" })
          : element(withBlock(b.accessory), onAction);
        if (acc) node.append(el("div", {}, acc));
      }
      box.append(node);
    } else if (b.type === "header") box.append(el("div", { class: "block header", html: textOf(b.text) }));
    else if (b.type === "context") box.append(el("div", { class: "block context", html: b.elements.map((e) => (e.type === "image" ? "" : textOf(e))).join(" · ") }));
    else if (b.type === "divider") box.append(el("hr"));
    else if (b.type === "image") box.append(el("div", { class: "block" }, el("img", { src: b.image_url, alt: b.alt_text || "" })));
    else if (b.type === "rich_text") box.append(el("div", { class: "block", html: richText(b) }));
    else if (b.type === "actions") box.append(el("div", { class: "block actions" }, ...b.elements.map((e) => element(withBlock(e), onAction)).filter(Boolean)));
  }
  return box;
}

async function post(path, body) {
  const response = await fetch("/demo/api/" + path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const answer = await response.json();
  $("#error").textContent = response.ok ? "" : (answer.error || "request failed");
  setTimeout(refresh, 150);
  return answer;
}

const asUser = () => $("#as-user").value;
const phoneNumber = () => $("#phone-number").value.trim();

function statusLabel(m) {
  if (m.inbound) return "";
  const code = m.error_code ? " (" + m.error_code + ")" : "";
  return m.status + code;
}

function renderPhone() {
  const messages = (state.phones[phoneNumber()] || []);
  const screen = $("#phone-messages");
  screen.replaceChildren(...messages.map((m) => {
    const bubble = el("div", { class: "bubble " + (m.inbound ? "out" : "in"), "data-sid": m.sid });
    // Links are clickable, as on a phone (a blast's tracked /l/CODE links count the click).
    for (const [i, part] of (m.body || "").split(/(https?:\/\/[^\s]+)/).entries()) {
      if (i % 2) bubble.append(el("a", { href: part, target: "_blank", rel: "noopener", class: "sms-link" }, part));
      else if (part) bubble.append(document.createTextNode(part));
    }
    for (const url of m.media) bubble.append(el("img", { src: url, alt: "picture" }));
    if (m.inbound && m.media.length === 0 && !m.body) bubble.append("(picture)");
    const label = statusLabel(m);
    if (label) bubble.append(el("span", { class: "state" + (m.error_code ? " bad" : ""), "data-status": m.status }, label));
    return bubble;
  }));
  screen.scrollTop = screen.scrollHeight;
  const known = new Set([...Object.keys(state.phones).filter((n) => n !== state.team_number), ...state.sample_numbers]);
  $("#phone-numbers").replaceChildren(...[...known].map((n) => el("option", { value: n, label: (state.sample_names[n] || "") + " " + n })));
}

function message(m) {
  const who = m.user === "UBOT" ? "caretbot" : (people[m.user] || m.user || "app");
  // A message sent as text only carries Slack's rich_text rendering of it: show the text.
  const layout = (m.blocks || []).some((b) => b.type !== "rich_text");
  const body = layout ? blocks(m.blocks, (action) => post("click", { user: asUser(), ts: m.ts, action })) : el("div", { html: mrkdwn(m.text) });
  const reactions = el("div", { class: "reactions" }, ...(m.reactions || []).map((r) => el("span", { class: "reaction", "data-reaction": r.name, title: ":" + r.name + ":" }, emoji(r.name) + " " + r.name + " " + r.count)));
  return el("div", { class: "msg", "data-ts": m.ts },
    el("div", { class: "avatar" }, who.slice(0, 1).toUpperCase()),
    el("div", {}, el("div", { class: "who" }, who, m.edited ? el("small", {}, "(edited)") : null), body, reactions));
}

function renderChannel() {
  const channel = $("#channel");
  for (const t of state.threads) {
    const key = JSON.stringify(t);
    let node = threadNodes.get(t.root.ts);
    if (!node) {
      const body = el("div");
      const input = el("input", { class: "reply-input", placeholder: "Reply in thread, or a caret command: ^claim, ^note …", autocomplete: "off" });
      const form = el("form", { class: "reply-form" }, input, el("button", { type: "submit", class: "reply-send" }, "Reply"));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        if (!input.value.trim()) return;
        post("say", { user: asUser(), text: input.value, thread_ts: t.root.ts });
        input.value = "";
      });
      node = { box: el("div", { class: "thread", "data-thread": t.root.ts }, body, form), body, key: "" };
      threadNodes.set(t.root.ts, node);
      channel.append(node.box);
    }
    if (node.key !== key) {
      node.key = key;
      node.body.replaceChildren(message(t.root), el("div", { class: "replies" }, ...t.replies.map(message)));
    }
  }
  $("#ephemeral").replaceChildren(...state.ephemeral.filter((e) => !e.user || e.user === asUser()).slice(-3).map((e) =>
    el("div", { class: "eph" }, el("small", {}, "Only visible to you"), el("span", { html: mrkdwn(e.text) }))));
}

function renderHome() {
  const view = state.home;
  $("#home-view").replaceChildren(view ? blocks(view.blocks, (action) => post("home-click", { user: asUser(), action })) : el("em", {}, "Not opened yet."));
  if (state.recruit && state.recruit.length) {
    $("#recruit").replaceChildren(el("table", { class: "recruit" },
      el("tr", {}, ...["Module", "Name", "Email", "Mobile", "Record id"].map((h) => el("th", {}, h))),
      ...state.recruit.map((r) => el("tr", { "data-record": r.id },
        el("td", {}, r.module), el("td", {}, [r.First_Name, r.Last_Name].filter(Boolean).join(" ")),
        el("td", {}, r.Email || ""), el("td", {}, r.Mobile || ""), el("td", {}, r.id)))));
  }
  $("#notices").replaceChildren(...state.notices.map((n) => el("li", {}, n)));
}

async function runCommand(line) {
  $("#terminal-line").value = line;
  $("#terminal-output").textContent = "$ " + line + "\n…";
  const answer = await post("run", { command: line });
  const out = answer.error ? answer.error : answer.output + "\n[exit status " + answer.exit_status + "]";
  $("#terminal-output").textContent = "$ " + line + "\n" + out;
}

function setup() {
  $("#presets").replaceChildren(...state.presets.map((line) => el("button", { type: "button", title: line, onclick: () => runCommand(line) }, line)));
  $("#team-number").textContent = state.team_number;
  $("#channel-name").textContent = "#recruiting (" + state.channel + ")";
  for (const t of state.teammates) people[t.id] = t.name;
  people.UBOT = "caretbot";
  $("#as-user").replaceChildren(...state.teammates.map((t) => el("option", { value: t.id }, t.name + (t.manager ? " (manager)" : ""))));
  $("#fail-kind").replaceChildren(...Object.entries(state.failures).map(([k, v]) => el("option", { value: k, title: v }, v)));
}

async function refresh() {
  const response = await fetch("/demo/api/state?home=" + encodeURIComponent(asUser() || ""));
  const text = await response.text();
  if (text === last) return;
  const first = state === null;
  last = text;
  state = JSON.parse(text);
  if (first) setup();
  renderPhone();
  renderChannel();
  renderHome();
}

$("#phone-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = $("#phone-body").value;
  if (!body.trim()) return;
  post("text", { number: phoneNumber(), body });
  $("#phone-body").value = "";
});
$("#phone-picture").addEventListener("click", () => post("text", { number: phoneNumber(), body: $("#phone-body").value, picture: true }));
$("#phone-stop").addEventListener("click", () => post("text", { number: phoneNumber(), body: "STOP" }));
$("#phone-number").addEventListener("input", () => { if (state) renderPhone(); });
$("#channel-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("#channel-text");
  if (!input.value.trim()) return;
  post("say", { user: asUser(), text: input.value });
  input.value = "";
});
$("#as-user").addEventListener("change", () => { last = ""; refresh(); });
$("#home-open").addEventListener("click", () => post("home", { user: asUser() }));
$("#terminal-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if ($("#terminal-line").value.trim()) runCommand($("#terminal-line").value);
});
$("#load-sample").addEventListener("click", () => post("sample", {}));
$("#fail-arm").addEventListener("click", () => post("fail", { kind: $("#fail-kind").value }));

refresh();
setInterval(refresh, 1000);
