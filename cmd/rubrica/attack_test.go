package main_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"rubrica/db/dbtest"
	"rubrica/internal/hostile"
)

// The budget of one refused attack, in the serving process: CPU time and bytes allocated.
const (
	attackCPUBudget   = 50 * time.Millisecond
	attackAllocBudget = 10 << 20
)

// attackServer is a real `rubrica serve` process under attack, with a workspace whose contacts
// share a phone: one suggestion of two contacts, so that each level of nested suggestions
// doubles what an unbounded server would resolve.
type attackServer struct {
	*server
	token string
	twin  string // the id of a contact in a suggestion
}

func startAttackServer(t *testing.T, extraEnv ...string) *attackServer {
	t.Helper()
	bin := os.Getenv("ATTACK_BINARY") // measure another build (see the README's limits section)
	if bin == "" {
		bin = buildBinary(t)
	}
	// Trust authentication ignores the password: it is there to be masked in the logs.
	dsn := dbtest.NewDatabase(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	dsn += sep + "password=hunter2secret"
	env := append([]string{"DATABASE_URL=" + dsn, "LOG_LEVEL=info"}, extraEnv...)
	var ws struct{ WorkspaceID, Token string }
	runJSON(t, bin, env, &ws, "workspace", "create", "--name", "Attack", "--owner-email", "owner@attack.test")

	s := &attackServer{server: startServer(t, bin, env), token: ws.Token}
	for i := range 2 {
		data := s.mustQuery(t, fmt.Sprintf(`mutation { createContact(input: {firstName: "Twin %d", phone: "+393331234567"}) { contact { id } } }`, i))
		s.twin = data["createContact"].(map[string]any)["contact"].(map[string]any)["id"].(string)
	}
	return s
}

// post sends a GraphQL request body and returns the status and the decoded body.
func (s *attackServer) post(t *testing.T, token string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", body)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("response %d is not JSON (%d bytes): %.200s", res.StatusCode, len(b), b)
	}
	return res.StatusCode, out
}

func (s *attackServer) query(t *testing.T, token, query string, vars map[string]any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return s.post(t, token, bytes.NewReader(body))
}

func (s *attackServer) mustQuery(t *testing.T, query string) map[string]any {
	t.Helper()
	status, out := s.query(t, s.token, query, nil)
	if status != 200 || out["errors"] != nil {
		t.Fatalf("query %.80s: %d %v", query, status, out)
	}
	return out["data"].(map[string]any)
}

// usage reads the serving process's CPU time and bytes allocated so far from /metrics.
func (s *attackServer) usage(t *testing.T) (cpu time.Duration, alloc float64) {
	t.Helper()
	res, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch name {
		case "process_cpu_seconds_total":
			cpu = time.Duration(v * float64(time.Second))
		case "go_memstats_alloc_bytes_total":
			alloc = v
		}
	}
	return cpu, alloc
}

// attack is one hostile request and what its refusal must look like.
type attack struct {
	name   string
	token  bool   // sent with a valid token
	status int    // the HTTP status expected: 200 for a document refused before it runs (a request error under application/json)
	code   string // the extensions.code of the first error
	limit  string // the extensions.limit or extensions.field it must name ("" when none)
	body   func(s *attackServer) io.Reader
}

func gql(query string) func(*attackServer) io.Reader {
	return func(*attackServer) io.Reader {
		b, _ := json.Marshal(map[string]any{"query": query})
		return bytes.NewReader(b)
	}
}

// cursorWithKey is a contacts cursor of the default order whose key is key.
func cursorWithKey(key string) string {
	b, _ := json.Marshal(map[string]string{"o": "CREATED_AT", "k": key, "i": "00000000-0000-4000-8000-000000000000"})
	return base64.RawURLEncoding.EncodeToString(b)
}

// contactsAfter asks for the contacts after a cursor with that key, sent as a variable (a
// document holding it would be refused for its size alone).
func contactsAfter(key string) func(*attackServer) io.Reader {
	return func(*attackServer) io.Reader {
		b, _ := json.Marshal(map[string]any{
			"query":     `query($after: String) { contacts(first: 5, after: $after) { edges { node { id } } } }`,
			"variables": map[string]any{"after": cursorWithKey(key)},
		})
		return bytes.NewReader(b)
	}
}

// nested asks for hostile.NestedSuggestions(levels) under one of the twins.
func nested(levels int) func(*attackServer) io.Reader {
	return func(s *attackServer) io.Reader {
		b, _ := json.Marshal(map[string]any{"query": hostile.NestedSuggestions(levels), "variables": map[string]any{"id": s.twin}})
		return bytes.NewReader(b)
	}
}

// rawPost sends a POST /graphql by hand: headers, then up to send bytes of body (chunked
// when length is 0, else declaring length), and returns the status line the server answers
// with. It stops sending when the server answers, as an attacker streaming a body would be
// told to.
func (s *attackServer) rawPost(t *testing.T, length int64, send int) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	head := "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	if length > 0 {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", length)
	} else {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	}
	status := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(conn).ReadString('\n')
		status <- strings.TrimSpace(line)
	}()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte(" "), 64<<10)
	for sent := 0; sent < send; sent += len(chunk) {
		select {
		case line := <-status:
			return line
		default:
		}
		var err error
		if length > 0 {
			_, err = conn.Write(chunk)
		} else {
			_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		if err != nil {
			break // the server closed: its answer may still be there
		}
	}
	return <-status
}

// TestAttacksRefusedCheaply sends each hostile request of issue 9 to the real binary and checks
// that it is refused clearly (status, code, the limit or field named), within the CPU and
// allocation budget of the serving process, and that a normal request is answered right after.
// It is not parallel: the budget is measured on the whole server process.
func TestAttacksRefusedCheaply(t *testing.T) {
	s := startAttackServer(t, "BODY_READ_TIMEOUT=2s")
	attacks := []attack{
		{"CursorKey40000", true, 200, "BAD_USER_INPUT", "after", contactsAfter(strings.Repeat("9", 40000))},
		{"CursorKeyNotATime", true, 200, "BAD_USER_INPUT", "after", contactsAfter("not-a-time")},
		{"CursorKeyEmpty", true, 200, "BAD_USER_INPUT", "after", contactsAfter("")},
		{"CursorKeyNUL", true, 200, "BAD_USER_INPUT", "after", contactsAfter("2026-01-01T00:00:00Z\x00")},
		// contact → (mergeSuggestions → contacts) × 20, and × 40
		{"NestedSuggestions40", true, 200, "LIMIT_EXCEEDED", "MAX_QUERY_DEPTH", nested(40)},
		{"NestedSuggestions80", true, 200, "LIMIT_EXCEEDED", "MAX_QUERY_DEPTH", nested(80)},
		{"FragmentBomb24", false, 200, "LIMIT_EXCEEDED", "MAX_FRAGMENT_SPREADS", gql(hostile.FragmentBomb(24))},
		{"Typename10000", false, 200, "LIMIT_EXCEEDED", "MAX_DOCUMENT_BYTES", gql(hostile.Typenames(10000))},
		{"FieldCopies400", false, 200, "LIMIT_EXCEEDED", "MAX_REPEATED_FIELDS", gql(hostile.FieldCopies(400))},
		{"FieldCopies1000", false, 200, "LIMIT_EXCEEDED", "MAX_QUERY_TOKENS", gql(hostile.FieldCopies(1000))},
		{"SearchAliases2400", true, 200, "LIMIT_EXCEEDED", "MAX_DOCUMENT_BYTES", gql(hostile.SearchAliases(2400))},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			token := ""
			if a.token {
				token = s.token
			}
			cpu0, alloc0 := s.usage(t)
			status, out := s.post(t, token, a.body(s))
			cpu1, alloc1 := s.usage(t)
			cpu, alloc := cpu1-cpu0, alloc1-alloc0
			t.Logf("%s: status %d, server CPU %v, allocated %.1f MB", a.name, status, cpu, alloc/(1<<20))
			if status != a.status {
				t.Errorf("status = %d, want %d (%.300v)", status, a.status, out)
			}
			errs, _ := out["errors"].([]any)
			if len(errs) == 0 {
				t.Fatalf("no errors in %.300v", out)
			}
			if len(errs) > 101 {
				t.Errorf("%d errors, want at most 100 and one saying so", len(errs))
			}
			ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
			if ext["code"] != a.code {
				t.Errorf("code = %v, want %s (%.300v)", ext["code"], a.code, errs[0])
			}
			if a.limit != "" && ext["limit"] != a.limit && ext["field"] != a.limit {
				t.Errorf("extensions = %v, want the limit or field %s named", ext, a.limit)
			}
			if cpu > attackCPUBudget {
				t.Errorf("server CPU = %v, want under %v", cpu, attackCPUBudget)
			}
			if alloc > attackAllocBudget {
				t.Errorf("server allocated %.1f MB, want under %d MB", alloc/(1<<20), attackAllocBudget>>20)
			}
			s.mustQuery(t, `{ contacts(first: 5) { totalCount edges { node { id displayName } } } }`)
		})
	}

	// A body of 50 MB, declared or chunked: refused with 413 once it is known to be too large,
	// without reading it (declared) or after reading no more than the limit (chunked).
	for _, b := range []struct {
		name   string
		length int64
	}{{"Body50MB", 50 << 20}, {"Body50MBChunked", 0}} {
		t.Run(b.name, func(t *testing.T) {
			cpu0, alloc0 := s.usage(t)
			line := s.rawPost(t, b.length, 50<<20)
			cpu1, alloc1 := s.usage(t)
			t.Logf("%s: %q, server CPU %v, allocated %.1f MB", b.name, line, cpu1-cpu0, (alloc1-alloc0)/(1<<20))
			if !strings.HasPrefix(line, "HTTP/1.1 413") {
				t.Errorf("answer = %q, want 413", line)
			}
			if cpu1-cpu0 > attackCPUBudget || alloc1-alloc0 > attackAllocBudget {
				t.Errorf("server CPU %v and %.1f MB allocated, want under %v and %d MB", cpu1-cpu0, (alloc1-alloc0)/(1<<20), attackCPUBudget, attackAllocBudget>>20)
			}
			s.mustQuery(t, `{ viewer { id } }`)
		})
	}

	t.Run("SlowBody", func(t *testing.T) {
		// A body sent a byte a second: the server stops waiting at BODY_READ_TIMEOUT (2s here).
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		start := time.Now()
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			io.Copy(io.Discard, conn) // until the server answers and closes, or drops us
		}()
	trickle:
		for range 30 {
			select {
			case <-closed:
				break trickle
			case <-time.After(time.Second):
				conn.Write([]byte(" "))
			}
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("the server still held a trickling body after %v", time.Since(start))
		}
		if d := time.Since(start); d > 6*time.Second {
			t.Errorf("the server held a trickling body for %v, want it dropped soon after 2s", d)
		}
		s.mustQuery(t, `{ viewer { id } }`)
	})

	t.Run("PasswordNeverLogged", func(t *testing.T) {
		if strings.Contains(s.logs.String(), "hunter2secret") {
			t.Errorf("the server logged the database password:\n%s", s.logs.String())
		}
	})
}
