import { test, expect } from "@playwright/test";
import { grantAdmin } from "./operator";
import { callApi, confirmedDeveloper, uniqueEmail } from "./people";

test("traffic shows on the chart and in the key's log; an admin filters the log and suspends the account", async ({ page, browser, request }) => {
  const developer = uniqueEmail("usage");
  await confirmedDeveloper(page, developer, "Katherine Johnson");
  await page.goto("/keys");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Name", { exact: true }).fill("Telemetry");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = await page.getByLabel("New API key").inputValue();
  expect(key).toMatch(/^mast_live_/);

  // Calls until the plan's per-minute limit refuses two of them.
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 200 && refused < 2; i++) {
    const res = await callApi(request, key);
    if (res.status() === 200) accepted++;
    else if (res.status() === 429) refused++;
    else throw new Error(`unexpected ${res.status()}`);
  }
  expect(refused).toBe(2);
  const total = accepted + refused;

  // The dashboard's chart (after the log writer's next flush).
  await expect(async () => {
    await page.goto("/dashboard");
    await expect(page.locator(".chart-readout")).toHaveText(
      `${total} requests in the last 24 hours: ${accepted} accepted, ${refused} refused`,
      { timeout: 1000 },
    );
  }).toPass({ timeout: 15_000 });
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByRole("img", { name: /Requests over time/ })).toBeVisible();
  // Pointing at the busy bar shows its exact figures.
  await page.locator(".bar").filter({ has: page.locator("rect.seg-refused") }).hover();
  await expect(page.locator(".chart-readout")).toContainText(`${refused} refused`);
  await expect(page.locator(".chart-readout")).toContainText("UTC:");
  await expect(page.getByRole("table").filter({ hasText: "Telemetry" })).toContainText(`${accepted}`);
  await expect(page.locator(".ranking").filter({ hasText: "Refusals by reason" })).toContainText("rate_limited");
  await page.screenshot({ path: "test-results/dashboard-usage.png", fullPage: true });
  expect(await page.content()).not.toContain(key);

  // Another range without a full reload: the page's window object survives.
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
  await page.getByRole("navigation", { name: "Time range" }).getByRole("link", { name: "7 days" }).click();
  await expect(page).toHaveURL(/range=7d/);
  await expect(page.locator(".chart-readout")).toContainText("in the last 7 days");
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);

  // The key's page: its own requests, filtered by reason.
  await page.getByRole("link", { name: "Telemetry" }).first().click();
  await expect(page.getByRole("heading", { name: "Key “Telemetry”" })).toBeVisible();
  await expect(page.locator("table.log tbody tr")).toHaveCount(Math.min(total, 50));
  await page.getByLabel("Reason").selectOption("rate_limited");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/code=rate_limited/);
  await expect(page.locator("table.log tbody tr")).toHaveCount(2);
  await expect(page.locator("table.log tbody")).toContainText("429");
  await page.screenshot({ path: "test-results/key-page.png", fullPage: true });
  expect(await page.content()).not.toContain(key);

  // An admin, in a browser of their own.
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  const adminEmail = uniqueEmail("admin");
  await confirmedDeveloper(admin, adminEmail, "Dorothy Vaughan");
  grantAdmin(adminEmail);
  await admin.goto("/admin/logs");
  await expect(admin.getByRole("navigation", { name: "Admin" })).toBeVisible();
  await admin.getByLabel("Account", { exact: true }).fill(developer);
  await admin.getByLabel("Reason").selectOption("rate_limited");
  await admin.getByRole("button", { name: "Filter" }).click();
  await expect(admin).toHaveURL(/code=rate_limited/);
  await expect(admin.locator("table.log tbody tr")).toHaveCount(2);
  await expect(admin.locator("table.log tbody")).toContainText(`${key.slice(0, 14)}…${key.slice(-4)}`);
  await admin.screenshot({ path: "test-results/admin-logs.png", fullPage: true });
  expect(await admin.content()).not.toContain(key);

  await admin.goto("/admin");
  await admin.getByLabel("Search", { exact: true }).fill(developer);
  await admin.getByRole("button", { name: "Search" }).click();
  await admin.getByRole("link", { name: developer }).click();
  await expect(admin.getByRole("heading", { name: developer })).toBeVisible();
  await expect(admin.locator("html")).toHaveAttribute("data-hydrated", "true");
  await admin.getByRole("button", { name: "Suspend account" }).click();
  await expect(admin.getByRole("button", { name: "Reactivate account" })).toBeVisible();
  await expect(admin.getByText("admin.account_suspended")).toBeVisible();
  await admin.screenshot({ path: "test-results/admin-account.png", fullPage: true });
  expect(await admin.content()).not.toContain(key);

  // At once: the key is refused and the developer is signed out.
  const after = await callApi(request, key);
  expect(after.status()).toBe(403);
  expect((await after.json()).error.code).toBe("account_suspended");
  await page.goto("/dashboard");
  await expect(page).toHaveURL(/\/signin/);
  await adminContext.close();
});
