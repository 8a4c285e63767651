// The playground: the contract checked in this page by the policy's own core (wasm-bindgen).
// State lives in the URL fragment (#s=<base64url JSON>), so a link reproduces what you see.
import init, { checkManifests, checkValues, version } from "./pkg/image_digest_web.js";
import { EXAMPLES, SETTINGS } from "./examples.js";

const $ = (id) => document.getElementById(id);
const text = $("text"), settings = $("settings"), mode = $("mode"), namespace = $("namespace");
const preset = $("preset"), example = $("example"), results = $("results"), summary = $("summary");
const gutter = $("gutter"), backdrop = $("backdrop");

const encode = (state) => {
  const bytes = new TextEncoder().encode(JSON.stringify(state));
  let bin = "";
  bytes.forEach((b) => { bin += String.fromCharCode(b); });
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
const decode = (s) => {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
};
const state = () => ({ mode: mode.value, text: text.value, settings: settings.value, namespace: namespace.value });

function restore() {
  const m = location.hash.match(/^#s=([A-Za-z0-9_-]*)$/);
  if (m) {
    try {
      const s = decode(m[1]);
      mode.value = s.mode === "values" ? "values" : "manifests";
      text.value = String(s.text ?? "");
      settings.value = String(s.settings ?? "");
      namespace.value = String(s.namespace ?? "");
      preset.value = Object.keys(SETTINGS).find((k) => SETTINGS[k] === settings.value) ?? "";
      return;
    } catch (e) {
      summary.textContent = `The link's state could not be read (${e.message}); showing the example.`;
    }
  }
  mode.value = "manifests";
  text.value = EXAMPLES.render;
  settings.value = SETTINGS["non-prod"];
  preset.value = "non-prod";
}

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
};

// Rows for the table. Manifests: one per image, with its own verdict (`report.images`), a
// warning's text on its image, and runner errors. Values: one per finding, warning and
// accepted component (the report is per component there).
function rows(report) {
  const out = [];
  const warnings = new Map();
  for (const r of report.results) for (const w of r.warnings) warnings.set(w.line, w);
  for (const r of report.results) {
    if (r.error) out.push({ cls: "error", verdict: "error", line: r.line, col: r.column, who: `${r.kind} ${r.namespace}/${r.name}`, path: "", reasons: r.error, fix: "" });
  }
  if (report.images) {
    for (const i of report.images) {
      const w = warnings.get(i.line);
      const cls = w ? "warning" : i.verdict === "out of scope" ? "scope" : i.verdict;
      out.push({ cls, verdict: w ? "warning" : i.verdict, line: i.line, col: i.column, who: `${i.kind} ${i.namespace}/${i.name}`,
        path: `${i.path} (${i.holder} ${i.container})`, image: i.image, reasons: i.reasons.join("; ") || (i.verdict === "exempt" ? "exempt by the settings" : i.verdict === "out of scope" ? "namespace outside the settings' scope: not checked" : "pinned as the settings require"),
        fix: i.fix ?? "" });
    }
    return out.sort((a, b) => a.line - b.line);
  }
  for (const r of report.results) {
    const who = `component ${r.name}`;
    for (const f of r.findings) {
      const [reasons, fix] = f.detail.split(" Fix: ");
      const verdict = f.rule === "invalid-ref" ? "invalid" : "rejected";
      out.push({ cls: verdict, verdict, line: f.line, col: f.column, who, path: f.path, reasons, fix: (fix ?? "").replace(/\.$/, "") });
    }
    for (const w of r.warnings) out.push({ cls: "warning", verdict: "warning", line: w.line, col: w.column, who, path: w.path ?? "", reasons: w.message, fix: "" });
    if (!r.error && !r.findings.length && !r.warnings.length) {
      const verdict = r.outOfScope ? "out of scope" : "accepted";
      out.push({ cls: r.outOfScope ? "scope" : "accepted", verdict, line: r.line, col: r.column, who, path: "", reasons: r.outOfScope ? "namespace outside the settings' scope: not checked" : "pinned as the settings require", fix: "" });
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

// The lines the policy's findings and warnings point at (the marks follow the policy itself).
function marks(report) {
  const bad = new Set();
  const warn = new Set();
  for (const r of report.results) {
    if (r.error) bad.add(r.line);
    for (const f of r.findings) bad.add(f.line);
    for (const w of r.warnings) warn.add(w.line);
  }
  return { bad, warn };
}

function jump(line) {
  const lines = text.value.split("\n");
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  text.focus();
  text.setSelectionRange(offset, offset + (lines[line - 1] ?? "").length);
  text.scrollTop = Math.max(0, (line - 3) * parseFloat(getComputedStyle(text).lineHeight));
}

function renderTable(list) {
  const table = el("table", { id: "verdicts" },
    el("caption", {}, "Images"),
    el("colgroup", {}, ...["line", "verdict", "where", "reasons", "fix"].map((c) => el("col", { class: c }))),
    el("thead", {}, el("tr", {}, ...["Line", "Verdict", "Where", "Reasons", "Fix"].map((h) => el("th", { scope: "col" }, h)))));
  const body = el("tbody");
  for (const r of list) {
    const link = el("a", { href: `#L${r.line}`, "data-line": r.line }, `${r.line}:${r.col}`);
    link.addEventListener("click", (e) => { e.preventDefault(); jump(r.line); });
    body.append(el("tr", { class: r.cls, "data-line": r.line },
      el("td", {}, link), el("td", { class: "verdict" }, r.verdict),
      el("td", { class: "where" }, el("div", {}, r.who), el("div", {}, el("code", {}, r.path)), r.image ? el("div", { class: "image" }, el("code", {}, r.image)) : ""),
      el("td", {}, r.reasons), el("td", {}, r.fix ? el("code", {}, r.fix) : "")));
  }
  table.append(body);
  return table;
}

// Marks offending lines in the gutter and behind the text.
function mark({ bad, warn }) {
  const lines = text.value.split("\n");
  gutter.replaceChildren(...lines.map((_, i) => {
    const n = i + 1;
    const cls = bad.has(n) ? "bad" : warn.has(n) ? "warn" : "";
    return el("span", cls ? { class: cls, "data-line": n, title: cls === "bad" ? "breaks the contract" : "warning" } : {}, `${n}\n`);
  }));
  backdrop.replaceChildren(...lines.map((l, i) => {
    const n = i + 1;
    if (bad.has(n) || warn.has(n)) return el("mark", { class: bad.has(n) ? "bad" : "warn", "data-line": n }, `${l}\n`);
    return document.createTextNode(`${l}\n`);
  }));
}

function check() {
  const started = performance.now();
  const file = mode.value === "values" ? "values.yaml" : "manifests.yaml";
  const inputs = [{ name: file, text: text.value }];
  const options = namespace.value.trim() ? { namespace: namespace.value.trim() } : {};
  let report;
  try {
    report = (mode.value === "values" ? checkValues : checkManifests)(inputs, settings.value, options);
  } catch (e) {
    summary.className = "bad";
    summary.textContent = e.message;
    results.replaceChildren();
    mark({ bad: new Set(), warn: new Set() });
    return;
  }
  const list = rows(report);
  const s = report.summary;
  summary.className = report.exitCode === 0 ? (s.withWarnings ? "warn" : "ok") : "bad";
  const what = mode.value === "values" ? "images" : "workloads";
  summary.textContent = report.exitCode === 1
    ? `Rejected: ${s.rejected} of ${s.workloads} ${what} break the contract.`
    : report.exitCode === 0 ? `Accepted: ${s.accepted} ${what}${s.withWarnings ? `, ${s.withWarnings} with warnings` : ""}.`
    : `Not checked: ${[...report.notes, ...report.inputErrors].join(" ")}`;
  const parts = [];
  if (list.length) parts.push(renderTable(list));
  if (report.inputErrors.length) parts.push(el("ul", { class: "errors" }, ...report.inputErrors.map((e) => el("li", {}, e))));
  const skipped = Object.entries(s.skippedKinds ?? {});
  if (skipped.length) parts.push(el("p", {}, `Not checked (kinds the policy does not read): ${skipped.map(([k, n]) => `${k} ×${n}`).join(", ")}`));
  results.replaceChildren(...parts);
  mark(marks(report));
  $("timing").textContent = `checked in ${(performance.now() - started).toFixed(1)} ms`;
}

// Debounced: the check and the fragment follow typing after a pause (browsers also throttle
// history updates made on every keystroke).
let timer;
function changed() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    history.replaceState(null, "", `#s=${encode(state())}`);
    check();
  }, 200);
}

async function main() {
  const t0 = performance.now();
  await init();
  $("version").textContent = `policy v${version()}`;
  restore();
  mark({ bad: new Set(), warn: new Set() });
  for (const e of [text, settings, namespace]) e.addEventListener("input", changed);
  settings.addEventListener("input", () => { preset.value = ""; });
  mode.addEventListener("change", changed);
  preset.addEventListener("change", () => { if (preset.value) { settings.value = SETTINGS[preset.value]; changed(); } });
  example.addEventListener("change", () => {
    if (!example.value) return;
    mode.value = example.value.startsWith("values") ? "values" : "manifests";
    text.value = EXAMPLES[example.value];
    changed();
  });
  text.addEventListener("scroll", () => { backdrop.scrollTop = text.scrollTop; backdrop.scrollLeft = text.scrollLeft; gutter.scrollTop = text.scrollTop; });
  const load = async (f) => { text.value = await f.text(); mode.value = /values/i.test(f.name) ? "values" : mode.value; changed(); };
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) load(e.target.files[0]); });
  $("editor").addEventListener("dragover", (e) => e.preventDefault());
  $("editor").addEventListener("drop", (e) => { e.preventDefault(); if (e.dataTransfer.files[0]) load(e.dataTransfer.files[0]); });
  $("copy").addEventListener("click", async () => {
    history.replaceState(null, "", `#s=${encode(state())}`);
    try { await navigator.clipboard.writeText(location.href); $("copy").textContent = "Link copied"; } catch { $("copy").textContent = "Link is in the address bar"; }
  });
  check();
  document.body.dataset.ready = "true";
  document.body.dataset.firstResultMs = (performance.now() - t0).toFixed(1);
}

main().catch((e) => { summary.className = "bad"; summary.textContent = `The checker could not start: ${e.message}`; });
