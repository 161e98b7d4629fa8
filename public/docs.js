// Docs pages are rendered on the server and load no WebAssembly; this is all their script does:
// each code sample gets a working Copy button (without JavaScript the button stays hidden), code
// blocks of guides, which may scroll sideways, can be reached with the keyboard, and the try-it
// console answers in place instead of reloading the page.
for (const pre of document.querySelectorAll(".docs-main pre:not([tabindex])")) pre.tabIndex = 0;
for (const button of document.querySelectorAll("button.copy[data-copy]")) {
  const code = document.getElementById(button.dataset.copy);
  if (!code || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(code.textContent);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed: select the text";
    }
    setTimeout(() => (button.textContent = "Copy"), 2000);
  });
}

// The try-it console in place: the same form, sent with fetch, and the answer drawn as the
// server draws it after a form post (text only: nothing from the answer becomes markup).
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
function drawAnswer(target, answer) {
  if (answer.problem) {
    target.replaceChildren(el("p", { className: "error", role: "alert", textContent: answer.problem }));
    return;
  }
  const status = answer.status ?? 0;
  const headers = answer.headers.map(([name, value]) => `${name}: ${value}\n`).join("");
  const parts = [
    el("p", { className: "try-status" },
      el("span", { className: `status s${Math.floor(status / 100)}`, textContent: `${status} ${answer.reason}` }), " ",
      el("span", { className: "muted", textContent: `in ${answer.millis} ms` }), " ",
      el("code", { className: "muted small", textContent: answer.request })),
    el("details", { className: "try-headers" },
      el("summary", { textContent: `Headers (${answer.headers.length})` }),
      el("pre", { tabIndex: 0 }, el("code", { textContent: headers }))),
  ];
  if (answer.body) parts.push(el("pre", { className: "try-body", tabIndex: 0 }, el("code", { textContent: answer.body })));
  if (answer.body_note) parts.push(el("p", { className: "muted small", textContent: answer.body_note }));
  target.replaceChildren(...parts);
}
for (const form of document.querySelectorAll("form[data-try]")) {
  const target = document.getElementById(`${form.dataset.try}-try-answer`);
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    target.replaceChildren(el("p", { className: "muted", textContent: "Sending…" }));
    try {
      const res = await fetch(form.action, {
        method: "POST",
        headers: { Accept: "application/json" },
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
      });
      const answer = await res.json();
      drawAnswer(target, res.ok ? answer : { problem: answer.problem || `The portal answered ${res.status}.` });
    } catch {
      drawAnswer(target, { problem: "The request could not be sent: check your connection and try again." });
    } finally {
      button.disabled = false;
    }
  });
}
