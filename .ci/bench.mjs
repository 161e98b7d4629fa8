// Measures against a running Mast: node bench.mjs BASE_URL PKG_DIR
import { readFileSync, readdirSync } from "node:fs";
import { brotliCompressSync, constants } from "node:zlib";
import { cpus } from "node:os";

const [base, pkg] = process.argv.slice(2);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

// 1. Bundle: everything the browser downloads to hydrate.
let raw = 0, br = 0;
for (const f of readdirSync(pkg).filter((f) => /\.(wasm|js)$/.test(f))) {
  const bytes = readFileSync(`${pkg}/${f}`);
  const b = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  console.log(`bundle ${f.padEnd(24)} ${kb(bytes.length).padStart(10)} raw ${kb(b).padStart(10)} brotli`);
  raw += bytes.length; br += b;
}
console.log(`bundle total                    ${kb(raw).padStart(10)} raw ${kb(br).padStart(10)} brotli (goal <= 250 KB brotli)`);

for (let i = 0; i < 100; i++) {
  try { await fetch(`${base}/healthz`); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
}

async function timeRequests(label, n, concurrency, make, expected = 200) {
  const times = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      const t = performance.now();
      const res = await make(i);
      await res.arrayBuffer();
      if (res.status !== expected) throw new Error(`${label}: answered ${res.status}, expected ${expected}`);
      times.push(performance.now() - t);
    }
  }));
  const total = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const p = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
  const rate = n / total;
  console.log(`${label.padEnd(42)} p50 ${p(0.5).padStart(7)} ms  p95 ${p(0.95).padStart(7)} ms  ${rate.toFixed(0).padStart(6)} req/s`);
  return rate;
}

// 2. SSR of the landing page against the cheapest route, same server, same run.
const get = (path) => () => fetch(`${base}${path}`);
await timeRequests("warm-up", 200, 4, get("/"));
// The baseline runs before and after, so drift on a shared machine shows and averages out.
const healthBefore = await timeRequests("GET /healthz (baseline, before)", 2000, 4, get("/healthz"));
const landing = await timeRequests("GET / (server-side rendered)", 2000, 4, get("/"));
const healthAfter = await timeRequests("GET /healthz (baseline, after)", 2000, 4, get("/healthz"));
const health = (healthBefore + healthAfter) / 2;
console.log(`landing page costs ${(health / landing).toFixed(1)}x a /healthz request`);

// 3. Password sign-ins: argon2id dominates; one account per request so throttling stays out.
const origin = { origin: base };
const form = (o) => new URLSearchParams(o).toString();
const headers = { ...origin, "content-type": "application/x-www-form-urlencoded" };
const n = 40;
const emails = Array.from({ length: n }, (_, i) => `bench-${Date.now()}-${i}@example.test`);
const signUp = (email) => fetch(`${base}/rpc/sign_up`, { method: "POST", headers,
  body: form({ email, display_name: "Bench", password: "correct horse battery staple", accept_terms: "on" }) });
// ASVS 6.3.8: a taken address must not answer faster or slower than a new one.
await timeRequests("POST /rpc/sign_up (new address)", n, 1, (i) => signUp(emails[i]));
await timeRequests("POST /rpc/sign_up (taken address)", n, 1, (i) => signUp(emails[i].toUpperCase()));
const reset = (email) => fetch(`${base}/rpc/request_password_reset`, { method: "POST", headers, body: form({ email }) });
await timeRequests("POST /rpc/request_password_reset (known)", 20, 1, (i) => reset(emails[i]));
await timeRequests("POST /rpc/request_password_reset (unknown)", 20, 1, (i) => reset(`nobody-${i}@example.test`));
const signIns = await timeRequests("POST /rpc/sign_in (argon2id)", n, cpus().length * 2, (i) =>
  fetch(`${base}/rpc/sign_in`, { method: "POST", headers,
    body: form({ email: emails[i], password: "correct horse battery staple" }) }));
console.log(`password sign-ins: ${signIns.toFixed(1)}/s on ${cpus().length} cores (${(health / signIns).toFixed(0)}x the cost of /healthz)`);
