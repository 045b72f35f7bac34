package explorer_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"rubrica/server/explorer"
)

// newServer mounts the handler the way the server does.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", explorer.Handler())
	mux.Handle(explorer.AssetPrefix, explorer.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, rawURL string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// Disable the transport's transparent gzip so tests see what was sent.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

var (
	srcHrefRE  = regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*"([^"]*)"`)
	scriptRE   = regexp.MustCompile(`(?is)<script\b[^>]*>(.*?)</script>`)
	scriptSrc  = regexp.MustCompile(`(?i)<script\b[^>]*\bsrc\s*=\s*"([^"]*)"`)
	styleLinks = regexp.MustCompile(`(?i)<link\b[^>]*\brel\s*=\s*"stylesheet"[^>]*\bhref\s*=\s*"([^"]*)"`)
)

// pageAssets returns the script and stylesheet URLs the page references.
func pageAssets(t *testing.T, page string) (scripts, styles []string) {
	t.Helper()
	for _, m := range scriptSrc.FindAllStringSubmatch(page, -1) {
		scripts = append(scripts, m[1])
	}
	for _, m := range styleLinks.FindAllStringSubmatch(page, -1) {
		styles = append(styles, m[1])
	}
	return scripts, styles
}

func TestPage(t *testing.T) {
	srv := newServer(t)
	r := do(t, http.MethodGet, srv.URL+"/", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", r.status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	page := string(r.body)
	if !strings.Contains(page, "<title>Rubrica explorer</title>") {
		t.Errorf("page has no Rubrica explorer title:\n%s", page)
	}

	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "connect-src 'self' ws: wss:", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
		t.Errorf("Content-Security-Policy %q allows inline or eval'd scripts", csp)
	}
	if got := r.header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("page Cache-Control = %q, want no-cache", got)
	}

	// Everything the page loads must be local: no scheme, no host.
	for _, m := range srcHrefRE.FindAllStringSubmatch(page, -1) {
		ref := m[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		u, err := url.Parse(ref)
		if err != nil {
			t.Errorf("bad URL %q in page: %v", ref, err)
			continue
		}
		if u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, explorer.AssetPrefix) {
			t.Errorf("page references non-local URL %q", ref)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "//unpkg") {
		t.Errorf("page mentions a remote URL:\n%s", page)
	}
	// CSP is script-src 'self': no inline script bodies.
	for _, m := range scriptRE.FindAllStringSubmatch(page, -1) {
		if strings.TrimSpace(m[1]) != "" {
			t.Errorf("page has an inline script: %q", m[1])
		}
	}

	scripts, styles := pageAssets(t, page)
	if len(scripts) != 1 || !strings.Contains(scripts[0], "/explorer.bundle.js?") || len(styles) < 1 {
		t.Fatalf("page references scripts %v and styles %v; want explorer.bundle.js and its CSS", scripts, styles)
	}
	// The editor's web workers, named in data- attributes, are local assets too.
	workers := regexp.MustCompile(`data-(\w+)-worker="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(workers) != 3 {
		t.Fatalf("page names workers %v, want editor, json and graphql", workers)
	}
	for _, w := range workers {
		if r := do(t, http.MethodGet, srv.URL+w[2], nil); !strings.HasPrefix(w[2], explorer.AssetPrefix) || r.status != http.StatusOK {
			t.Errorf("worker %s at %q: status %d, want a local asset", w[1], w[2], r.status)
		}
	}
}

func TestPageHead(t *testing.T) {
	srv := newServer(t)
	r := do(t, http.MethodHead, srv.URL+"/", nil)
	if r.status != http.StatusOK {
		t.Fatalf("HEAD / = %d, want 200", r.status)
	}
	if len(r.body) != 0 {
		t.Errorf("HEAD / returned a body of %d bytes", len(r.body))
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
}

func TestPageAssets(t *testing.T) {
	srv := newServer(t)
	page := string(do(t, http.MethodGet, srv.URL+"/", nil).body)
	scripts, styles := pageAssets(t, page)

	check := func(ref, wantType string) {
		t.Helper()
		r := do(t, http.MethodGet, srv.URL+ref, nil)
		if r.status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", ref, r.status)
			return
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
			t.Errorf("GET %s Content-Type = %q, want %s", ref, ct, wantType)
		}
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("GET %s Cache-Control = %q, want a long max-age", ref, cc)
		}
		if len(r.body) == 0 {
			t.Errorf("GET %s returned an empty body", ref)
		}
		if r.header.Get("Content-Encoding") != "" {
			t.Errorf("GET %s without Accept-Encoding was encoded as %q", ref, r.header.Get("Content-Encoding"))
		}
	}
	for _, s := range scripts {
		check(s, "text/javascript")
	}
	for _, s := range styles {
		check(s, "text/css")
	}
}

func TestAssetsHaveNoRemoteReferences(t *testing.T) {
	srv := newServer(t)
	page := string(do(t, http.MethodGet, srv.URL+"/", nil).body)
	_, styles := pageAssets(t, page)
	// Stylesheets must not pull fonts or imports from the network.
	remote := regexp.MustCompile(`(?i)(?:url\(\s*['"]?|@import\s+['"]?)(?:https?:)?//`)
	for _, s := range styles {
		body := do(t, http.MethodGet, srv.URL+s, nil).body
		if m := remote.Find(body); m != nil {
			t.Errorf("%s loads a remote resource: %q", s, m)
		}
	}
}

func TestAssetGzipAndConditional(t *testing.T) {
	srv := newServer(t)
	plain := do(t, http.MethodGet, srv.URL+explorer.AssetPrefix+"explorer.bundle.js", nil)
	if plain.status != http.StatusOK {
		t.Fatalf("GET graphiql.min.js = %d", plain.status)
	}

	gz := do(t, http.MethodGet, srv.URL+explorer.AssetPrefix+"explorer.bundle.js",
		http.Header{"Accept-Encoding": {"gzip, deflate, br"}})
	if gz.status != http.StatusOK || gz.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip GET = %d, Content-Encoding %q", gz.status, gz.header.Get("Content-Encoding"))
	}
	if !strings.Contains(gz.header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("Vary = %q, want Accept-Encoding", gz.header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz.body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, plain.body) {
		t.Errorf("gzip body does not decompress to the plain body")
	}
	if len(gz.body) >= len(plain.body) {
		t.Errorf("gzip body (%d bytes) is not smaller than plain (%d bytes)", len(gz.body), len(plain.body))
	}

	refused := do(t, http.MethodGet, srv.URL+explorer.AssetPrefix+"explorer.bundle.js",
		http.Header{"Accept-Encoding": {"gzip;q=0"}})
	if refused.header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still got Content-Encoding %q", refused.header.Get("Content-Encoding"))
	}

	etag := plain.header.Get("ETag")
	if etag == "" {
		t.Fatal("asset has no ETag")
	}
	notModified := do(t, http.MethodGet, srv.URL+explorer.AssetPrefix+"explorer.bundle.js",
		http.Header{"If-None-Match": {etag}})
	if notModified.status != http.StatusNotModified {
		t.Errorf("If-None-Match = %d, want 304", notModified.status)
	}
}

func TestNotFound(t *testing.T) {
	srv := newServer(t)
	for _, p := range []string{
		explorer.AssetPrefix + "nope.js",
		explorer.AssetPrefix,
		explorer.AssetPrefix + "..%2Fexplorer.go",
		explorer.AssetPrefix + "sub/graphiql.min.js",
		"/index.html",
		"/favicon.ico",
		"/graphiql",
		"/explorer/",
		"/explorer/assets",
	} {
		r := do(t, http.MethodGet, srv.URL+p, nil)
		if r.status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, r.status)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	srv := newServer(t)
	for _, p := range []string{"/", explorer.AssetPrefix + "explorer.bundle.js"} {
		r := do(t, http.MethodPost, srv.URL+p, nil)
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("POST %s = %d, want 405", p, r.status)
		}
		if allow := r.header.Get("Allow"); allow != "GET, HEAD" {
			t.Errorf("POST %s Allow = %q", p, allow)
		}
	}
}

// The page script wires the token prefill and endpoints; guard the contract
// with the server (paths and header names) against accidental edits.
func TestExplorerScript(t *testing.T) {
	srv := newServer(t)
	r := do(t, http.MethodGet, srv.URL+explorer.AssetPrefix+"explorer.bundle.js", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET explorer.bundle.js = %d", r.status)
	}
	js := string(r.body)
	for _, want := range []string{`/graphql`, `wss:`, `ws:`, `token`, `Authorization`, `Bearer `, `4403`, `shouldRetry`,
		`contacts(first: 10)`, `make run`, `rubrica token create`} {
		if !strings.Contains(js, want) {
			t.Errorf("explorer.bundle.js lacks %s", want)
		}
	}
}
