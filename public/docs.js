// Docs pages are rendered on the server and load no WebAssembly; this is all their script does:
// each code sample gets a working Copy button (without JavaScript the button stays hidden), and
// code blocks of guides, which may scroll sideways, can be reached with the keyboard.
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
