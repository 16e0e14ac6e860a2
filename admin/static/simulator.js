// Phone simulator: short polling of each phone's transcript; no build step, no framework.
"use strict";
(function () {
  const phonesEl = document.getElementById("phones");
  const template = document.getElementById("phone-template");
  const rtl = new Set(["ar", "ur"]);
  const versions = new Map();

  async function api(path, body) {
    const opts = body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
    const r = await fetch("/simulator/api" + path, opts);
    if (!r.ok) throw new Error(await r.text());
    return r.json();
  }

  function bubble(msg, phone) {
    const li = document.createElement("li");
    li.className = "bubble " + (msg.from === "user" ? "mine" : "bot");
    li.dir = "auto";  // each message reads in its own script's direction
    const text = document.createElement("div");
    text.className = "text";
    if (msg.from === "bot") text.innerHTML = msg.html; else text.textContent = msg.text;
    if (msg.voice) {  // a voice message: the phone plays it
      const player = document.createElement("audio");
      player.controls = true;
      player.preload = "none";
      player.src = `/simulator/api/phones/${phone.id}/voice/${msg.message_id}`;
      li.appendChild(player);
    }
    if (msg.html || msg.from !== "bot") li.appendChild(text);
    for (const row of msg.inline || []) {
      const rowEl = document.createElement("div");
      rowEl.className = "kb-row";
      for (const b of row) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.className = "kb";
        btn.textContent = b.text;
        if (b.url) { btn.onclick = () => window.open(b.url, "_blank", "noopener"); }
        else btn.onclick = () => api(`/phones/${phone.id}/tap`, {message_id: msg.message_id, data: b.data}).then(() => refresh(phone));
        rowEl.appendChild(btn);
      }
      li.appendChild(rowEl);
    }
    return li;
  }

  function replyKeyboard(el, msgs, phone) {
    const old = el.querySelector(".reply-kb");
    if (old) old.remove();
    const last = [...msgs].reverse().find((m) => m.from === "bot" && (m.keyboard || m.remove_keyboard));
    if (!last || !last.keyboard) return;
    const kb = document.createElement("div");
    kb.className = "reply-kb";
    for (const row of last.keyboard) {
      const rowEl = document.createElement("div");
      rowEl.className = "kb-row";
      for (const text of row) {
        const btn = document.createElement("button");
        btn.type = "button"; btn.className = "kb"; btn.textContent = text;
        btn.onclick = () => api(`/phones/${phone.id}/send`, {text}).then(() => refresh(phone));
        rowEl.appendChild(btn);
      }
      kb.appendChild(rowEl);
    }
    el.querySelector(".composer").before(kb);
  }

  function render(phone, msgs) {
    const el = document.getElementById("phone-" + phone.id);
    const chat = el.querySelector(".chat");
    chat.replaceChildren(...msgs.map((m) => bubble(m, phone)));
    replyKeyboard(el, msgs, phone);
    chat.scrollTop = chat.scrollHeight;
  }

  async function refresh(phone) {
    const data = await api(`/phones/${phone.id}/messages?after=${encodeURIComponent(versions.get(phone.id) || "")}`);
    if (data.messages !== null) { versions.set(phone.id, data.version); render(phone, data.messages); }
  }

  function mount(phone) {
    const el = template.content.firstElementChild.cloneNode(true);
    el.id = "phone-" + phone.id;
    el.dataset.phone = phone.id;
    el.lang = phone.language_code;
    el.dir = rtl.has(phone.language_code) ? "rtl" : "ltr";
    el.querySelector(".phone-title").textContent = phone.title;
    el.querySelector(".composer").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = ev.target.elements.text;
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      await api(`/phones/${phone.id}/send`, {text});
      refresh(phone);
    });
    el.querySelector(".phone-reset").addEventListener("click", async () => {
      await api(`/phones/${phone.id}/reset`, {});
      el.remove();
      versions.delete(phone.id);
    });
    phonesEl.appendChild(el);
    refresh(phone);
  }

  document.getElementById("new-phone").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const phone = await api("/phones", {language_code: ev.target.elements.language_code.value});
    mount(phone);
  });

  api("/phones").then((data) => data.phones.forEach(mount));
  const codesEl = document.getElementById("demo-codes");
  async function codes() {
    const data = await api("/codes");
    codesEl.replaceChildren(...data.codes.map((c) => {
      const li = document.createElement("li");
      li.textContent = `${c.role}: ${c.email} — ${c.code}`;
      return li;
    }));
  }
  codes();
  setInterval(() => codes().catch(() => {}), 10000);
  setInterval(() => {
    for (const el of phonesEl.querySelectorAll(".phone")) refresh({id: Number(el.dataset.phone)}).catch(() => {});
  }, 1000);
})();
