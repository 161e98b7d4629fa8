import { test, expect, type Page } from "@playwright/test";
import { firstLink, waitForMail } from "./mail";
import { password, submitSignUp, uniqueEmail } from "./people";

async function signUp(page: Page, email: string, name: string) {
  await page.goto("/");
  await page.getByRole("link", { name: "Create a free account" }).click();
  await expect(page.getByRole("heading", { name: "Create your account" })).toBeVisible();
  await page.getByLabel("Organisation").fill("Acme Robotics");
  await submitSignUp(page, email, name);
}

test("sign up, confirm the email, sign in, see the accepted documents, sign out", async ({ page }) => {
  const email = uniqueEmail("ada");
  await page.goto("/");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");

  await signUp(page, email, "Ada Lovelace");

  // The person opens the message in their inbox and follows the link.
  const mail = await waitForMail(email, /Confirm your email/);
  await page.goto(firstLink(mail.text));
  await expect(page.getByRole("heading", { name: "Confirm your email" })).toBeVisible();
  await page.getByRole("button", { name: "Confirm email" }).click();
  await expect(page.getByRole("heading", { name: "Email confirmed" })).toBeVisible();

  await page.getByRole("link", { name: "Sign in" }).first().click();
  await page.getByLabel("Email").fill(email.toUpperCase()); // addresses are case-insensitive
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Ada Lovelace" })).toBeVisible();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Account" }).click();
  await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
  const documents = page.getByRole("table");
  for (const [title, version] of [["Terms of Use", "1.0"], ["Privacy Policy", "1.4"]]) {
    const row = documents.getByRole("row").filter({ hasText: title });
    await expect(row).toContainText(version);
    await expect(row).toContainText(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
  }
  await expect(page.getByText("confirmed", { exact: false }).first()).toBeVisible();
  await page.screenshot({ path: "test-results/account-page.png", fullPage: true });

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" })).toBeVisible();
  await page.goto("/account");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("a wrong password gets the same generic message as an unknown email", async ({ page }) => {
  await page.goto("/signin");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(uniqueEmail("nobody"));
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  const alert = page.getByRole("alert");
  await expect(alert).toContainText("The email or password is not correct.");
  await expect(page.getByLabel("Email")).not.toHaveValue("");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("every step works as plain form posts: sign up with an error first, confirm, sign in, sign out", async ({ page }) => {
    const email = uniqueEmail("nojs");
    await page.goto("/signup");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Your name").fill("Grace Hopper");
    await page.getByLabel("Password").fill("password");
    await page.getByLabel("I accept the").check();
    await page.getByRole("button", { name: "Create account", exact: true }).click();
    await expect(page.getByRole("alert")).toContainText(/common/i);

    await signUp(page, email, "Grace Hopper");
    const mail = await waitForMail(email, /Confirm your email/);
    await page.goto(firstLink(mail.text));
    await page.getByRole("button", { name: "Confirm email" }).click();
    await expect(page.getByRole("heading", { name: "Email confirmed" })).toBeVisible();

    await page.goto("/signin");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByRole("alert")).toContainText("The email or password is not correct.");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Welcome, Grace Hopper" })).toBeVisible();
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" })).toBeVisible();
  });
});
