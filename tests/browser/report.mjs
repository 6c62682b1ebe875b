// Opens a deployment gate's HTML report (`probity gate judge --html`) in Chromium, with
// JavaScript off, and reports what a reader sees, as JSON on stdout: the title, the
// verdict line, the metrics' rows, each latency curve drawn with a size and the x where
// it crosses half the requests, and whether any script is on the page.
//
// Usage: node report.mjs FILE.html SCREENSHOT.png
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [file, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1024, height: 900 }, javaScriptEnabled: false });
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  const result = await page.evaluate(() => {
    const curve = (cls) => {
      const p = document.querySelector(`path.${cls}`);
      if (!p) return null;
      const box = p.getBoundingClientRect();
      const pts = p.getAttribute("d").split(/[ML]/).map((s) => s.trim()).filter(Boolean)
        .map((s) => s.split(",").map(Number));
      const ys = pts.map((q) => q[1]);
      const half = (Math.max(...ys) + Math.min(...ys)) / 2;
      return { width: box.width, height: box.height, median_x: pts.find((q) => q[1] <= half)[0] };
    };
    return {
      title: document.title,
      verdict: document.querySelector("section > p")?.textContent ?? null,
      rows: document.querySelectorAll("table tr").length - 1,
      baseline: curve("baseline"),
      canary: curve("canary"),
      scripts: document.querySelectorAll("script").length,
    };
  });
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
