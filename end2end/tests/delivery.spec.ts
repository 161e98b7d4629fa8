import { test, expect } from "@playwright/test";

// What the browser downloads to make a page live: compressed, and, as the bundle files are
// named after their content, kept for a year so the next visit downloads nothing again.
test("the bundle is sent compressed and cached for a year; pages are never stored", async ({ request }) => {
  const page = await request.get("/");
  expect(page.headers()["cache-control"]).toBe("no-store");
  const html = await page.text();
  // The stylesheet's link, and the JavaScript and WebAssembly the hydration script imports.
  const bundle = [...html.matchAll(/"(\/pkg\/[^"]+\.(?:css|js|wasm))"/g)].map((m) => m[1]);
  // The stylesheet, the JavaScript and the WebAssembly, each with a content hash in its name.
  expect(bundle.map((p) => p.replace(/\.[\w-]+\.(css|js|wasm)$/, ".$1")).sort()).toEqual(["/pkg/mast.css", "/pkg/mast.js", "/pkg/mast.wasm"]);
  for (const path of bundle) {
    for (const encoding of ["br", "gzip"]) {
      const res = await request.get(path, { headers: { "Accept-Encoding": encoding } });
      expect(res.status(), path).toBe(200);
      expect(res.headers()["content-encoding"], `${path} asked for ${encoding}`).toBe(encoding);
      expect(res.headers()["cache-control"], path).toBe("public, max-age=31536000, immutable");
      expect(res.headers()["vary"] ?? "", path).toMatch(/accept-encoding/i);
    }
  }
  // A bundle name that does not exist is not kept: it may exist on the next release.
  const missing = await request.get("/pkg/mast.0000000000.js");
  expect(missing.status()).toBe(404);
  expect(missing.headers()["cache-control"]).toBe("no-store");
});
