// Console behaviour that would otherwise sit in inline handlers, which the Content-Security-Policy
// forbids (script-src 'self').
"use strict";

// Buttons marked data-print open the browser's print dialog.
document.addEventListener("click", function (event) {
  const target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (target) window.print();
});

// Typed text survives a session that ended (idle time-out, signed out in another tab): every form
// sent keeps its text fields in this tab's sessionStorage with the sign-in it was sent from. On a
// page of a *later* sign-in the same form gets the text back (only into empty fields); a draft of
// the current sign-in was either saved or shown again by the server, so it is dropped. Signing out
// drops every draft, so nothing stays on a shared computer.
(function () {
  const PREFIX = "wv-draft:";
  const MAX_AGE_MS = 12 * 3600 * 1000;
  const session = document.body.dataset.session;

  function keyOf(form) {
    return PREFIX + (form.getAttribute("action") || window.location.pathname);
  }

  function textFields(form) {
    return Array.from(form.elements).filter(function (el) {
      if (!el.name) return false;
      if (el.tagName === "TEXTAREA") return true;
      return el.tagName === "INPUT" && ["text", "email", "number", "date", "time", "datetime-local", "search", "url", "tel", ""].indexOf(el.type) >= 0;
    });
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.hasAttribute("data-logout")) {
      Object.keys(sessionStorage).filter(function (k) { return k.indexOf(PREFIX) === 0; })
        .forEach(function (k) { sessionStorage.removeItem(k); });
      return;
    }
    if (session === undefined) return;  // sign-in pages: nothing worth keeping, passwords never
    const fields = {};
    textFields(form).forEach(function (el) { if (el.value) fields[el.name] = el.value; });
    if (Object.keys(fields).length === 0) return;
    try {
      sessionStorage.setItem(keyOf(form), JSON.stringify({ session: session, at: Date.now(), fields: fields }));
    } catch (e) { /* storage full or disabled: the server's own re-display still works */ }
  });

  if (session === undefined) return;
  Object.keys(sessionStorage).forEach(function (key) {
    if (key.indexOf(PREFIX) !== 0) return;
    let draft;
    try { draft = JSON.parse(sessionStorage.getItem(key)); } catch (e) { draft = null; }
    if (!draft || draft.session === session || Date.now() - draft.at > MAX_AGE_MS) {
      sessionStorage.removeItem(key);
      return;
    }
    const form = Array.from(document.forms).find(function (f) { return keyOf(f) === key; });
    if (!form) return;  // kept until its page is opened
    let restored = false;
    textFields(form).forEach(function (el) {
      if (!el.value && draft.fields[el.name]) {
        el.value = draft.fields[el.name];
        el.classList.add("draft-restored");
        restored = true;
      }
    });
    sessionStorage.removeItem(key);
    if (restored) {
      const note = document.createElement("p");
      note.className = "flash";
      note.setAttribute("role", "status");
      note.textContent = document.body.dataset.draftRestored;
      form.parentNode.insertBefore(note, form);
    }
  });
})();

// Case page (admin/reports/case.py): a refused action shows the case again at the address it was
// sent to; the address goes back to the case's own, so reloading opens the case and never sends
// the form a second time.
(function () {
  const page = document.querySelector("[data-canonical-url]");
  if (!page || !window.history.replaceState) return;
  const url = page.getAttribute("data-canonical-url");
  if (url && window.location.pathname !== url) window.history.replaceState(null, "", url);
})();
