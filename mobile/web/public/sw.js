// Offline support: the app shell is cached at install (precache.json, written by
// the build). The LiteRT wasm variant this browser uses and the model are fetched
// on the first visit before this worker controls the page, so the page sends their
// URLs ("cache" message) and they are stored then; later same-origin fetches are
// cached on first use. Requests to other origins are never made by the page and
// are not handled here.
//
// Cross-origin isolation (the coi-serviceworker pattern): static hosting cannot set
// headers, so every response this worker hands the page carries COOP/COEP. The page is
// then crossOriginIsolated from its second load on, and LiteRT.js may use
// SharedArrayBuffer: its multithreaded wasm.
const VERSION = new URL(self.location.href).searchParams.get('v') || 'dev';
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function isolated(response) {
  // Opaque and redirected responses cannot be rebuilt; the page never asks for them.
  if (!response || response.type === 'opaque' || response.type === 'opaqueredirect' || response.status === 0) {
    return response;
  }
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

async function precacheList() {
  const response = await fetch('precache.json', { cache: 'no-store' });
  return response.ok ? (await response.json()).files : [];
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const files = await precacheList();
    const cache = await caches.open(`c2fdan-${VERSION}`);
    await cache.addAll(files);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const keep = `c2fdan-${VERSION}`;
    for (const key of await caches.keys()) if (key.startsWith('c2fdan-') && key !== keep) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data?.type !== 'cache') return;
  const urls = (event.data.urls || []).filter((u) => new URL(u, self.location.href).origin === self.location.origin);
  event.waitUntil((async () => {
    const cache = await caches.open(`c2fdan-${VERSION}`);
    for (const url of urls) {
      if (!(await cache.match(url, { ignoreSearch: true }))) await cache.add(url).catch(() => {});
    }
    event.source?.postMessage({ type: 'cached', count: urls.length });
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(`c2fdan-${VERSION}`);
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return isolated(cached);
    try {
      const response = await fetch(request);
      if (response.ok && response.type === 'basic') await cache.put(request, response.clone());
      return isolated(response);
    } catch (error) {
      if (request.mode === 'navigate') {
        const shell = await cache.match('index.html');
        if (shell) return isolated(shell);
      }
      throw error;
    }
  })());
});
