import { test, expect, type CDPSession, type Page } from "@playwright/test";
import { firstLink, waitForMail } from "./mail";
import { uniqueEmail } from "./people";

// Passkeys in a real Chromium, with its virtual authenticator standing in for the phone or
// laptop: a platform authenticator (internal transport) that keeps discoverable credentials and
// verifies the user, driven through the DevTools protocol.

async function addDevice(cdp: CDPSession): Promise<string> {
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}

/// `autofill: false` plays a browser without passkey autofill (conditional mediation), so only the
/// button signs in. With autofill, Chromium's virtual authenticator answers the waiting autofill
/// request at once, standing in for a person who picks the passkey from the suggestions.
async function webauthn(page: Page, { autofill }: { autofill: boolean }): Promise<CDPSession> {
  if (!autofill) {
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
  }
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  return cdp;
}

/// Passkey buttons appear once the page is interactive.
async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("html[data-hydrated]")).toBeAttached();
}

/// The sign-up form, then "Create account with a passkey" with the page's authenticator.
async function signUpWithPasskey(page: Page, email: string, name: string) {
  await open(page, "/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("I accept the").check();
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await expect(page.getByRole("heading", { name: "Check your email" })).toBeVisible();
}

test("sign up with a passkey, confirm, sign in without typing, add and remove passkeys", async ({ page }) => {
  const cdp = await webauthn(page, { autofill: false });
  const laptop = await addDevice(cdp);
  const email = uniqueEmail("grace");

  await signUpWithPasskey(page, email, "Grace Hopper");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: laptop });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);

  const mail = await waitForMail(email, /Confirm your email/);
  await page.goto(firstLink(mail.text));
  await page.getByRole("button", { name: "Confirm email" }).click();
  await expect(page.getByRole("heading", { name: "Email confirmed" })).toBeVisible();

  await open(page, "/signin");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Grace Hopper" })).toBeVisible();

  // The Security page lists the passkey; the same device cannot register twice.
  await open(page, "/security");
  const passkeys = page.getByRole("list", { name: "Your passkeys" }).getByRole("listitem");
  await expect(passkeys).toHaveCount(1);
  await expect(passkeys.first()).toContainText("last used");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByRole("alert")).toContainText("This device already has a passkey for your account.");

  // A second device (the laptop is put away), named by its owner.
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: laptop });
  const phone = await addDevice(cdp);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByRole("status")).toContainText("added");
  await expect(passkeys).toHaveCount(2);
  await waitForMail(email, /A passkey was added/);
  await passkeys.nth(1).getByRole("button", { name: /^Rename/ }).click();
  await page.getByLabel("Passkey name").fill("Phone");
  await page.getByRole("button", { name: "Save name" }).click();
  await expect(passkeys.nth(1)).toContainText("Phone");

  // Remove the laptop's passkey; the phone's stays.
  await passkeys.first().getByRole("button", { name: /^Remove/ }).click();
  await expect(passkeys).toHaveCount(1);
  await expect(passkeys.first()).toContainText("Phone");
  await waitForMail(email, /A passkey was removed/);
  // The last way in (no password) cannot be removed: there is no button for it.
  await expect(passkeys.first().getByRole("button", { name: /^Remove/ })).toHaveCount(0);
  await expect(passkeys.first()).toContainText("Your only way to sign in");
  await page.screenshot({ path: "test-results/security-page.png", fullPage: true });

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" })).toBeVisible();
  await open(page, "/signin");
  await page.screenshot({ path: "test-results/sign-in-page.png", fullPage: true });
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Grace Hopper" })).toBeVisible();
  const used = await cdp.send("WebAuthn.getCredentials", { authenticatorId: phone });
  expect(used.credentials[0].signCount).toBeGreaterThan(0);
});

test("a device that cannot verify the person gets a clear message and no session", async ({ page }) => {
  const cdp = await webauthn(page, { autofill: false });
  const device = await addDevice(cdp);
  const email = uniqueEmail("unverified");
  await signUpWithPasskey(page, email, "Alan Turing");

  await cdp.send("WebAuthn.setUserVerified", { authenticatorId: device, isUserVerified: false });
  await open(page, "/signin");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("alert")).toContainText("could not confirm it is you");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" })).toBeVisible();
});

test("the browser's autofill on the email field signs in with the passkey", async ({ page }) => {
  const cdp = await webauthn(page, { autofill: true });
  await addDevice(cdp);
  const email = uniqueEmail("autofill");
  await signUpWithPasskey(page, email, "Katherine Johnson");
  await open(page, "/signin");
  await expect(page.getByRole("heading", { name: "Welcome, Katherine Johnson" })).toBeVisible();
});

test("a sign-up error from the passkey path shows next to its field and keeps what was typed", async ({ page }) => {
  const cdp = await webauthn(page, { autofill: false });
  await addDevice(cdp);
  await open(page, "/signup");
  await page.getByLabel("Email").fill("not-an-address");
  await page.getByLabel("Your name").fill("Ada");
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await expect(page.getByRole("alert")).toContainText("Enter an email address like name@example.com.");
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Your name")).toHaveValue("Ada");
});
