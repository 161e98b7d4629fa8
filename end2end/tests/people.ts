import { expect, type Page, type APIRequestContext } from "@playwright/test";
import { firstLink, waitForMail } from "./mail";

export const password = "correct horse battery staple";

/** An address no other test run uses. */
export function uniqueEmail(tag: string) {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.test`;
}

/** On the sign-up page: fill in the required fields, accept the documents, create the account. */
export async function submitSignUp(page: Page, email: string, name: string) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByLabel("I accept the").check();
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Check your email" })).toBeVisible();
}

/** Sign up, confirm from the inbox, sign in: a developer ready to create keys. */
export async function confirmedDeveloper(page: Page, email: string, name = "Grace Hopper") {
  await page.goto("/signup");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await submitSignUp(page, email, name);
  const mail = await waitForMail(email, /Confirm your email/);
  await page.goto(firstLink(mail.text));
  await page.getByRole("button", { name: "Confirm email" }).click();
  await expect(page.getByRole("heading", { name: "Email confirmed" })).toBeVisible();
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("heading", { name: `Welcome, ${name}` })).toBeVisible();
}

/** Calls the protected API the way the developer's code would. */
export async function callApi(request: APIRequestContext, key: string) {
  return request.get("/api/v1/echo", { headers: { Authorization: `Bearer ${key}` } });
}
