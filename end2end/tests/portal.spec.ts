import { test, expect, type APIRequestContext, type Browser } from "@playwright/test";
import { confirmedDeveloper, password, uniqueEmail } from "./people";

// The second server, with the pet store product (see end2end/docs.toml; its upstream does not
// answer, so an accepted call gets 502 and a refused one its own code).
const docs = process.env.DOCS_BASE_URL ?? "http://localhost:3301";
test.use({ baseURL: docs });

async function errorCode(request: APIRequestContext, method: "GET" | "POST", key: string) {
  const res = await request.fetch(`${docs}/api/pets/v1/pets`, { method, headers: { Authorization: `Bearer ${key}` } });
  return [res.status(), (await res.json()).error?.code];
}

// The same developer in a browser with JavaScript switched off, signed in.
async function signInWithoutJavaScript(browser: Browser, email: string) {
  const plain = await browser.newContext({ baseURL: docs, javaScriptEnabled: false });
  const nojs = await plain.newPage();
  await nojs.goto("/signin");
  await nojs.getByLabel("Email").fill(email);
  await nojs.getByLabel("Password").fill(password);
  await nojs.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(nojs.getByRole("heading", { name: /Welcome/ })).toBeVisible();
  return { plain, nojs };
}

test("a key limited to reading one API is refused writes, and widened on its page", async ({ page, request, browser }) => {
  const email = uniqueEmail("scoped");
  await confirmedDeveloper(page, email);
  const apis = page.getByRole("heading", { name: "Your APIs" }).locator("..");
  await expect(apis.getByRole("link", { name: "Pet Store" })).toBeVisible();
  await page.screenshot({ path: "test-results/dashboard-your-apis.png", fullPage: true });

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API keys" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Reporting job");
  await page.getByText("Limit what it may do").click();
  await page.getByLabel("Only the APIs ticked here:").check();
  await page.getByLabel("Pet Store").check();
  await page.getByLabel("Read only (GET, HEAD and OPTIONS)").check();
  await page.getByLabel("Client addresses (optional)").fill("not an address");
  await page.getByRole("button", { name: "Create key" }).click();
  await expect(page.getByText("is not an IPv4 or IPv6 address or CIDR range")).toBeVisible();
  await page.screenshot({ path: "test-results/keys-scope-error.png", fullPage: true });
  await page.getByLabel("Client addresses (optional)").fill("");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = await page.getByLabel("New API key").inputValue();
  expect(key).toMatch(/^mast_live_/);
  const item = page.getByRole("listitem").filter({ hasText: "Reporting job" });
  await expect(item).toContainText("Pet Store · read only · any address");

  expect(await errorCode(request, "POST", key)).toEqual([403, "read_only_key"]);
  expect(await errorCode(request, "GET", key)).toEqual([502, "upstream_unavailable"]);

  // On the key's page: read and write from now on, on the next request.
  await item.getByRole("link", { name: "Reporting job" }).click();
  const scope = page.getByRole("heading", { name: "What this key may do" }).locator("..");
  await expect(scope).toContainText("Pet Store · read only · any address");
  await scope.getByLabel("Read and write").check();
  await scope.getByRole("button", { name: "Save scope" }).click();
  await expect(scope.getByRole("status")).toHaveText("Saved.");
  await expect(scope).toContainText("Pet Store · read and write · any address");
  expect(await errorCode(request, "POST", key)).toEqual([502, "upstream_unavailable"]);
  await page.screenshot({ path: "test-results/key-scope.png", fullPage: true });

  // Without JavaScript the same form posts and the page comes back with the new scope.
  const { plain, nojs } = await signInWithoutJavaScript(browser, email);
  await nojs.goto(new URL(page.url()).pathname);
  const form = nojs.getByRole("heading", { name: "What this key may do" }).locator("..");
  await form.getByLabel("Read only (GET, HEAD and OPTIONS)").check();
  await form.getByLabel("Client addresses (optional)").fill("203.0.113.0/24");
  await form.getByRole("button", { name: "Save scope" }).click();
  await expect(nojs.getByRole("heading", { name: "What this key may do" }).locator("..")).toContainText(
    "Pet Store · read only · from 203.0.113.0/24",
  );
  expect(await errorCode(request, "GET", key)).toEqual([403, "ip_not_allowed"]);
  await plain.close();
});

test("a phone-sized Keys page keeps the scope fields readable", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await confirmedDeveloper(page, uniqueEmail("scoped-phone"));
  await page.goto("/keys");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByText("Limit what it may do").click();
  await expect(page.getByLabel("Pet Store")).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, "no sideways scrolling").toBeLessThanOrEqual(0);
  await page.screenshot({ path: "test-results/keys-scope-phone.png", fullPage: true });
});

test("the catalogue leads to an operation, a try sends it, and the call is in the console key's requests", async ({ page, browser }) => {
  const email = uniqueEmail("tryit");
  await confirmedDeveloper(page, email);
  await page.goto("/docs");
  await page.getByRole("link", { name: "Pet Store" }).first().click();
  const operation = page.locator("section.operation#getpet");
  await operation.getByText("Try it", { exact: true }).click();
  await expect(operation.getByLabel(/petId/)).not.toHaveValue("");
  await operation.getByRole("button", { name: "Send GET" }).click();
  // The test product's upstream does not answer: the gateway's own 502, as for any call.
  const answer = operation.locator(".try-answer");
  await expect(answer).toContainText("502 Bad Gateway");
  await expect(answer).toContainText("GET /api/pets/v1/pets/");
  await expect(answer).not.toContainText("mast_test_");
  await page.screenshot({ path: "test-results/docs-try-it.png", fullPage: false });
  await page.setViewportSize({ width: 390, height: 844 });
  await answer.scrollIntoViewIfNeeded();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, "no sideways scrolling on a phone").toBeLessThanOrEqual(0);
  await page.screenshot({ path: "test-results/docs-try-it-phone.png", fullPage: false });
  await page.setViewportSize({ width: 1280, height: 800 });

  // The call is the console key's, in its request log.
  await page.goto("/keys");
  const consoleKey = page.getByRole("listitem").filter({ hasText: "Try-it console" });
  await expect(consoleKey).toContainText("never shown");
  await expect(consoleKey.getByRole("button", { name: /Roll/ })).toHaveCount(0);
  await consoleKey.getByRole("link", { name: "Try-it console" }).click();
  await expect(page.getByRole("heading", { name: "Key “Try-it console”" })).toBeVisible();
  await expect(page.getByText("/api/pets/v1/pets/").first()).toBeVisible();

  // Without JavaScript: the form posts, and the operation comes back with the answer.
  const { plain, nojs } = await signInWithoutJavaScript(browser, email);
  await nojs.goto("/docs/pets");
  const plainOperation = nojs.locator("section.operation#getpet");
  await plainOperation.getByText("Try it", { exact: true }).click();
  await plainOperation.getByRole("button", { name: "Send GET" }).click();
  await expect(nojs).toHaveURL(/\/docs\/pets#getpet-try$/);
  await expect(nojs.locator("section.operation#getpet .try-answer")).toContainText("502 Bad Gateway");
  await nojs.screenshot({ path: "test-results/docs-try-it-nojs.png", fullPage: false });
  await plain.close();
});
