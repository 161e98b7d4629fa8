import { test, expect } from "@playwright/test";
import { grantAdmin } from "./operator";
import { waitForMail } from "./mail";
import { confirmedDeveloper, uniqueEmail } from "./people";

test("a visitor writes through the contact form; an admin reads it, replies by email and closes it", async ({ page, browser }) => {
  const visitor = uniqueEmail("visitor");
  const subject = `Raising my limit ${Date.now()}`;

  // The visitor finds the form from the footer and fills it in as a person would.
  await page.goto("/");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("contentinfo").getByRole("link", { name: "Contact" }).click();
  await expect(page.getByRole("heading", { name: "Contact us" })).toBeVisible();
  await page.getByLabel("Your name").fill("Mary Jackson");
  await page.getByLabel("Email").fill(visitor);
  await page.getByLabel("Subject").fill(subject);
  await page.getByLabel("Message").fill("Hello,\n\nhow can I get more requests per minute?\n<b>Thanks</b>");
  // The trap for bots is neither visible nor reachable with the keyboard.
  await expect(page.locator('input[name="website"]')).not.toBeInViewport();
  // A person takes a moment; the form refuses messages sent within 3 seconds of the page.
  await page.waitForTimeout(3_500);
  await page.getByRole("button", { name: "Send message" }).click();
  await expect(page.getByRole("heading", { name: "Message sent" })).toBeVisible();
  await expect(page.getByRole("status")).toHaveText(
    "Thank you — your message was sent. We answer by email, usually within a few working days.",
  );
  await page.screenshot({ path: "test-results/contact-sent.png", fullPage: true });

  // An admin, in a browser of their own.
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  const adminEmail = uniqueEmail("admin");
  await confirmedDeveloper(admin, adminEmail, "Christine Darden");
  grantAdmin(adminEmail);
  await admin.goto("/admin");
  await expect(admin.locator("html")).toHaveAttribute("data-hydrated", "true");
  await admin.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: /Messages/ }).click();
  await expect(admin).toHaveURL(/\/admin\/messages/);
  await admin.getByRole("link", { name: subject }).click();
  await expect(admin.getByRole("heading", { name: subject })).toBeVisible();
  await expect(admin.locator("html")).toHaveAttribute("data-hydrated", "true");
  // Shown as text: the markup the visitor typed is not interpreted.
  await expect(admin.getByText("<b>Thanks</b>")).toBeVisible();
  await expect(admin.getByText(visitor).first()).toBeVisible();
  await expect(admin.getByText("not signed in")).toBeVisible();

  await admin.getByLabel(`Reply to ${visitor}`).fill("Hello Mary,\n\nthe pro plan allows 1,200 requests a minute.");
  await admin.getByRole("button", { name: "Send reply" }).click();
  await expect(admin.getByText("Reply sent.")).toBeVisible();
  await expect(admin.getByRole("heading", { name: "Replies (1)" })).toBeVisible();
  const reply = await waitForMail(visitor, new RegExp(`Re: ${subject}`));
  expect(reply.text).toContain("the pro plan allows 1,200 requests a minute.");

  await admin.getByRole("button", { name: "Close", exact: true }).click();
  await expect(admin.getByRole("button", { name: "Reopen" })).toBeVisible();
  await expect(admin.getByText(/^closed .* by /)).toBeVisible();
  await admin.screenshot({ path: "test-results/admin-message.png", fullPage: true });

  // Closed, it leaves the open list and is under Closed.
  await admin.goto("/admin/messages");
  await expect(admin.getByRole("link", { name: subject })).toHaveCount(0);
  await admin.getByRole("navigation", { name: "Show messages" }).getByRole("link", { name: "Closed" }).click();
  await expect(admin.getByRole("link", { name: subject })).toBeVisible();
  await adminContext.close();
});
