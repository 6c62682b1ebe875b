// Opens a probity page in Chromium with script on and waits for its state to change
// without a reload: reports, as JSON on stdout, what the page said first and last, whether
// the "updated" time moved, and whether the document was ever reloaded.
//
// Usage: node live.mjs URL TIMEOUT_MS
import { chromium } from "playwright-core";

const [url, timeout] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const read = () => ({
  overall: document.querySelector(".overall")?.textContent ?? null,
  states: [...document.querySelectorAll("ul.components > li")].map(
    (li) => `${li.querySelector(".name")?.textContent}: ${li.querySelector(".state")?.textContent}`,
  ),
  updated: document.querySelector(".updated time")?.getAttribute("datetime") ?? null,
  marker: window.__probityMarker ?? null,
});
try {
  const page = await browser.newPage();
  let navigations = 0;
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) navigations += 1;
  });
  const response = await page.goto(url, { waitUntil: "load" });
  await page.evaluate(() => {
    window.__probityMarker = "still the first document";
  });
  const before = await page.evaluate(read);
  let after = before;
  const until = Date.now() + Number(timeout);
  while (Date.now() < until) {
    await page.waitForTimeout(500);
    after = await page.evaluate(read);
    const changed = after.overall !== before.overall
      || JSON.stringify(after.states) !== JSON.stringify(before.states);
    if (changed) break;
  }
  console.log(JSON.stringify({
    status: response.status(),
    finalUrl: page.url(),
    before,
    after,
    navigations,
  }));
} finally {
  await browser.close();
}
