package server_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rubrica/internal/testenv"
	"rubrica/server"
)

// limitBody is the answer of a refused request: one error with its code and limit.
type limitBody struct {
	Errors []struct {
		Message    string
		Extensions struct{ Code, Limit, Field string }
	}
}

func decodeLimitBody(t *testing.T, b []byte) limitBody {
	t.Helper()
	var out limitBody
	if err := json.Unmarshal(b, &out); err != nil || len(out.Errors) != 1 {
		t.Fatalf("body %q: want a GraphQL response with one error (%v)", b, err)
	}
	return out
}

// wantLimit checks a refusal: status, LIMIT_EXCEEDED and the limit named.
func wantLimit(t *testing.T, status int, body []byte, wantStatus int, limit string) {
	t.Helper()
	e := decodeLimitBody(t, body).Errors[0]
	if status != wantStatus || e.Extensions.Code != "LIMIT_EXCEEDED" || e.Extensions.Limit != limit {
		t.Errorf("got %d %s %s (%q), want %d LIMIT_EXCEEDED %s", status, e.Extensions.Code, e.Extensions.Limit, e.Message, wantStatus, limit)
	}
}

// rawRequest writes head (request line and headers, without the blank line) and body on a new
// connection to base, and returns the response the server sends, read while the connection
// stays open on the client's side, and whether the server then closed the connection.
func rawRequest(t *testing.T, base, head, body string) (res *http.Response, respBody []byte, closed bool) {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head+"\r\nHost: "+u.Host+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a bound on failure only
	br := bufio.NewReader(conn)
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	respBody, err = io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("response body: %v", err)
	}
	_, err = br.ReadByte()
	return res, respBody, errors.Is(err, io.EOF)
}

func graphqlPost(t *testing.T, env *testenv.Env, body io.Reader, contentLength int64) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", body)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = contentLength
	res, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// padded is a request for __typename padded with spaces to n bytes.
func padded(n int) string {
	q := `{"query": "{ __typename }"}`
	return q + strings.Repeat(" ", n-len(q))
}

// TestRequestBodyLimit: a body over MAX_REQUEST_BYTES gets 413 naming the limit, refused from
// its Content-Length before it is sent, or when a chunked body grows past the limit; a body of
// exactly the limit is served.
func TestRequestBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 1024
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.MaxRequestBytes = limit })

	t.Run("ContentLengthUpFront", func(t *testing.T) {
		// Only the headers are sent: the answer cannot wait for the body.
		res, body, closed := rawRequest(t, env.Server.URL,
			"POST /graphql HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1025", "")
		wantLimit(t, res.StatusCode, body, http.StatusRequestEntityTooLarge, "MAX_REQUEST_BYTES")
		if !closed {
			t.Error("the connection stayed open after a refused body")
		}
	})
	t.Run("Chunked", func(t *testing.T) {
		status, body := graphqlPost(t, env, io.MultiReader(strings.NewReader(padded(limit+1))), -1)
		wantLimit(t, status, body, http.StatusRequestEntityTooLarge, "MAX_REQUEST_BYTES")
	})
	t.Run("AtTheLimit", func(t *testing.T) {
		for _, length := range []int64{limit, -1} {
			status, body := graphqlPost(t, env, io.MultiReader(strings.NewReader(padded(limit))), length)
			if status != http.StatusOK || !strings.Contains(string(body), `"__typename":"Query"`) {
				t.Errorf("body of %d bytes (length %d): got %d %s, want 200 with data", limit, length, status, body)
			}
		}
	})
	t.Run("Default", func(t *testing.T) {
		env := testenv.New(t)
		res, body, _ := rawRequest(t, env.Server.URL, fmt.Sprintf(
			"POST /graphql HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d", server.DefaultMaxRequestBytes+1), "")
		wantLimit(t, res.StatusCode, body, http.StatusRequestEntityTooLarge, "MAX_REQUEST_BYTES")
		if server.DefaultMaxRequestBytes != 1<<20 {
			t.Errorf("DefaultMaxRequestBytes = %d, want 1 MiB", server.DefaultMaxRequestBytes)
		}
	})
}

// TestMalformedRequestsNotEchoed: a POST body, a GET query string or an export query string
// that cannot be read, or an operationName that cannot name an operation (gqlgen repeats it),
// is BAD_USER_INPUT with a message of a fixed size, none of the input.
func TestMalformedRequestsNotEchoed(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Echo")
	junk := strings.Repeat("Zq", 20000)
	wantRefusal := func(t *testing.T, status int, body []byte) {
		t.Helper()
		e := decodeLimitBody(t, body).Errors[0]
		if status != http.StatusBadRequest || e.Extensions.Code != "BAD_USER_INPUT" {
			t.Errorf("got %d %s, want 400 BAD_USER_INPUT", status, e.Extensions.Code)
		}
		if len(body) > 400 || strings.Contains(string(body), "ZqZq") {
			t.Errorf("answer of %d bytes repeats the input: %.300s", len(body), body)
		}
	}
	for name, body := range map[string]string{
		"UnterminatedString":  `{"query": "` + junk,
		"QueryNotString":      `{"query": ["` + junk + `"]}`,
		"VariablesNotObject":  `{"query": "{ __typename }", "variables": ["` + junk + `"]}`,
		"ExtensionsNotObject": `{"query": "{ __typename }", "extensions": "` + junk + `"}`,
		"NotJSON":             junk,
		"LongOperationName":   `{"query": "query A { __typename }", "operationName": "` + junk + `"}`,
		"BadOperationName":    `{"query": "query A { __typename }", "operationName": "A ` + junk + `"}`,
	} {
		t.Run("POST"+name, func(t *testing.T) {
			status, b := graphqlPost(t, env, strings.NewReader(body), int64(len(body)))
			wantRefusal(t, status, b)
		})
	}
	get := func(t *testing.T, target string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, env.Server.URL+target, nil)
		req.Header.Set("Authorization", "Bearer "+ws.Owner())
		res, err := env.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	t.Run("GETQueryString", func(t *testing.T) {
		status, b := get(t, "/graphql?query=%zzZqZq&"+junk+";x=1")
		wantRefusal(t, status, b)
	})
	t.Run("GETOperationName", func(t *testing.T) {
		status, b := get(t, "/graphql?query="+url.QueryEscape("query A { __typename }")+"&operationName="+junk)
		wantRefusal(t, status, b)
	})
	t.Run("ExportQueryString", func(t *testing.T) {
		status, b := get(t, "/export/contacts.csv?ids=%zzZqZq&"+junk)
		wantRefusal(t, status, b)
	})
}

// TestBodyReadTimeout: a body that does not arrive within BODY_READ_TIMEOUT is answered with
// 408 naming the limit and its connection closed, while the client still holds it open.
func TestBodyReadTimeout(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.BodyReadTimeout = 200 * time.Millisecond })
	res, body, closed := rawRequest(t, env.Server.URL,
		"POST /graphql HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100", `{"query": "{ __typ`)
	wantLimit(t, res.StatusCode, body, http.StatusRequestTimeout, "BODY_READ_TIMEOUT")
	if !closed {
		t.Error("the connection stayed open after a body timed out")
	}
	// A body sent in time is served on the same server.
	if r := env.Do(t, "", "{ __typename }", nil); r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Errorf("a request after the timeout: got %d %+v, want 200", r.Status, r.Errors)
	}
}

// lockContacts holds an exclusive lock on the contacts table until the test ends or release
// is called: every statement that reads contacts waits for it.
func lockContacts(t *testing.T, dsn string) (db *sql.DB, release func()) {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	release = func() { tx.Rollback() }
	t.Cleanup(release)
	return db, release
}

// lockWaiters counts the statements of this database that wait for a lock on contacts.
func lockWaiters(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query ILIKE '%contacts%'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitLockWaiters waits until want statements wait for the contacts lock; it fails the test
// if that does not happen within 20 seconds.
func waitLockWaiters(t *testing.T, db *sql.DB, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for lockWaiters(t, db) != want {
		if time.Now().After(deadline) {
			t.Fatalf("statements waiting for the contacts lock: got %d, want %d", lockWaiters(t, db), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRequestTimeout: a request that runs past REQUEST_TIMEOUT is LIMIT_EXCEEDED naming the
// limit, and its statement is cancelled in PostgreSQL: it no longer waits for the lock that
// held it, which is still held.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.RequestTimeout = 500 * time.Millisecond })
	ws := env.Workspace(t, "Slow")
	db, release := lockContacts(t, env.DSN)
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql",
		strings.NewReader(`{"query": "{ contacts(first: 1) { totalCount } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ws.Owner())
	res, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wantLimit(t, res.StatusCode, b, http.StatusOK, "REQUEST_TIMEOUT")
	waitLockWaiters(t, db, 0)
	release()
	var data struct{ Contacts struct{ TotalCount int } }
	env.MustDo(t, ws.Owner(), `{ contacts(first: 1) { totalCount } }`, nil, &data)
}

// serveReal serves a server built with cfg on the env's database through Server.Serve, as the
// binary does, and returns its base URL.
func serveReal(t *testing.T, env *testenv.Env, cfg server.Config) string {
	t.Helper()
	cfg.Services = env.DB.Services()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.New(cfg).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// TestClientGoneCancelsSQL: through Server.Serve, a client that leaves while its request waits
// in PostgreSQL cancels that statement: it stops waiting for the lock, which is still held.
func TestClientGoneCancelsSQL(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Gone")
	base := serveReal(t, env, server.Config{})
	db, _ := lockContacts(t, env.DSN)

	ctx, leave := context.WithCancel(context.Background())
	body := `{"query": "{ contacts(first: 1) { totalCount } }"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ws.Owner())
	errc := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	waitLockWaiters(t, db, 1)
	leave() // closes the connection
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: got %v, want its own cancellation", err)
	}
	waitLockWaiters(t, db, 0)
}

// TestReadHeaderTimeout: through Server.Serve, a client that does not finish its headers
// within READ_HEADER_TIMEOUT has its connection closed.
func TestReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	base := serveReal(t, env, server.Config{ReadHeaderTimeout: 200 * time.Millisecond})
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a bound on failure only
	if n, err := conn.Read(make([]byte, 512)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after unfinished headers: got %d bytes, %v; want the connection closed", n, err)
	}
}

// TestWebsocketOutlivesRequestTimeout: REQUEST_TIMEOUT does not apply to websockets: a
// subscription receives events after it passed.
func TestWebsocketOutlivesRequestTimeout(t *testing.T) {
	t.Parallel()
	// Long enough for the mutation below on a loaded machine; the subscription outlives it.
	const timeout = 2 * time.Second
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.RequestTimeout = timeout })
	ws := env.Workspace(t, "Long")
	c := testenv.Dial(t, env.WSURL(), testenv.Protocols[0], ws.Agent())
	c.Subscribe("all", contactEventsQuery, nil)
	env.WaitSubscribers(t, 1)
	time.Sleep(timeout + 500*time.Millisecond)
	ada := createContact(t, env, ws.Manager(), map[string]any{"firstName": "Ada"})
	wantContactEvent(t, nextContactEvent(t, c, "all"), "CREATED", ada, "Ada")
}
