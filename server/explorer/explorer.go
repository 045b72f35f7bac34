// Package explorer serves Rubrica's in-browser GraphQL IDE (GraphiQL 5).
//
// The page and every script and stylesheet it uses are embedded in the
// binary with go:embed, so the explorer works without internet access: the
// page references no CDN and no web fonts (GraphiQL's fonts are inlined in
// its stylesheet as data: URLs).
//
// The page talks to "/graphql" on the same origin, over HTTP for queries and
// mutations and over ws:// or wss:// (derived from the page's location) for
// subscriptions. Opening the page as "/#token=XYZ" prefills the headers
// editor with {"Authorization": "Bearer XYZ"}; the fragment is never sent to
// the server and the page removes it from the address bar. The same headers
// are sent as the websocket connectionParams of subscriptions; a subscription
// whose token is refused (close 4403, or 4429) ends at once with the error shown,
// without the graphql-ws client's retries.
//
// The page's script is src/explorer.js, bundled with GraphiQL, React and
// graphql-ws into assets/ by update_assets.sh; assets/LICENSES.md lists the
// versions and licenses. browsertest/ checks the page in headless Chromium.
package explorer

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AssetPrefix is the URL path prefix under which Handler serves the
// explorer's embedded scripts and stylesheets.
const AssetPrefix = "/explorer/assets/"

// ContentSecurityPolicy is the Content-Security-Policy header sent with the
// explorer page. Scripts and the editor's web workers may only come from the
// server itself (the page has no inline script); inline styles are allowed because GraphiQL sets style
// attributes at run time; fonts and images may also be data: URLs, which is
// how GraphiQL's stylesheet embeds its fonts and icons.
const ContentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; " +
	"worker-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; " +
	"font-src 'self' data:; " +
	"connect-src 'self' ws: wss:; " +
	"base-uri 'none'; " +
	"form-action 'none'; " +
	"frame-ancestors 'none'"

// assetCacheControl lets browsers keep assets for a year: their content only
// changes with a release, and the page links them with a content hash
// (?v=...) so a new release is fetched anew anyway.
const assetCacheControl = "public, max-age=31536000, immutable"

//go:embed index.html
var indexTemplate string

//go:embed assets
var assetFS embed.FS

// asset is one embedded file served under AssetPrefix.
type asset struct {
	contentType string
	etag        string
	body        []byte

	gzipOnce sync.Once
	gzipBody []byte // nil when compressing would not help
	gzipETag string
}

// gzipped returns the gzip-compressed body, compressing it on first use, or
// nil if compression does not make the file smaller.
func (a *asset) gzipped() []byte {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return
		}
		if _, err := zw.Write(a.body); err != nil {
			return
		}
		if err := zw.Close(); err != nil {
			return
		}
		if buf.Len() < len(a.body) {
			a.gzipBody = buf.Bytes()
			a.gzipETag = strings.TrimSuffix(a.etag, `"`) + `-gzip"`
		}
	})
	return a.gzipBody
}

// site is the page and assets, prepared once from the embedded files.
type site struct {
	page     []byte
	pageETag string
	assets   map[string]*asset
}

var loadSite = sync.OnceValue(func() *site {
	s, err := newSite()
	if err != nil {
		// The inputs are embedded at build time, so this is a programming
		// error that the package tests catch.
		panic("explorer: " + err.Error())
	}
	return s
})

func newSite() (*site, error) {
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	s := &site{assets: make(map[string]*asset, len(entries))}
	versions := make(map[string]string, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := assetFS.ReadFile("assets/" + e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		version := hex.EncodeToString(sum[:8])
		versions[e.Name()] = version
		s.assets[e.Name()] = &asset{
			contentType: contentType(e.Name()),
			etag:        `"` + version + `"`,
			body:        body,
		}
	}

	tmpl, err := template.New("index.html").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			v, ok := versions[name]
			if !ok {
				return "", fmt.Errorf("index.html references unknown asset %q", name)
			}
			return AssetPrefix + name + "?v=" + v, nil
		},
	}).Parse(indexTemplate)
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	if err := tmpl.Execute(&page, nil); err != nil {
		return nil, err
	}
	s.page = page.Bytes()
	sum := sha256.Sum256(s.page)
	s.pageETag = `"` + hex.EncodeToString(sum[:8]) + `"`
	return s, nil
}

// contentType returns the Content-Type for an embedded file name, without
// depending on the host's MIME tables for the types the page uses.
func contentType(name string) string {
	switch ext := path.Ext(name); ext {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".md":
		return "text/markdown; charset=utf-8"
	case ".map", ".json":
		return "application/json"
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
		return "application/octet-stream"
	}
}

// Handler serves the explorer page at "/" and its assets under "/explorer/assets/".
//
// Only GET and HEAD are allowed. Any other path reaching the handler gets a
// 404, so it can be mounted on both "/" and AssetPrefix of a ServeMux without
// shadowing unknown routes with the page.
func Handler() http.Handler {
	return handler{site: loadSite()}
}

type handler struct {
	site *site
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/":
		if !allowMethod(w, r) {
			return
		}
		h.servePage(w, r)
	case strings.HasPrefix(p, AssetPrefix):
		a, ok := h.site.assets[strings.TrimPrefix(p, AssetPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if !allowMethod(w, r) {
			return
		}
		serveAsset(w, r, a)
	default:
		http.NotFound(w, r)
	}
}

// allowMethod answers 405 to anything but GET and HEAD and reports whether
// the request may proceed.
func allowMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
	return false
}

func (h handler) servePage(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", h.site.pageETag)
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.site.page))
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", assetCacheControl)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Add("Vary", "Accept-Encoding")
	body, etag := a.body, a.etag
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if gz := a.gzipped(); gz != nil {
			body, etag = gz, a.gzipETag
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding header value allows gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for param := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(param), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}
