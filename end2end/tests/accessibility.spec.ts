import AxeBuilder from "@axe-core/playwright";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test, expect, type Page } from "@playwright/test";
import { firstLink, waitForMail } from "./mail";
import { grantAdmin, runSql } from "./operator";
import { callApi, confirmedDeveloper, password, submitSignUp, uniqueEmail } from "./people";

// Every rule of WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices.
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"];

/** The route patterns of app/src/lib.rs, so a page added there cannot be left out of this tour. */
function appRoutes(): string[] {
  const source = readFileSync(path.join(__dirname, "../../app/src/lib.rs"), "utf8");
  const routes = [...source.matchAll(/<Route path=path!\("([^"]*)"\)/g)].map((m) => `/${m[1]}`);
  expect(routes.length, "routes found in app/src/lib.rs").toBeGreaterThan(20);
  return routes;
}

const scanned = new Set<string>();

/**
 * Runs axe on the page as it is now, in the light and the dark colour scheme, and records a
 * violation per element: rule id, impact, where, and what to do. `route` is the pattern of
 * app/src/lib.rs this page belongs to; `state` says what is on screen besides the page itself.
 */
async function scan(page: Page, route: string, state = "", hydrated = true) {
  scanned.add(route);
  const what = `${route}${state ? ` (${state})` : ""}`;
  // Docs pages are rendered on the server only and never hydrate.
  if (hydrated) await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    const { violations } = await new AxeBuilder({ page }).withTags(TAGS).analyze();
    const found = violations.flatMap((v) =>
      v.nodes.map((n) => `${v.id} [${v.impact}] at ${n.target.join(" > ")}: ${v.help} (${v.helpUrl})`),
    );
    for (const line of found) console.log(`${what}, ${colorScheme}: ${line}`);
    expect.soft(found, `axe violations on ${what} in the ${colorScheme} scheme`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: null });
}

async function visit(page: Page, route: string, url = route, state = "") {
  await page.goto(url);
  await scan(page, route, state);
}

async function signIn(page: Page, email: string) {
  await page.goto("/signin");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("heading", { name: /^Welcome, / })).toBeVisible();
}

test("every page and its usual states pass axe (WCAG 2.2 A and AA, best practices) in light and dark", async ({ page, browser, request }) => {
  test.setTimeout(360_000);
  const email = uniqueEmail("axe");
  const name = "Alan Turing";

  await test.step("pages for visitors", async () => {
    await visit(page, "/");
    await visit(page, "/signup");
    await page.getByRole("button", { name: "Create account", exact: true }).click();
    await expect(page.getByRole("alert").first()).toBeVisible();
    await scan(page, "/signup", "errors shown");

    await submitSignUp(page, email, name);
    await scan(page, "/signup/check-email");

    await visit(page, "/signin");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByRole("alert")).toBeVisible();
    await scan(page, "/signin", "wrong password");
  });

  await test.step("signed in before confirming the address", async () => {
    const context = await browser.newContext();
    const early = await context.newPage();
    await signIn(early, email);
    await expect(early.getByText("Please confirm your email address.")).toBeVisible();
    await scan(early, "/dashboard", "unconfirmed address");
    await visit(early, "/keys", "/keys", "unconfirmed address");
    await context.close();
  });

  await test.step("email links, with and without their token", async () => {
    await visit(page, "/verify-email", "/verify-email", "no token");
    await page.getByRole("button", { name: "Confirm email" }).click();
    await expect(page.getByRole("alert")).toBeVisible();
    await scan(page, "/verify-email", "no token, pressed");
    const confirm = await waitForMail(email, /Confirm your email/);
    await visit(page, "/verify-email", firstLink(confirm.text));
    await page.getByRole("button", { name: "Confirm email" }).click();
    await expect(page.getByRole("heading", { name: "Email confirmed" })).toBeVisible();
    await scan(page, "/verify-email/done");

    await visit(page, "/forgot-password");
    await page.getByLabel("Email").fill(email);
    await page.getByRole("button", { name: "Send link" }).click();
    await expect(page.getByRole("status")).toBeVisible();
    await scan(page, "/forgot-password", "link sent");
    const reset = await waitForMail(email, /password/i);
    await visit(page, "/reset-password", firstLink(reset.text));
    await page.getByLabel("New password").fill("short");
    await page.getByRole("button", { name: "Save password" }).click();
    await expect(page.getByRole("alert").first()).toBeVisible();
    await scan(page, "/reset-password", "password too short");
    await visit(page, "/reset-password", "/reset-password", "no token");
    await visit(page, "/confirm-email-change", "/confirm-email-change", "no token");
  });

  const subject = `Accessibility ${Date.now()}`;
  await test.step("documents, contact, goodbye, not found", async () => {
    await visit(page, "/terms");
    await visit(page, "/privacy");
    await visit(page, "/contact");
    await page.getByLabel("Your name").fill(name);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Subject").fill(subject);
    await page.getByLabel("Message").fill("Is there a screen-reader friendly export of the request log?");
    // The form refuses messages sent within 3 seconds of the page.
    await page.waitForTimeout(3_500);
    await page.getByRole("button", { name: "Send message" }).click();
    await expect(page.getByRole("heading", { name: "Message sent" })).toBeVisible();
    await scan(page, "/contact/sent");
    await visit(page, "/goodbye");
    await visit(page, "not found", "/no-such-page");
  });

  let keyPage = "";
  await test.step("a developer's pages", async () => {
    await signIn(page, email);
    await scan(page, "/dashboard", "no traffic yet");
    await visit(page, "/keys", "/keys", "no keys yet");
    await page.getByLabel("Name", { exact: true }).fill("Screen reader");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = await page.getByLabel("New API key").inputValue();
    await scan(page, "/keys", "a key just created");
    await page.getByRole("button", { name: "I have stored it safely" }).click();

    // Traffic until the plan's per-minute limit refuses a call, so every chart colour shows.
    let refused = 0;
    for (let i = 0; i < 200 && refused < 1; i++) {
      if ((await callApi(request, key)).status() === 429) refused++;
    }
    expect(refused).toBe(1);
    const item = page.getByRole("listitem").filter({ hasText: "Screen reader" });
    await item.getByRole("button", { name: "Roll" }).click();
    await scan(page, "/keys", "rolling a key");
    await page.reload();
    await item.getByRole("button", { name: "Revoke" }).click();
    await scan(page, "/keys", "revoking a key");

    await expect(async () => {
      await page.goto("/dashboard");
      await expect(page.locator(".chart-readout")).toContainText("refused", { timeout: 1000 });
    }).toPass({ timeout: 15_000 });
    await scan(page, "/dashboard", "with traffic");
    await page.getByRole("link", { name: "Screen reader" }).first().click();
    await expect(page.getByRole("heading", { name: "Key “Screen reader”" })).toBeVisible();
    await expect(page.locator("table.log tbody tr").first()).toBeVisible();
    keyPage = page.url();
    await scan(page, "/keys/:id", "with requests");

    await visit(page, "/account");
    const changed = uniqueEmail("axe-new");
    await page.getByLabel("New email address").fill(changed);
    await page.getByRole("button", { name: "Change email address" }).click();
    await expect(page.getByRole("status")).toBeVisible();
    await scan(page, "/account", "email change requested");
    const change = await waitForMail(changed, /.*/);
    await visit(page, "/confirm-email-change", firstLink(change.text));
    await visit(page, "/security");

    // A new Privacy Policy since the account accepted it: the interstitial before any page.
    runSql(
      `update consent set version = '1.2' where document = 'privacy' and account_id = ` +
        `(select account_id from account where email_normalized = '${email.toLowerCase()}')`,
    );
    await page.goto("/dashboard");
    await expect(page).toHaveURL(/\/consent/);
    await scan(page, "/consent");
    await page.getByLabel("I have read and accept the updated documents.").check();
    await page.getByRole("button", { name: "Accept and continue" }).click();
    await expect(page).toHaveURL(/\/dashboard/);
  });

  await test.step("the admin console", async () => {
    const context = await browser.newContext();
    const admin = await context.newPage();
    const adminEmail = uniqueEmail("axe-admin");
    await confirmedDeveloper(admin, adminEmail, "Grace Hopper");
    grantAdmin(adminEmail);
    await visit(admin, "/admin");
    await visit(admin, "/admin", `/admin?search=${encodeURIComponent(email)}`, "search");
    await admin.getByRole("link", { name: email }).click();
    await expect(admin.getByRole("heading", { name: email })).toBeVisible();
    await scan(admin, "/admin/accounts/:id");
    await visit(admin, "/admin/logs");
    await visit(admin, "/admin/logs", `/admin/logs?account=${encodeURIComponent(email)}&code=rate_limited`, "filtered");
    await visit(admin, "/admin/events");
    await visit(admin, "/admin/deprecations");
    await visit(admin, "/admin/messages");
    await admin.getByRole("link", { name: subject }).click();
    await expect(admin.getByRole("heading", { name: subject })).toBeVisible();
    await scan(admin, "/admin/messages/:id");
    // A developer's page seen by an admin is still the developer's own only.
    await admin.goto(keyPage);
    await expect(admin.getByRole("alert")).toBeVisible();
    await scan(admin, "/keys/:id", "someone else's key");
    await context.close();
  });

  await test.step("the API docs (a second server, with products)", async () => {
    const docs = process.env.DOCS_BASE_URL ?? "http://localhost:3301";
    const context = await browser.newContext();
    const reader = await context.newPage();
    for (const [route, url, state] of [
      ["/docs", "/docs", ""],
      ["/docs/:product", "/docs/pets", ""],
      ["/docs/:product", "/docs/pets?q=adopt", "search"],
      ["/docs/:product/tags/:tag", "/docs/pets/tags/pets", ""],
      ["/docs/:product/models", "/docs/pets/models", ""],
      ["/docs/:product/:page", "/docs/pets/quick-start", "a guide"],
    ]) {
      await reader.goto(docs + url);
      await expect(reader.getByRole("heading", { level: 1 })).toBeVisible();
      await scan(reader, route, state, false);
    }
    // Every fold open, so axe sees what a reader who opens them sees.
    await reader.goto(docs + "/docs/pets");
    await reader.evaluate(() => document.querySelectorAll("details").forEach((d) => (d.open = true)));
    await scan(reader, "/docs/:product", "every fold open", false);
    await context.close();
  });

  const missed = appRoutes().filter((route) => !scanned.has(route));
  expect(missed, "routes of app/src/lib.rs this test does not visit").toEqual([]);
});
