#!/usr/bin/env node
// Lighthouse on the landing page, the sign-in page and a signed-in dashboard, with Lighthouse's
// default settings (a mid-range phone on a slow 4G link, simulated throttling) and then the
// desktop preset. Prints scores, LCP/TBT/CLS and what /pkg/ (wasm, js, css) costs on the wire.
// Figures only: these machines are shared and noisy, so nothing here fails on a score; a score
// under 95 is flagged in the output.
//
//   node .ci/lighthouse.mjs http://localhost:3300 [--runs=3]
//
// Needs: a running Mast whose mail reaches maildev (MAST_TEST_SINK_URL, default
// http://127.0.0.1:1080), `npm ci` in end2end/ (lighthouse is pinned there), Chromium at
// CHROME_PATH (default /usr/bin/chromium).
import { pathToFileURL, fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, "..", "end2end", "node_modules");
const load = (file) => import(pathToFileURL(path.join(modules, file)).href);
const { default: lighthouse } = await load("lighthouse/core/index.js");
const { default: desktopConfig } = await load("lighthouse/core/config/desktop-config.js");
const chromeLauncher = await load("chrome-launcher/dist/index.js");

const base = (process.argv[2] ?? "").replace(/\/$/, "");
if (!/^https?:\/\//.test(base)) {
  console.error("usage: node .ci/lighthouse.mjs BASE_URL [--runs=N]");
  process.exit(2);
}
const runs = Number((process.argv.find((a) => a.startsWith("--runs=")) ?? "--runs=1").slice(7));
const sink = process.env.MAST_TEST_SINK_URL ?? "http://127.0.0.1:1080";
const GOAL = 95;

/** A server function called as the hydrated page calls it: form-encoded POST, same origin. */
async function rpc(endpoint, form, cookie) {
  const headers = { Origin: base, "Content-Type": "application/x-www-form-urlencoded" };
  if (cookie) headers.Cookie = cookie;
  const res = await fetch(`${base}/rpc/${endpoint}`, { method: "POST", headers, body: new URLSearchParams(form), redirect: "manual" });
  if (res.status !== 200) throw new Error(`${endpoint}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

async function waitForMail(to, subject) {
  for (let i = 0; i < 100; i++) {
    const all = await (await fetch(`${sink}/api/email`)).json();
    const found = all.find((m) => m.to.some((t) => t.address.toLowerCase() === to) && subject.test(m.subject));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no mail to ${to} in ${sink}`);
}

/** Signs up, confirms the address from the mail and signs in; returns the session cookie. */
async function signedInCookie() {
  const email = `lighthouse-${Date.now()}@example.test`;
  const password = "correct horse battery staple";
  await rpc("sign_up", { email, display_name: "Lighthouse", password, accept_terms: "on" });
  const mail = await waitForMail(email, /Confirm your email/);
  const token = new URL(mail.text.match(/https?:\/\/\S+/)[0]).searchParams.get("token");
  await rpc("confirm_email", { token });
  const res = await rpc("sign_in", { email, password });
  const cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).at(-1);
  if (!cookie) throw new Error("sign_in set no cookie");
  return cookie;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function audit(port, url, cookie, config) {
  const flags = { port, output: "json", logLevel: "error", onlyCategories: ["performance", "accessibility", "best-practices", "seo"] };
  if (cookie) flags.extraHeaders = { Cookie: cookie };
  const { lhr } = await lighthouse(url, flags, config);
  if (lhr.runtimeError) throw new Error(`${url}: ${lhr.runtimeError.message}`);
  const score = (c) => Math.round((lhr.categories[c]?.score ?? 0) * 100);
  const requests = lhr.audits["network-requests"]?.details?.items ?? [];
  const pkg = requests.filter((r) => new URL(r.url).pathname.startsWith("/pkg/"));
  const failing = Object.values(lhr.audits)
    .filter((a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== "informative" && a.scoreDisplayMode !== "notApplicable" && a.scoreDisplayMode !== "manual")
    .map((a) => `${a.id}${a.displayValue ? ` (${a.displayValue})` : ""}`);
  return {
    version: lhr.lighthouseVersion,
    finalUrl: lhr.finalDisplayedUrl,
    performance: score("performance"),
    accessibility: score("accessibility"),
    bestPractices: score("best-practices"),
    seo: score("seo"),
    lcp: lhr.audits["largest-contentful-paint"].numericValue,
    tbt: lhr.audits["total-blocking-time"].numericValue,
    cls: lhr.audits["cumulative-layout-shift"].numericValue,
    pkgBytes: pkg.reduce((sum, r) => sum + (r.transferSize ?? 0), 0),
    pkgFiles: pkg.map((r) => `${path.basename(new URL(r.url).pathname)} ${(r.transferSize / 1024).toFixed(1)} KB`),
    failing,
  };
}

const cookie = await signedInCookie();
const pages = [
  { name: "landing", url: `${base}/` },
  { name: "sign-in", url: `${base}/signin` },
  { name: "dashboard", url: `${base}/dashboard`, cookie },
];
const forms = [
  { name: "mobile", config: undefined },
  { name: "desktop", config: desktopConfig },
];

// A fresh Chrome (and profile) per page: the sign-in page's passkey autofill starts an anonymous
// session, whose cookie would otherwise go along with the dashboard's and hide the signed-in one.
async function withChrome(fn) {
  const chrome = await chromeLauncher.launch({
    chromePath: process.env.CHROME_PATH ?? "/usr/bin/chromium",
    chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
  });
  try {
    return await fn(chrome.port);
  } finally {
    await chrome.kill();
  }
}

const rows = [];
for (const form of forms) {
  for (const page of pages) {
    const results = [];
    for (let i = 0; i < runs; i++) {
      // Lighthouse now and then fails to record a trace (NO_NAVSTART); one more try.
      const once = () => withChrome((port) => audit(port, page.url, page.cookie, form.config));
      results.push(await once().catch((e) => (console.error(`retrying: ${e.message}`), once())));
    }
    // The run with the median performance score stands for the page.
    const perf = median(results.map((r) => r.performance));
    rows.push({ form: form.name, page: page.name, ...results.find((r) => r.performance === perf) });
  }
}

const flag = (n) => `${String(n).padStart(3)}${n < GOAL ? "!" : " "}`;
console.log(`Lighthouse ${rows[0].version} on ${base} (${runs} run${runs > 1 ? "s, median" : ""}; ! marks a score under ${GOAL})\n`);
console.log("form     page        perf  a11y  best   seo     LCP      TBT     CLS   /pkg/ transfer");
for (const r of rows) {
  console.log(
    `${r.form.padEnd(8)} ${r.page.padEnd(10)} ${flag(r.performance)}  ${flag(r.accessibility)}  ${flag(r.bestPractices)}  ${flag(r.seo)}` +
      `  ${(r.lcp / 1000).toFixed(2).padStart(5)} s  ${Math.round(r.tbt).toString().padStart(4)} ms  ${r.cls.toFixed(3)}  ${(r.pkgBytes / 1024).toFixed(1).padStart(6)} KB`,
  );
}
for (const r of rows) {
  const asked = pages.find((p) => p.name === r.page).url;
  if (r.finalUrl !== asked) console.log(`note: ${r.form} ${r.page} ended at ${r.finalUrl}`);
}
const files = rows.find((r) => r.pkgFiles.length)?.pkgFiles ?? [];
console.log(`\n/pkg/ files as sent: ${files.join(", ") || "none"}`);
const low = rows.filter((r) => [r.performance, r.accessibility, r.bestPractices, r.seo].some((s) => s < GOAL));
if (low.length) {
  console.log(`\nUnder ${GOAL}:`);
  for (const r of low) console.log(`  ${r.form} ${r.page}: audits below 0.9: ${r.failing.join(", ") || "none"}`);
} else {
  console.log(`\nEvery score is ${GOAL} or more.`);
}
