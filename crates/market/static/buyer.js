// Buyer pages work without this script; it only smooths two things on the order form.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.order");
  if (!form) return;
  // A second tap while the first order is on its way would be harmless (the Idempotency-Key makes it
  // one order), but the button says so by greying out.
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[type=submit]");
    if (button) setTimeout(() => { button.disabled = true; }, 0);
  });
  // Cash at pickup only fits pickup and cash on delivery only delivery; the server checks it too.
  const sync = () => {
    const way = form.querySelector("input[name=fulfilment]:checked");
    const kind = way && way.value === "delivery" ? "delivery" : "pickup";
    for (const input of form.querySelectorAll("input[name=payment_method]")) {
      const fits = input.dataset.fits === "any" || input.dataset.fits === kind;
      input.disabled = !fits;
      if (!fits && input.checked) {
        const fallback = form.querySelector(`input[name=payment_method][data-fits=${kind}]`);
        if (fallback) fallback.checked = true;
      }
    }
  };
  form.addEventListener("change", sync);
  sync();
});
