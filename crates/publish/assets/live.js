// Keeps a probity page current without a full reload: every few seconds it fetches the same
// URL again and puts the new page's live part ([data-live]) in place of the old one, which
// carries the time the data was read. Without script the page is the same, only still.
(() => {
  const here = () => document.querySelector("[data-live]");
  if (!here()) return;
  const every = Number(here().dataset.live) || 5000;
  async function refresh() {
    try {
      const r = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
      const type = r.headers.get("content-type") || "";
      if (r.ok && type.startsWith("text/html")) {
        const next = new DOMParser()
          .parseFromString(await r.text(), "text/html")
          .querySelector("[data-live]");
        if (next && here()) here().replaceWith(document.adoptNode(next));
      }
    } catch (_) {
      // The server is away for a moment: the page stays as it is and tries again.
    }
    setTimeout(refresh, every);
  }
  setTimeout(refresh, every);
})();
