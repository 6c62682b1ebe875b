// Opens probity's public status page in Chromium and reports what a visitor sees, as JSON
// on stdout: the overall status, the components with their states, the incidents with
// their updates, how many uptime bars rendered with a size, whether any script ran, and
// where the screenshot was saved.
//
// Usage: node status.mjs URL SCREENSHOT.png [WIDTH]
import { chromium } from "playwright-core";

const [url, shot, width] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({
    viewport: { width: Number(width ?? 1024), height: 900 },
    javaScriptEnabled: false,
  });
  const response = await page.goto(url, { waitUntil: "load" });
  const result = await page.evaluate(() => ({
    title: document.title,
    overall: document.querySelector(".overall")?.textContent ?? null,
    components: [...document.querySelectorAll("ul.components > li")].map((li) => ({
      name: li.querySelector(".name")?.textContent,
      state: li.querySelector(".state")?.textContent,
    })),
    incidents: [...document.querySelectorAll("article")].map((a) => ({
      name: a.querySelector("h3")?.textContent,
      updates: [...a.querySelectorAll(".update")].map((u) => u.textContent),
    })),
    bars: [...document.querySelectorAll(".bar")].filter((b) => {
      const r = b.getBoundingClientRect();
      return r.width > 0 && r.height > 0;
    }).length,
    scripts: document.querySelectorAll("script").length,
    overflowsViewport: document.documentElement.scrollWidth > window.innerWidth,
  }));
  result.status = response.status();
  await page.screenshot({ path: shot, fullPage: true });
  result.screenshot = shot;
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
