// tenken review page: upload, run, review findings (target | aligned reference), export. No dependencies.
"use strict";

const I18N = {
  ja: {
    title: "点検レビュー", apiKey: "APIキー", references: "参照写真", upload: "アップロード", newJob: "新しい点検",
    run: "実行", jobs: "ジョブ", targets: "対象", class: "クラス", all: "すべて", minScore: "最小スコア",
    pendingOnly: "未レビューのみ", addBox: "見落としを追加 (b)", target: "対象（現在）",
    reference: "参照（位置合わせ済み）", label: "ラベル", score: "スコア", state: "状態", comment: "コメント",
    confirm: "確定 (c)", reject: "却下 (x)", relabel: "ラベル変更 (l)", commentHint: "コメント (Enterで保存)",
    keys: "c 確定 · x 却下 · n/j 次 · p/k 前 · l ラベル · b 追加 · +/- ズーム", export: "書き出し",
    pending: "未レビュー", confirmed: "確定", rejected: "却下", queued: "待機中", running: "実行中", done: "完了",
    failed: "失敗", refs: "枚", noKey: "APIキーを入力してください", uploaded: "アップロードしました",
    queuedJob: "ジョブを登録しました", drawHint: "対象画像の上でドラッグして枠を描いてください",
    noAligned: "位置合わせできませんでした", langButton: "English",
  },
  en: {
    title: "inspection review", apiKey: "API key", references: "Reference photos", upload: "Upload",
    newJob: "New inspection", run: "Run", jobs: "Jobs", targets: "Targets", class: "Class", all: "all",
    minScore: "Min score", pendingOnly: "Unreviewed only", addBox: "Add missed box (b)", target: "Target (now)",
    reference: "Reference (aligned)", label: "Label", score: "Score", state: "State", comment: "Comment",
    confirm: "Confirm (c)", reject: "Reject (x)", relabel: "Relabel (l)", commentHint: "Comment (Enter saves)",
    keys: "c confirm · x reject · n/j next · p/k previous · l label · b add · +/- zoom", export: "Export",
    pending: "pending", confirmed: "confirmed", rejected: "rejected", queued: "queued", running: "running",
    done: "done", failed: "failed", refs: "photos", noKey: "Enter an API key", uploaded: "Uploaded",
    queuedJob: "Job queued", drawHint: "Drag on the target image to draw a box", noAligned: "Not aligned",
    langButton: "日本語",
  },
};

const state = {
  lang: localStorage.getItem("tenken.lang") || "ja",
  key: localStorage.getItem("tenken.key") || "",
  site: null, job: null, items: [], item: null, findings: [], selected: -1,
  classes: [], zoom: 1, drawing: false, poll: null, urls: [], refCount: null,
};
const $ = (id) => document.getElementById(id);
const t = (k) => (I18N[state.lang] || I18N.ja)[k] || k;

function say(text, bad = false) {
  const s = $("status");
  s.textContent = text;
  s.style.color = bad ? "#ff8a80" : "#fff";
}

async function api(path, options = {}) {
  if (!state.key) throw new Error(t("noKey"));
  const headers = Object.assign({ "X-API-Key": state.key }, options.headers || {});
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (!r.ok) {
    let message = r.status + " " + r.statusText;
    try { message = (await r.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  const type = r.headers.get("content-type") || "";
  return type.startsWith("application/json") ? r.json() : r;
}

async function guarded(fn) {
  try { await fn(); } catch (e) { say(e.message, true); }
}

function applyLang() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  $("lang").textContent = t("langButton");
  fillClassSelects();
  renderJobsList(); renderItems(); renderFindings(); renderProgress(); renderRefCount();
}

function className(id) {
  const c = state.classes.find((x) => x.id === id);
  if (c) return c[state.lang];
  return { change: state.lang === "ja" ? "変化" : "change", unknown: state.lang === "ja" ? "不明" : "unknown" }[id] || id;
}

function fillClassSelects() {
  const filter = $("filter-class"), relabel = $("relabel");
  const keep = filter.value;
  filter.innerHTML = "";
  const all = document.createElement("option");
  all.value = ""; all.textContent = t("all");
  filter.appendChild(all);
  for (const id of ["change", ...state.classes.map((c) => c.id)]) {
    const o = document.createElement("option");
    o.value = id; o.textContent = className(id);
    filter.appendChild(o);
  }
  filter.value = keep;
  const keepLabel = relabel.value;
  relabel.innerHTML = "";
  state.classes.forEach((c, i) => {
    const o = document.createElement("option");
    o.value = c.id; o.textContent = `${i < 9 ? i + 1 + " " : ""}${c[state.lang]}`;
    relabel.appendChild(o);
  });
  if (keepLabel) relabel.value = keepLabel;
}

// -- sites, references, jobs ---------------------------------------------------------------------------------

async function loadSites() {
  const sites = await api("/api/v1/sites");
  const sel = $("site");
  sel.innerHTML = "";
  for (const s of sites) {
    const o = document.createElement("option");
    o.value = s.id; o.textContent = s.name;
    sel.appendChild(o);
  }
  if (sites.length) { state.site = sites[0].id; sel.value = state.site; await loadSite(); }
}

async function loadSite() {
  state.refCount = (await api(`/api/v1/sites/${state.site}/references`)).length;
  renderRefCount();
  await loadJobs();
}

function renderRefCount() {
  $("ref-count").textContent = state.refCount === null ? "" : `${state.refCount} ${t("refs")}`;
}

function formWithFiles(input) {
  const form = new FormData();
  for (const f of input.files) form.append("files", f, f.name);
  return form;
}

async function uploadReferences() {
  const input = $("ref-files");
  if (!input.files.length) return;
  await api(`/api/v1/sites/${state.site}/references`, { method: "POST", body: formWithFiles(input) });
  input.value = "";
  say(t("uploaded"));
  await loadSite();
}

async function runJob() {
  const input = $("job-files");
  if (!input.files.length) return;
  const form = formWithFiles(input);
  form.append("detector", $("detector").value);
  if ($("model").value.trim()) form.append("model", $("model").value.trim());
  form.append("lang", state.lang);
  const job = await api(`/api/v1/sites/${state.site}/jobs`, { method: "POST", body: form });
  input.value = "";
  say(`${t("queuedJob")}: #${job.id}`);
  await loadJobs();
  await openJob(job.id);
}

let jobsCache = [];
async function loadJobs() {
  jobsCache = await api(`/api/v1/jobs?site_id=${state.site}`);
  renderJobsList();
}

function renderJobsList() {
  const ul = $("jobs");
  ul.innerHTML = "";
  for (const j of jobsCache) {
    const li = document.createElement("li");
    li.dataset.job = j.id;
    if (state.job && state.job.id === j.id) li.className = "active";
    const p = j.progress;
    li.textContent = `#${j.id} ${t(j.status)} ${p.done + p.failed}/${p.total}`;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("i");
    fill.style.width = `${p.total ? (100 * (p.done + p.failed)) / p.total : 0}%`;
    bar.appendChild(fill);
    li.appendChild(bar);
    li.addEventListener("click", () => guarded(() => openJob(j.id)));
    ul.appendChild(li);
  }
}

async function openJob(id) {
  state.job = await api(`/api/v1/jobs/${id}`);
  state.items = await api(`/api/v1/jobs/${id}/items`);
  renderJobsList();
  renderProgress();
  renderItems();
  const first = state.items.find((i) => i.status === "done");
  if (first && (!state.item || state.item.job_id !== id)) await openItem(first.id);
  clearInterval(state.poll);
  if (state.job.status === "queued" || state.job.status === "running") {
    state.poll = setInterval(() => guarded(pollJob), 1500);
  }
}

async function pollJob() {
  if (!state.job) return;
  const job = await api(`/api/v1/jobs/${state.job.id}`);
  const changed = job.progress.done + job.progress.failed !== state.job.progress.done + state.job.progress.failed;
  state.job = job;
  renderProgress();
  if (changed || job.status === "done" || job.status === "failed") {
    state.items = await api(`/api/v1/jobs/${job.id}/items`);
    renderItems();
    if (!state.item) {
      const first = state.items.find((i) => i.status === "done");
      if (first) await openItem(first.id);
    }
    await loadJobs();
  }
  if (job.status === "done" || job.status === "failed") clearInterval(state.poll);
}

function renderProgress() {
  if (!state.job) { $("progress").textContent = ""; return; }
  const p = state.job.progress;
  $("progress").textContent = `#${state.job.id} ${t(state.job.status)} · ${p.done}/${p.total} ${t("done")}` +
    (p.failed ? ` · ${p.failed} ${t("failed")}` : "");
}

function renderItems() {
  const ul = $("items");
  ul.innerHTML = "";
  for (const it of state.items) {
    const li = document.createElement("li");
    li.dataset.item = it.id;
    if (state.item && state.item.id === it.id) li.className = "active";
    const open = it.findings.filter((f) => f.status === "pending").length;
    li.textContent = `${it.name} · ${it.status === "done" ? `${it.findings.length} (${open} ${t("pending")})` : t(it.status)}`;
    if (it.status === "done") li.addEventListener("click", () => guarded(() => openItem(it.id)));
    ul.appendChild(li);
  }
}

// -- one target: images, boxes, findings ----------------------------------------------------------------------

async function imageUrl(sha) {
  const r = await api(`/api/v1/images/${sha}`);
  const url = URL.createObjectURL(await r.blob());
  state.urls.push(url);
  return url;
}

async function openItem(id) {
  state.item = await api(`/api/v1/items/${id}`);
  state.findings = state.item.findings;
  state.selected = -1;
  state.urls.forEach((u) => URL.revokeObjectURL(u));
  state.urls = [];
  const [target, aligned] = await Promise.all([
    imageUrl(state.item.target_sha),
    state.item.aligned_sha ? imageUrl(state.item.aligned_sha) : Promise.resolve(""),
  ]);
  $("img-target").src = target;
  $("img-ref").src = aligned;
  $("img-ref").alt = aligned ? "" : t("noAligned");
  await Promise.all([$("img-target").decode().catch(() => {}), aligned ? $("img-ref").decode().catch(() => {}) : null]);
  for (const svg of [$("svg-target"), $("svg-ref")]) {
    svg.setAttribute("viewBox", `0 0 ${state.item.width} ${state.item.height}`);
  }
  fitZoom();
  renderItems();
  selectNext(1);
}

function visible() {
  const cls = $("filter-class").value, min = parseFloat($("filter-score").value), pend = $("filter-pending").checked;
  return state.findings.map((f, i) => [f, i]).filter(([f]) =>
    (!cls || f.label === cls) && (f.score === null || f.score >= min) && (!pend || f.status === "pending"));
}

function renderFindings() {
  const body = $("findings").querySelector("tbody");
  body.innerHTML = "";
  const shown = visible();
  for (const [f, i] of shown) {
    const tr = document.createElement("tr");
    tr.dataset.finding = f.id;
    if (i === state.selected) tr.className = "selected";
    const cells = [i + 1, className(f.label) + (f.origin === "operator" ? " ✎" : ""),
      f.score === null ? "—" : f.score.toFixed(2), t(f.status), f.comment || ""];
    cells.forEach((v, k) => {
      const td = document.createElement("td");
      td.textContent = v;
      if (k === 3) td.className = `state-${f.status}`;
      tr.appendChild(td);
    });
    tr.addEventListener("click", () => select(i));
    body.appendChild(tr);
  }
  for (const svg of [$("svg-target"), $("svg-ref")]) drawBoxes(svg, shown);
}

function drawBoxes(svg, shown) {
  const NS = "http://www.w3.org/2000/svg";
  svg.innerHTML = "";
  for (const [f, i] of shown) {
    const [x1, y1, x2, y2] = f.box;
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("x", x1); r.setAttribute("y", y1);
    r.setAttribute("width", x2 - x1); r.setAttribute("height", y2 - y1);
    r.setAttribute("class", `${f.status}${i === state.selected ? " selected" : ""}`);
    r.addEventListener("click", (e) => { e.stopPropagation(); select(i); });
    svg.appendChild(r);
    const label = document.createElementNS(NS, "text");
    const size = Math.max(14, state.item.width / 70);
    label.setAttribute("font-size", size);
    label.setAttribute("x", x1 + 2); label.setAttribute("y", Math.max(size, y1 - 4));
    label.textContent = `${i + 1} ${className(f.label)}`;
    svg.appendChild(label);
  }
}

function select(i) {
  state.selected = i;
  const f = state.findings[i];
  if (f) {
    if (state.classes.some((c) => c.id === f.label)) $("relabel").value = f.label;
    $("comment").value = f.comment || "";
    scrollToBox(f.box);
  }
  renderFindings();
}

function selectNext(step) {
  const shown = visible().map(([, i]) => i);
  if (!shown.length) { state.selected = -1; renderFindings(); return; }
  const at = shown.indexOf(state.selected);
  const next = at < 0 ? (step > 0 ? 0 : shown.length - 1) : (at + step + shown.length) % shown.length;
  select(shown[next]);
}

async function act(action, extra = {}) {
  const f = state.findings[state.selected];
  if (!f) return;
  const updated = await api(`/api/v1/findings/${f.id}/review`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(Object.assign({ action }, extra)),
  });
  state.findings[state.selected] = updated;
  const it = state.items.find((x) => x.id === state.item.id);
  if (it) it.findings = state.findings;
  renderItems();
  if (action === "comment") renderFindings(); else selectNext(1);
}

// -- zoom and drawing ---------------------------------------------------------------------------------------

function fitZoom() {
  const frame = $("frame-target");
  state.zoom = Math.min(1, (frame.clientWidth - 4) / state.item.width, (frame.clientHeight - 4) / state.item.height);
  applyZoom();
}

function applyZoom() {
  document.querySelectorAll(".zoom").forEach((z) => {
    z.style.transform = `scale(${state.zoom})`;
    z.parentElement.dataset.zoom = state.zoom.toFixed(3);
    z.style.width = `${state.item ? state.item.width : 0}px`;
    z.style.height = `${state.item ? state.item.height : 0}px`;
    z.style.marginRight = `${(state.item ? state.item.width : 0) * (state.zoom - 1)}px`;
    z.style.marginBottom = `${(state.item ? state.item.height : 0) * (state.zoom - 1)}px`;
  });
  document.querySelectorAll(".zoom img").forEach((img) => {
    img.style.width = `${state.item ? state.item.width : 0}px`;
    img.style.height = `${state.item ? state.item.height : 0}px`;
  });
}

function zoomBy(factor) {
  if (!state.item) return;
  state.zoom = Math.max(0.05, Math.min(8, state.zoom * factor));
  applyZoom();
  const f = state.findings[state.selected];
  if (f) scrollToBox(f.box);
}

function scrollToBox(box) {
  for (const id of ["frame-target", "frame-ref"]) {
    const frame = $(id);
    frame.scrollLeft = ((box[0] + box[2]) / 2) * state.zoom - frame.clientWidth / 2;
    frame.scrollTop = ((box[1] + box[3]) / 2) * state.zoom - frame.clientHeight / 2;
  }
}

function syncScroll(from, to) {
  from.addEventListener("scroll", () => { to.scrollLeft = from.scrollLeft; to.scrollTop = from.scrollTop; });
}

function imagePoint(e) {
  const rect = $("svg-target").getBoundingClientRect();
  const x = ((e.clientX - rect.left) / rect.width) * state.item.width;
  const y = ((e.clientY - rect.top) / rect.height) * state.item.height;
  return [Math.max(0, Math.min(state.item.width, x)), Math.max(0, Math.min(state.item.height, y))];
}

function startDrawing() {
  if (!state.item) return;
  state.drawing = true;
  document.body.classList.add("drawing-mode");
  say(t("drawHint"));
}

function setupDrawing() {
  const svg = $("svg-target");
  let start = null, ghost = null;
  svg.addEventListener("mousedown", (e) => {
    if (!state.drawing) return;
    e.preventDefault();
    start = imagePoint(e);
    ghost = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    ghost.setAttribute("class", "drawing");
    svg.appendChild(ghost);
  });
  svg.addEventListener("mousemove", (e) => {
    if (!start) return;
    const [x, y] = imagePoint(e);
    ghost.setAttribute("x", Math.min(x, start[0])); ghost.setAttribute("y", Math.min(y, start[1]));
    ghost.setAttribute("width", Math.abs(x - start[0])); ghost.setAttribute("height", Math.abs(y - start[1]));
  });
  svg.addEventListener("mouseup", (e) => guarded(async () => {
    if (!start) return;
    const [x, y] = imagePoint(e);
    const box = [Math.min(x, start[0]), Math.min(y, start[1]), Math.max(x, start[0]), Math.max(y, start[1])];
    start = null; state.drawing = false;
    document.body.classList.remove("drawing-mode");
    if (box[2] - box[0] < 2 || box[3] - box[1] < 2) { renderFindings(); return; }
    const added = await api(`/api/v1/items/${state.item.id}/findings`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ box: box.map((v) => Math.round(v * 10) / 10), label: $("relabel").value }),
    });
    state.findings.push(added);
    say("");
    select(state.findings.length - 1);
    renderItems();
  }));
}

// -- exports -----------------------------------------------------------------------------------------------

async function download(kind) {
  if (!state.job) return;
  const r = await api(`/api/v1/jobs/${state.job.id}/export/${kind}`);
  const blob = r instanceof Response ? await r.blob() : new Blob([JSON.stringify(r, null, 2)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `job${state.job.id}-${kind}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

// -- keyboard ------------------------------------------------------------------------------------------------

function onKey(e) {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (typing) {
    if (e.key === "Enter" && document.activeElement === $("comment")) {
      guarded(() => act("comment", { comment: $("comment").value }));
      $("comment").blur();
    } else if (e.key === "Enter" && document.activeElement === $("relabel")) {
      guarded(() => act("relabel", { label: $("relabel").value }));
      $("relabel").blur();
    } else if (e.key === "Escape") {
      document.activeElement.blur();
    }
    return;
  }
  const keys = {
    c: () => guarded(() => act("confirm")), x: () => guarded(() => act("reject")),
    n: () => selectNext(1), j: () => selectNext(1), ArrowDown: () => selectNext(1),
    p: () => selectNext(-1), k: () => selectNext(-1), ArrowUp: () => selectNext(-1),
    l: () => $("relabel").focus(), b: () => startDrawing(), "+": () => zoomBy(1.25), "=": () => zoomBy(1.25),
    "-": () => zoomBy(0.8), 0: () => fitZoom(),
  };
  if (/^[1-9]$/.test(e.key) && state.classes[+e.key - 1]) {
    e.preventDefault();
    guarded(() => act("relabel", { label: state.classes[+e.key - 1].id }));
  } else if (keys[e.key]) {
    e.preventDefault();
    keys[e.key]();
  }
}

// -- start ---------------------------------------------------------------------------------------------------

async function start() {
  $("key").value = state.key;
  state.classes = await (await fetch("/api/v1/classes")).json();
  applyLang();
  $("key").addEventListener("change", () => guarded(async () => {
    state.key = $("key").value.trim();
    localStorage.setItem("tenken.key", state.key);
    await loadSites();
  }));
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "ja" ? "en" : "ja";
    localStorage.setItem("tenken.lang", state.lang);
    applyLang();
  });
  $("site").addEventListener("change", () => guarded(async () => { state.site = +$("site").value; await loadSite(); }));
  $("ref-upload").addEventListener("click", () => guarded(uploadReferences));
  $("job-run").addEventListener("click", () => guarded(runJob));
  $("confirm").addEventListener("click", () => guarded(() => act("confirm")));
  $("reject").addEventListener("click", () => guarded(() => act("reject")));
  $("apply-label").addEventListener("click", () => guarded(() => act("relabel", { label: $("relabel").value })));
  $("zoom-in").addEventListener("click", () => zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => zoomBy(0.8));
  $("zoom-reset").addEventListener("click", () => state.item && fitZoom());
  $("draw").addEventListener("click", startDrawing);
  for (const id of ["filter-class", "filter-score", "filter-pending"]) {
    $(id).addEventListener("input", () => { $("score-out").textContent = $("filter-score").value; renderFindings(); });
  }
  document.querySelectorAll("[data-export]").forEach((b) =>
    b.addEventListener("click", () => guarded(() => download(b.dataset.export))));
  document.addEventListener("keydown", onKey);
  syncScroll($("frame-target"), $("frame-ref"));
  syncScroll($("frame-ref"), $("frame-target"));
  setupDrawing();
  if (state.key) await guarded(loadSites);
}

document.addEventListener("DOMContentLoaded", () => guarded(start));
