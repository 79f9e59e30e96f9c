// The hashing page: files chosen or dropped are hashed in Web Workers (made from hasher.js's
// own source, so that a file:// copy works too), shown with local previews, and only their
// hashes are sent, when the person presses Send. Nothing is stored in the browser.
"use strict";
(() => {
  const I18N = window.VIGIL_I18N, CONFIG = window.VIGIL_CONFIG || {};
  const $ = (id) => document.getElementById(id);
  let lang = (navigator.language || "en").slice(0, 2);
  if (!I18N[lang]) lang = "en";
  const rows = []; // {file, tr, result}

  function t(key, vars = {}) {
    const text = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  }

  function translate() {
    document.documentElement.lang = lang;
    $("lang").value = lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    document.title = t("title");
    rows.forEach(render);
    if (!CONFIG.submitUrl) $("receipt").textContent = t("offline");
  }

  // ---------------------------------------------------------------- workers
  const workers = [], waiting = new Map();
  let next = 0, seq = 0;
  function makeWorkers() {
    const source = `"use strict";\n${window.vigilHasher.toString()}\nvigilHasher(self);`;
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const count = Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1));
    try {
      for (let i = 0; i < count; i++) {
        const w = new Worker(url);
        w.onmessage = (event) => {
          const { id, done, progress } = event.data;
          const job = waiting.get(id);
          if (!job) return;
          if (done) { waiting.delete(id); job.resolve(done); } else job.progress(progress);
        };
        workers.push(w);
      }
    } catch (e) {
      workers.length = 0; // no workers here: hash on the page itself
    }
  }

  function hash(file, progress) {
    if (!workers.length) return window.vigil.hashFile(file, progress);
    const id = ++seq;
    const worker = workers[next++ % workers.length];
    return new Promise((resolve) => {
      waiting.set(id, { resolve, progress });
      worker.postMessage({ id, file });
    });
  }

  // ---------------------------------------------------------------- rows
  function status(result) {
    if (!result) return t("working");
    if (result.error === "empty") return t("empty");
    if (result.error === "undecodable") return t("undecodable");
    if (result.error && result.error.startsWith("too_large:")) return t("too_large", { size: result.error.slice(10).replace("x", " × ") });
    if (result.error) return t("failed", { why: result.error });
    if (!result.hash) return t("video");
    if (result.quality < 50) return t("low_quality");
    return t("done");
  }

  function render(row) {
    const cells = row.tr.children, r = row.result;
    const prints = [];
    if (r && r.md5) prints.push(`MD5 ${r.md5}`);
    if (r && r.hash) prints.push(`PDQ ${r.hash} (${r.quality})`);
    cells[2].textContent = prints.join("\n");
    cells[3].textContent = status(r);
    cells[3].classList.toggle("bad", Boolean(r && r.error));
  }

  function item(r) {
    // what is sent of one file: hashes only
    if (!r || !r.md5) return null;
    if (r.type.startsWith("video/")) return { video_md5: r.md5 };
    const out = { md5: r.md5 };
    if (r.hash && r.quality >= 50) out.pdq = r.hash;
    return out;
  }

  function payload() {
    const items = rows.map((row) => item(row.result)).filter(Boolean);
    const out = { items };
    const label = $("label").value.trim();
    if (label) out.label = label;
    return out;
  }

  function refresh() {
    const body = payload();
    const text = JSON.stringify(body, null, 1);
    $("preview").textContent = text;
    const busy = rows.some((row) => !row.result);
    document.body.dataset.files = String(rows.length); // for people's tools and the tests
    document.body.dataset.busy = busy ? "yes" : "no";
    $("send").disabled = busy || !body.items.length || !CONFIG.submitUrl;
    const link = $("download");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    link.hidden = busy || !body.items.length;
  }

  async function add(files) {
    $("results").hidden = false;
    const jobs = [];
    for (const file of files) {
      const tr = document.createElement("tr");
      tr.innerHTML = "<td></td><td></td><td class=\"hash\"></td><td></td>";
      if (file.type.startsWith("image/")) {
        const img = document.createElement("img");
        img.className = "thumb";
        img.alt = "";
        img.src = URL.createObjectURL(file); // shown here only: never sent
        tr.children[0].append(img);
      }
      tr.children[1].textContent = file.name;
      $("results").tBodies[0].append(tr);
      const row = { file, tr, result: null };
      rows.push(row);
      render(row);
      jobs.push(hash(file, () => {}).then((result) => { row.result = result; render(row); refresh(); }));
    }
    refresh();
    await Promise.all(jobs);
  }

  // ---------------------------------------------------------------- sending
  async function send() {
    $("send").disabled = true;
    $("receipt").textContent = t("sending");
    try {
      const answer = await fetch(CONFIG.submitUrl, { method: "POST", credentials: "omit",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload()) });
      const body = await answer.json();
      if (!answer.ok) throw new Error(body.error ? body.error.message : answer.statusText);
      $("receipt").textContent = t("sent");
      const code = document.createElement("p");
      code.className = "receipt-code";
      code.textContent = body.receipt;
      $("receipt").append(code);
    } catch (e) {
      $("receipt").textContent = t("send_failed", { why: e.message });
      $("send").disabled = false;
    }
  }

  async function check(method) {
    const code = $("code").value.trim();
    if (!code || !CONFIG.submitUrl) return;
    const answer = await fetch(`${CONFIG.submitUrl}/${encodeURIComponent(code)}`, { method, credentials: "omit" });
    if (answer.status === 404) { $("check-result").textContent = t("not_found"); return; }
    const body = await answer.json();
    if (!answer.ok) { $("check-result").textContent = t("send_failed", { why: body.error ? body.error.message : answer.statusText }); return; }
    const when = new Date(body.state === "withdrawn" ? body.withdrawn_at : body.created_at).toLocaleString(lang);
    $("check-result").textContent = t(body.state === "withdrawn" ? "state_withdrawn" : "state_active", { files: body.files, when });
  }

  // ---------------------------------------------------------------- wiring
  $("lang").addEventListener("change", (e) => { lang = e.target.value; translate(); });
  $("files").addEventListener("change", (e) => { add([...e.target.files]); e.target.value = ""; });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); add([...e.dataTransfer.files]); });
  $("label").addEventListener("input", refresh);
  $("send").addEventListener("click", send);
  $("check").addEventListener("click", () => check("GET"));
  $("withdraw").addEventListener("click", () => check("DELETE"));
  makeWorkers();
  translate();
  refresh();
  window.vigilPage = { add, payload, rows }; // for tests and benchmarks
})();
