// Console behaviour that would otherwise sit in inline handlers, which the Content-Security-Policy
// forbids (script-src 'self'): buttons marked data-print open the browser's print dialog.
"use strict";
document.addEventListener("click", function (event) {
  const target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (target) window.print();
});
