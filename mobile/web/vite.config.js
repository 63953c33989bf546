import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { defineConfig } from 'vite';
import { ISOLATION_HEADERS } from './scripts/isolation-headers.mjs';

const require = createRequire(import.meta.url);
// Names this build's offline cache; a new build installs a new service worker.
const BUILD_VERSION = String(Date.now());
const wasmDir = path.join(path.dirname(require.resolve('@litertjs/core/package.json')), 'wasm');

// Only the page's own origin, nothing inline; wasm compilation is allowed (LiteRT).
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' blob: data:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'none'",
].join('; ');

function liteRtAndOffline() {
  return {
    name: 'c2fdan-litert-and-offline',
    // Dev server: serve the wasm files straight from the package.
    configureServer(server) {
      server.middlewares.use('/assets', (req, res, next) => {
        const file = path.join(wasmDir, path.basename(req.url.split('?')[0]));
        try {
          const body = readFileSync(file);
          res.setHeader('Content-Type', file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
          res.end(body);
        } catch {
          next();
        }
      });
    },
    transformIndexHtml: {
      order: 'post',
      handler(html, context) {
        if (!context.bundle) return html; // build only: the dev server injects inline scripts
        return html.replace(
          '<meta charset="utf-8" />',
          `<meta charset="utf-8" />\n    <meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}" />`,
        );
      },
    },
    generateBundle(options, bundle) {
      // Next to the worker script: the wasm glue resolves the .wasm relative to the
      // worker's own URL, not to its own.
      for (const name of readdirSync(wasmDir)) {
        this.emitFile({ type: 'asset', fileName: `assets/${name}`, source: readFileSync(path.join(wasmDir, name)) });
      }
      // The browser fetches one of the four LiteRT variants; it is cached on use.
      const shell = Object.keys(bundle).filter((f) => !path.basename(f).startsWith('litert_wasm'));
      const publicFiles = ['manifest.webmanifest', 'icons/icon-192.png', 'icons/icon-512.png'];
      const files = ['./', 'index.html', ...shell, ...publicFiles];
      this.emitFile({
        type: 'asset', fileName: 'precache.json', source: JSON.stringify({ version: BUILD_VERSION, files }, null, 1),
      });
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [liteRtAndOffline()],
  // Cross-origin isolated from the first load (LiteRT.js threads); static hosting gets it from sw.js.
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  define: { __C2FDAN_BUILD__: JSON.stringify(BUILD_VERSION) },
  // Classic worker: LiteRT.js loads its wasm glue with importScripts() inside workers.
  worker: { format: 'iife' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0 },
});
