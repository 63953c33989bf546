// The headers that make a page cross-origin isolated (SharedArrayBuffer, hence LiteRT.js'
// multithreaded wasm): sent by the dev server and, on request, by the static test server.
// On static hosting the page's service worker (public/sw.js) adds the same three.
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
