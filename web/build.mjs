// Builds each page under src/<page>/ into ../src/vigil/web/dist/<page>/ (the Python package's data): app.js (the
// TypeScript and Leaflet, bundled), style.css (the page's styles and Leaflet's, with Leaflet's images beside it
// under assets/) and index.html. Every asset is local: a page served from there makes no other request.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(fileURLToPath(import.meta.url));
const dist = join(web, "..", "src", "vigil", "web", "dist");
// Keep in step with PAGES in src/vigil/web/assets.py.
const pages = ["handset", "command"];

for (const page of pages) {
  const source = join(web, "src", page);
  const out = join(dist, page);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: { app: join(source, "main.ts"), style: join(source, "style.css") },
    outdir: out,
    bundle: true,
    minify: process.env.VIGIL_WEB_DEBUG !== "1",
    format: "iife",
    target: ["chrome100", "firefox100", "safari15"],
    loader: { ".png": "file", ".svg": "file" },
    assetNames: "assets/[name]",
    logLevel: "warning",
  });
  await copyFile(join(source, "index.html"), join(out, "index.html"));
  console.log(`built ${page} into ${out}`);
}
