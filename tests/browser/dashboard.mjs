// Signs in to probity's dashboard in Chromium and reports what an operator sees, as JSON on
// stdout: the overview's groups and rows, a target page's chart points, an incident page's
// timeline. Saves a screenshot of each page.
//
// Usage: node dashboard.mjs BASE_URL TOKEN TARGET INCIDENT_ID SCREENSHOT_PREFIX
import { chromium } from "playwright-core";

const [base, token, target, incident, prefix] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, javaScriptEnabled: false });
  // Unsigned: sent to the sign-in form.
  await page.goto(`${base}/dashboard`);
  const redirected = page.url().endsWith("/dashboard/login");
  // A wrong token is refused; the right one signs in, by keyboard.
  await page.fill("#token", "pbt_wrong");
  // Wait for the answer page itself: "load" of the form page may already have fired.
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  const alert = await page.waitForSelector("p[role=alert]", { timeout: 5000 }).catch(() => null);
  const refused = alert !== null && (await alert.textContent()).includes("That token is not valid.");
  await page.fill("#token", token);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${base}/dashboard`);
  const overview = await page.evaluate(() => ({
    groups: [...document.querySelectorAll("h2")].map((h) => h.textContent),
    rows: [...document.querySelectorAll("tr.target")].map((tr) => ({
      name: tr.querySelector("a")?.textContent,
      state: tr.querySelector(".state")?.textContent,
      days: [...tr.querySelectorAll(".bar")].reduce((n, b) => n + Number(b.dataset.days), 0),
      incident: tr.querySelector("a[href*='incidents']")?.textContent ?? null,
    })),
  }));
  await page.screenshot({ path: `${prefix}-overview.png`, fullPage: true });
  await page.goto(`${base}/dashboard/targets/${encodeURIComponent(target)}`);
  const targetPage = await page.evaluate(() => ({
    points: document.querySelectorAll("svg.chart circle.point").length,
    series: [...document.querySelectorAll("svg.chart polyline")].map((p) => p.getAttribute("class")),
    results: document.querySelectorAll("tr.result").length,
    phaseRows: document.querySelectorAll("tr.phase").length,
    collecting: document.querySelector("p.collecting")?.textContent ?? null,
  }));
  await page.screenshot({ path: `${prefix}-target.png`, fullPage: true });
  // A target probed from three vantages: each one's view, and the quorum rule.
  await page.goto(`${base}/dashboard/targets/cdn-edge`);
  const vantagePage = await page.evaluate(() => ({
    rows: [...document.querySelectorAll("tr.vantage")].map((tr) => [...tr.cells].map((td) => td.textContent)),
    rule: [...document.querySelectorAll("p")].map((p) => p.textContent).find((t) => t.includes("An incident opens")) ?? null,
    resultVantages: [...new Set([...document.querySelectorAll("tr.result")].map((tr) => tr.cells[1].textContent))].sort(),
  }));
  await page.goto(`${base}/dashboard/incidents/${incident}`);
  const incidentPage = await page.evaluate(() => ({
    observed: document.querySelectorAll("svg.timeline rect.observed").length,
    declared: document.querySelectorAll("svg.timeline rect.declared").length,
    disclosed: document.querySelectorAll("svg.timeline line.disclosed").length,
    updates: document.querySelectorAll("svg.timeline circle.update").length,
    firstStart: document.querySelectorAll("svg.timeline line.first-start").length,
    text: document.querySelector("main")?.textContent ?? "",
  }));
  await page.screenshot({ path: `${prefix}-incident.png`, fullPage: true });
  await page.goto(`${base}/dashboard/scorecard?window=1h`);
  const scorecard = await page.evaluate(() => ({
    rows: [...document.querySelectorAll("tr.card")].map((tr) => tr.textContent),
  }));
  await page.goto(`${base}/dashboard/sla`);
  const sla = await page.evaluate(() => ({
    headings: [...document.querySelectorAll("h2")].map((h) => h.textContent),
    plots: document.querySelectorAll("svg rect").length,
  }));
  console.log(JSON.stringify({ redirected, refused, overview, targetPage, vantagePage, incidentPage, scorecard, sla }));
} finally {
  await browser.close();
}
