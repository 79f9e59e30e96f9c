// Vigil review: keyboard shortcuts, and reveal by holding (never by hover). No content is in
// the page until a reveal is asked for; it is dropped from memory when the hold ends.
"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf"]')?.content || "";
  let holding = null; // {button, image, url, started}

  async function reveal(button) {
    if (holding || button.disabled) return;
    const frame = button.closest("figure").querySelector(".frame");
    const image = frame.querySelector("img.revealed");
    const body = new URLSearchParams({ csrf });
    if (button.dataset.region) body.set("region", button.dataset.region);
    holding = { button, image, url: null, started: performance.now() };
    const answer = await fetch(`/review/item/${button.dataset.cluster}/reveal/${button.dataset.file}`,
      { method: "POST", body, credentials: "same-origin" });
    if (!holding || holding.button !== button) return; // let go before it came
    if (!answer.ok) {
      holding = null;
      button.insertAdjacentHTML("afterend", '<p class="stop" role="alert"></p>');
      button.nextElementSibling.textContent = await answer.text();
      return;
    }
    holding.url = URL.createObjectURL(await answer.blob());
    image.src = holding.url;
    image.hidden = false;
  }

  function conceal() {
    if (!holding) return;
    const { button, image, url, started } = holding;
    holding = null;
    image.hidden = true;
    image.removeAttribute("src");
    if (url) URL.revokeObjectURL(url);
    const body = new URLSearchParams({ csrf, ms: String(Math.round(performance.now() - started)) });
    fetch(`/review/item/${button.dataset.cluster}/revealed`, { method: "POST", body,
      credentials: "same-origin", keepalive: true });
  }

  for (const button of document.querySelectorAll("button.reveal")) {
    button.addEventListener("pointerdown", () => reveal(button));
    button.addEventListener("pointerup", conceal);
    button.addEventListener("pointerleave", conceal);
    button.addEventListener("keydown", (e) => { if (e.key === " " || e.key === "Enter") { e.preventDefault(); reveal(button); } });
    button.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") conceal(); });
  }
  window.addEventListener("blur", conceal);
  document.addEventListener("visibilitychange", () => { if (document.hidden) conceal(); });

  const typing = (el) => el && (el.tagName === "INPUT" && el.type !== "radio" && el.type !== "checkbox"
    || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(document.activeElement)) return;
    const key = e.key.toLowerCase();
    const target = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!target) return;
    e.preventDefault();
    if (target.classList.contains("reveal")) { if (!e.repeat) reveal(target); return; }
    if (e.repeat) return;
    if (target.type === "radio") { target.checked = true; target.focus(); return; }
    target.click();
  });
  document.addEventListener("keyup", (e) => {
    if (e.key.toLowerCase() === "r") conceal();
  });
})();
