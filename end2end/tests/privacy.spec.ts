import { test, expect } from "@playwright/test";
import { readFile } from "node:fs/promises";
import { waitForMail } from "./mail";
import { callApi, confirmedDeveloper, password, uniqueEmail } from "./people";

test("correct the profile, download everything, see the sessions, then delete the account", async ({ page, request, context }) => {
  // Reading pages sets no cookie at all; signed in, there is exactly one: the session.
  for (const path of ["/", "/privacy", "/terms", "/signup"]) {
    await page.goto(path);
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  }
  expect(await context.cookies()).toEqual([]);
  const email = uniqueEmail("leaving");
  await confirmedDeveloper(page, email);
  const cookies = await context.cookies();
  expect(cookies.map((c) => c.name)).toEqual(["mast_session"]);
  expect(cookies[0].httpOnly).toBe(true);
  expect(cookies[0].sameSite).toBe("Lax");

  // A key, so deletion has something to stop.
  await page.goto("/keys");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Name", { exact: true }).fill("Laptop script");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByLabel("New API key").inputValue()).trim();
  await page.getByRole("button", { name: "I have stored it safely" }).click();
  expect((await callApi(request, key)).status()).toBe(200);

  // Correction: the name is edited in place.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Account" }).click();
  await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Your name").fill("Grace B. Hopper");
  await page.getByLabel("Country").fill("United States");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.getByText("Profile saved.")).toBeVisible();

  // Access: one button, one JSON file with everything, no secret in it.
  const downloading = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download your data (JSON)" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe("my-data.json");
  const text = await readFile((await download.path())!, "utf8");
  const data = JSON.parse(text);
  expect(data.profile.email).toBe(email);
  expect(data.profile.display_name).toBe("Grace B. Hopper");
  expect(data.profile.country).toBe("United States");
  expect(data.consents.map((c: { document: string }) => c.document).sort()).toEqual(["privacy", "terms"]);
  expect(data.api_keys).toHaveLength(1);
  expect(data.api_keys[0].label).toBe("Laptop script");
  expect(data.request_log.length).toBeGreaterThanOrEqual(0);
  expect(text).not.toContain(key);
  await page.screenshot({ path: "test-results/account-privacy.png", fullPage: true });

  // Sessions: this one is listed and marked.
  await page.goto("/security");
  const sessions = page.getByRole("region", { name: "Sessions" });
  await expect(sessions.getByText("This session")).toBeVisible();
  await expect(sessions.getByRole("row")).toHaveCount(2);
  await page.screenshot({ path: "test-results/security-sessions.png", fullPage: true });

  // Deletion: the signed-in minutes count as "confirm it's you"; the address is typed.
  await page.goto("/account");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  const danger = page.getByRole("region", { name: "Delete your account" });
  await danger.getByLabel("Type your email address to confirm").fill("someone.else@example.test");
  await danger.getByRole("button", { name: "Delete my account" }).click();
  await expect(danger.getByText("Type the email address of this account to confirm.")).toBeVisible();
  await danger.getByLabel("Type your email address to confirm").fill(email);
  await danger.getByRole("button", { name: "Delete my account" }).click();
  await expect(page.getByRole("heading", { name: "Your account was deleted" })).toBeVisible();
  await waitForMail(email, /account was deleted/);

  // The key stops at once, and the account is gone.
  const refused = await callApi(request, key);
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error.code).toBe("unknown_key");
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByText("The email or password is not correct.")).toBeVisible();
});
