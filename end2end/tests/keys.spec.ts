import { test, expect } from "@playwright/test";
import { callApi, confirmedDeveloper, uniqueEmail } from "./people";

test("create a key, copy it, call the API, see it used, roll it, revoke the old one", async ({ page, context, request }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await confirmedDeveloper(page, uniqueEmail("keys"));

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API keys" }).click();
  await expect(page.getByRole("heading", { name: "API keys", exact: true })).toBeVisible();
  await expect(page.getByText("You have no keys yet.")).toBeVisible();
  await expect(page.getByText("Plan: free")).toBeVisible();

  await page.getByLabel("Name", { exact: true }).fill("Billing service");
  await page.getByRole("button", { name: "Create key" }).click();
  const shown = page.getByLabel("New API key");
  await expect(shown).toHaveValue(/^mast_live_[0-9A-Za-z]{36}$/);
  const key = await shown.inputValue();

  await page.getByRole("button", { name: "Copy key" }).click();
  await expect(page.getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);

  // The list shows prefix…last4, never the key.
  const item = page.getByRole("listitem").filter({ hasText: "Billing service" });
  await expect(item).toContainText(`${key.slice(0, 14)}…${key.slice(-4)}`);
  await expect(item).toContainText("never used");
  await page.screenshot({ path: "test-results/keys-new-key.png", fullPage: true });

  const res = await callApi(request, key);
  expect(res.status()).toBe(200);
  expect((await res.json()).key_type).toBe("live");

  // Once the request log is written, the page shows the key in use.
  await page.getByRole("button", { name: "I have stored it safely" }).click();
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole("listitem").filter({ hasText: "Billing service" })).toContainText("last used", { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  expect(await page.content()).not.toContain(key);

  // Roll with an hour's grace: a new key, and the old one keeps working meanwhile.
  const old = page.getByRole("listitem").filter({ hasText: key.slice(-4) });
  await old.getByRole("button", { name: "Roll" }).click();
  await old.getByLabel("The old key keeps working for").selectOption({ label: "1 hour" });
  await old.getByRole("button", { name: "Roll key" }).click();
  await expect(page.getByLabel("New API key")).not.toHaveValue(key);
  const rolled = await page.getByLabel("New API key").inputValue();
  expect(rolled).toMatch(/^mast_live_/);
  await expect(old).toContainText("Rolled, works until");
  await expect(old).toContainText(/1 request with this key in the last hour: something still uses it/);
  expect((await callApi(request, key)).status()).toBe(200);
  expect((await callApi(request, rolled)).status()).toBe(200);
  await page.screenshot({ path: "test-results/keys-rolled.png", fullPage: true });

  // Revoke the old key now: refused at once with its reason; the new key still works.
  await old.getByRole("button", { name: "Revoke" }).click();
  await old.getByRole("button", { name: "Revoke now" }).click();
  await expect(old).toContainText("Revoked");
  const refused = await callApi(request, key);
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error.code).toBe("revoked_key");
  expect((await callApi(request, rolled)).status()).toBe(200);

  // The dashboard shows the plan's limits and this month's use.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard" }).click();
  await expect(page.getByText("Plan free: 60 requests per minute, 10,000 per month.")).toBeVisible();
  await expect(page.getByText(/Used this month: \d+\. Active keys: 1\./)).toBeVisible();
  await page.screenshot({ path: "test-results/dashboard.png", fullPage: true });
});
