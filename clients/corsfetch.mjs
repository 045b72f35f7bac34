// A fetch that behaves as a browser page on `origin` does towards another origin: Node's
// fetch knows no CORS, so this one runs the CORS protocol of the Fetch standard itself.
// A request that is not "simple" (a method other than GET/HEAD/POST, a header outside the
// CORS-safelisted ones, or a Content-Type other than the three form types) first gets a
// preflight: OPTIONS with Origin, Access-Control-Request-Method and -Headers, which must
// answer 2xx with Access-Control-Allow-Origin matching the origin and allow the method and
// every header. Every response must then carry the matching Access-Control-Allow-Origin, or
// the page cannot read it: the fetch fails with a TypeError, as a browser's does. Response
// headers other than the safelisted ones are visible only when Access-Control-Expose-Headers
// names them.

const safelistedHeaders = new Set(['accept', 'accept-language', 'content-language', 'content-type']);
const simpleContentTypes = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
const safelistedResponseHeaders = new Set([
  'cache-control', 'content-language', 'content-length', 'content-type', 'expires', 'last-modified', 'pragma',
]);

export const preflights = []; // every preflight sent: {url, method, headers, status}
export const responses = []; // every response read: {url, status, contentType}

function tokens(value) {
  return (value || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

export function corsFetch(origin) {
  return async function fetchFromPage(input, init = {}) {
    const req = new Request(input, init);
    const method = req.method.toUpperCase();
    const names = [...req.headers.keys()].map((h) => h.toLowerCase());
    const contentType = (req.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
    const unsafe = names.filter((h) => !safelistedHeaders.has(h) || (h === 'content-type' && !simpleContentTypes.has(contentType)));
    if (!['GET', 'HEAD', 'POST'].includes(method) || unsafe.length > 0) {
      const pre = await fetch(req.url, {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': method,
          'Access-Control-Request-Headers': unsafe.sort().join(','),
        },
      });
      preflights.push({ url: req.url, method, headers: unsafe, status: pre.status });
      const allowOrigin = pre.headers.get('access-control-allow-origin');
      if (pre.status < 200 || pre.status > 299 || (allowOrigin !== origin && allowOrigin !== '*')) {
        throw new TypeError(`CORS preflight of ${method} ${req.url} from ${origin} refused: ${pre.status}, Allow-Origin ${allowOrigin}`);
      }
      const methods = tokens(pre.headers.get('access-control-allow-methods'));
      if (!['GET', 'HEAD', 'POST'].includes(method) && !methods.includes(method.toLowerCase())) {
        throw new TypeError(`CORS preflight: method ${method} not allowed (${methods})`);
      }
      const allowed = tokens(pre.headers.get('access-control-allow-headers'));
      for (const h of unsafe) {
        if (!allowed.includes(h) && !(allowed.includes('*') && h !== 'authorization')) {
          throw new TypeError(`CORS preflight: header ${h} not allowed (${allowed})`);
        }
      }
    }
    const headers = new Headers(req.headers);
    headers.set('Origin', origin);
    const res = await fetch(req.url, { method, headers, body: init.body, signal: init.signal ?? req.signal });
    const allowOrigin = res.headers.get('access-control-allow-origin');
    if (allowOrigin !== origin && allowOrigin !== '*') {
      throw new TypeError(`CORS: the response to ${method} ${req.url} has Access-Control-Allow-Origin ${allowOrigin}, not ${origin}`);
    }
    responses.push({ url: req.url, status: res.status, contentType: res.headers.get('content-type') });
    // What a page sees: the body, the status and only the exposed headers.
    const exposed = new Set([...safelistedResponseHeaders, ...tokens(res.headers.get('access-control-expose-headers'))]);
    const visible = new Headers();
    for (const [k, v] of res.headers) {
      if (exposed.has(k.toLowerCase())) visible.append(k, v);
    }
    const body = [101, 204, 205, 304].includes(res.status) ? null : res.body;
    return new Response(body, { status: res.status, statusText: res.statusText, headers: visible });
  };
}
