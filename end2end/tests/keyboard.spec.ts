import { test, expect, type Page } from "@playwright/test";
import { firstLink, waitForMail } from "./mail";
import { password, uniqueEmail } from "./people";

// Someone who uses only a keyboard: after each `goto` (typing an address, or opening the link in
// a mail), only Tab, Shift+Tab, Enter, Space and typing. No click(), no fill().

type Stop = { name: string; tag: string; indicator: boolean; onScreen: boolean };

/** The focused element: its accessible-ish name, whether a focus indicator is drawn, and
 *  whether it is on screen. Also remembers it as a reached stop for `unreached`. */
async function focused(page: Page): Promise<Stop> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return { name: "", tag: "body", indicator: false, onScreen: false };
    const w = window as unknown as { reached?: Set<Element> };
    (w.reached ??= new Set()).add(el);
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    const ring = style.boxShadow !== "none";
    const rect = el.getBoundingClientRect();
    const onScreen = rect.width > 0 && rect.height > 0 && rect.right > 0 && rect.bottom > 0 &&
      rect.left < window.innerWidth && rect.top < window.innerHeight;
    const labelled = (el as HTMLInputElement).labels?.[0]?.textContent;
    const name = (el.getAttribute("aria-label") ?? labelled ?? el.textContent ?? "").replace(/\s+/g, " ").trim();
    return { name, tag: el.tagName.toLowerCase(), indicator: outline || ring, onScreen };
  });
}

/** Tab (or Shift+Tab) once; the new focus must be on screen and visibly marked. */
async function tab(page: Page, key: "Tab" | "Shift+Tab" = "Tab"): Promise<Stop> {
  await page.keyboard.press(key);
  const stop = await focused(page);
  if (stop.tag !== "body") {
    expect.soft(stop.indicator, `focus indicator on ${stop.tag} “${stop.name}”`).toBe(true);
    expect.soft(stop.onScreen, `${stop.tag} “${stop.name}” is on screen when focused`).toBe(true);
  }
  return stop;
}

/** Tabs (forward, or back with Shift+Tab) until the focused control's name matches. */
async function tabTo(page: Page, name: string | RegExp, key: "Tab" | "Shift+Tab" = "Tab"): Promise<Stop> {
  const matches = (s: string) => (typeof name === "string" ? s === name : name.test(s));
  for (let i = 0; i < 60; i++) {
    const stop = await tab(page, key);
    if (matches(stop.name)) return stop;
  }
  throw new Error(`${key} never reached “${name}”`);
}

/** Tabs through the whole page from the top and back around to its first stop: no control
 *  traps the focus, and every visible control is reached. */
async function tabAround(page: Page) {
  const first = await tab(page);
  expect(first.name, "the first Tab stop").toBe("Skip to content");
  for (let i = 0; ; i++) {
    expect(i, "Tab comes back to the top of the page (no keyboard trap)").toBeLessThan(120);
    const stop = await tab(page);
    if (stop.name === first.name && stop.tag === first.tag) break;
  }
  const unreached = await page.evaluate(() => {
    const reached = (window as unknown as { reached?: Set<Element> }).reached ?? new Set();
    const controls = document.querySelectorAll<HTMLElement>(
      "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]",
    );
    const radioGroupsReached = new Set([...reached].filter((e) => (e as HTMLInputElement).type === "radio").map((e) => (e as HTMLInputElement).name));
    return [...controls]
      .filter((el) => el.tabIndex >= 0 && el.checkVisibility() && !el.closest("[aria-hidden=true], [inert]"))
      .filter((el) => !reached.has(el))
      .filter((el) => !((el as HTMLInputElement).type === "radio" && radioGroupsReached.has((el as HTMLInputElement).name)))
      .map((el) => `${el.tagName.toLowerCase()} “${(el.textContent ?? "").trim() || el.id}”`);
  });
  expect(unreached, "visible controls that Tab never reaches").toEqual([]);
}

async function hydrated(page: Page) {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
}

test("sign up, confirm, sign in and sign out with the keyboard alone", async ({ page }) => {
  const email = uniqueEmail("keyboard");
  const name = "Ada Lovelace";

  await page.goto("/");
  await hydrated(page);
  await tabAround(page);

  // A fresh page: the first Tab shows the skip link; Enter jumps past the header into the main content.
  await page.goto("/");
  await hydrated(page);
  expect((await tab(page)).name).toBe("Skip to content");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeInViewport();
  await page.keyboard.press("Enter");
  const afterSkip = await tab(page);
  expect(await page.evaluate(() => document.activeElement?.closest("main") !== null), `“${afterSkip.name}” is in main`).toBe(true);
  expect(afterSkip.name).toBe("Create a free account");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Create your account" })).toBeVisible();

  await page.goto("/signup");
  await hydrated(page);
  await tabAround(page);
  await tabTo(page, "Email");
  await page.keyboard.type(email);
  expect((await tab(page)).name).toBe("Your name");
  await page.keyboard.type(name);
  expect((await tab(page)).name).toBe("Password");
  await page.keyboard.type(password);
  await tabTo(page, /^I accept the Terms of Use/);
  await page.keyboard.press("Space");
  await expect(page.getByLabel("I accept the")).toBeChecked();
  await tabTo(page, "Create account");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Check your email" })).toBeVisible();

  // The mail client opens the link; the page asks for a press of a button.
  const mail = await waitForMail(email, /Confirm your email/);
  await page.goto(firstLink(mail.text));
  await hydrated(page);
  await tabTo(page, "Confirm email");
  await page.keyboard.press("Space");
  await expect(page.getByRole("heading", { name: "Email confirmed" })).toBeVisible();

  await tabTo(page, "Sign in");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await tabTo(page, "Email");
  await page.keyboard.type(`x${email}`);
  expect((await tab(page)).name).toBe("Password");
  await page.keyboard.type(password);
  // Back to the address to mend a typo; the password stays typed.
  expect((await tab(page, "Shift+Tab")).name).toBe("Email");
  await page.keyboard.press("Home");
  await page.keyboard.press("Delete");
  await expect(page.getByLabel("Email")).toHaveValue(email);
  expect((await tab(page)).name).toBe("Password");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: `Welcome, ${name}` })).toBeVisible();

  await page.goto("/dashboard");
  await hydrated(page);
  await tabAround(page);
  // The chart is one stop; the arrow keys read its bars, as pointing at them does.
  const readout = page.locator(".chart-readout");
  await expect(readout).toContainText("requests in the last 24 hours");
  await tabTo(page, /^Requests over time/);
  await page.keyboard.press("End");
  await expect(readout).toContainText(/UTC: 0 accepted, 0 refused/);
  const lastBar = await readout.textContent();
  await page.keyboard.press("ArrowLeft");
  await expect(readout).not.toHaveText(lastBar!);
  await expect(readout).toContainText("UTC:");
  await page.keyboard.press("Escape");
  await expect(readout).toContainText("requests in the last 24 hours");
  // Back up through the page to the header.
  await tabTo(page, "Sign out", "Shift+Tab");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" })).toBeVisible();
  await page.goto("/dashboard");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});
