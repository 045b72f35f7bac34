package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rubrica/internal/testenv"
)

// The delivery benchmark's clients run in a child process: this test binary run again with
// only TestDeliveryClientsProcess, which does nothing unless clientsEnv holds its
// configuration. The parent writes one command a line on the child's stdin ("connect",
// "next"; end of input: stop), the child answers each with one line on its stdout starting
// with reportPrefix (anything else there, and its stderr, is the child's log).
const (
	clientsEnv   = "RUBRICA_DELIVERY_CLIENTS"
	reportPrefix = "delivery-report "
)

// clientsConfig is what the child is told through clientsEnv.
type clientsConfig struct {
	URL, Token, Query string
	ContactID         string // the contact every event is about
	N                 int    // clients, half of each protocol
	DialConcurrency   int    // connections being opened at once
	ConnectTimeout    time.Duration
	EventTimeout      time.Duration // how long an event may take to reach every client
}

// clientsReport is one answer of the child.
type clientsReport struct {
	Error          string  `json:",omitempty"`
	OpenFiles      uint64  `json:",omitempty"` // the child's limit, answering its start
	ConnectSeconds float64 `json:",omitempty"` // answering "connect"
	// Received answers "next": when each client read the event, wall-clock UnixNano, by
	// client index.
	Received []int64 `json:",omitempty"`
}

// TestDeliveryClientsProcess is the child process of BenchmarkDelivery, not a test: without
// clientsEnv it returns at once.
func TestDeliveryClientsProcess(t *testing.T) {
	raw := os.Getenv(clientsEnv)
	if raw == "" {
		return
	}
	var cfg clientsConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("%s: %v", clientsEnv, err)
	}
	report := func(r clientsReport) {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%s%s\n", reportPrefix, b)
	}
	fail := func(err error) {
		report(clientsReport{Error: err.Error()})
		t.Fatal(err)
	}
	limit, err := testenv.RaiseOpenFiles()
	if err != nil {
		fail(err)
	}
	if need := uint64(cfg.N + 64); limit < need {
		fail(fmt.Errorf("%d clients need about %d open files, the limit is %d (ulimit -Hn)", cfg.N, need, limit))
	}
	report(clientsReport{OpenFiles: limit})
	in := bufio.NewScanner(os.Stdin)
	var conns []*testenv.WS
	for event := 0; in.Scan(); {
		switch in.Text() {
		case "connect":
			start := time.Now()
			if conns, err = dialClients(t, cfg); err != nil {
				fail(err)
			}
			report(clientsReport{ConnectSeconds: time.Since(start).Seconds()})
		case "next":
			if conns == nil {
				fail(errors.New(`"next" before "connect"`))
			}
			received, err := collectEvent(conns, cfg, event)
			if err != nil {
				fail(err)
			}
			report(clientsReport{Received: received})
			event++
		default:
			fail(fmt.Errorf("unknown command %q", in.Text()))
		}
	}
	if err := in.Err(); err != nil {
		t.Fatal(err)
	}
}

// dialClients opens cfg.N websockets, cfg.DialConcurrency at a time, each authenticated and
// subscribed once; it gives up at the first failure or after cfg.ConnectTimeout (each dial and
// acknowledgement is bounded by testenv.WSWait).
func dialClients(t *testing.T, cfg clientsConfig) ([]*testenv.WS, error) {
	conns := make([]*testenv.WS, cfg.N)
	deadline := time.Now().Add(cfg.ConnectTimeout)
	var next, connected atomic.Int64
	var mu sync.Mutex
	var firstErr error
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return firstErr != nil }
	var wg sync.WaitGroup
	for range cfg.DialConcurrency {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < cfg.N && !failed(); i = int(next.Add(1) - 1) {
				c, err := dialClient(t, cfg, testenv.Protocols[i%2])
				if err == nil && time.Now().After(deadline) {
					err = fmt.Errorf("not all connected within %v", cfg.ConnectTimeout)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("client %d (%s): %w", i, testenv.Protocols[i%2], err)
					}
					mu.Unlock()
					return
				}
				conns[i] = c
				connected.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("%d of %d clients connected and subscribed: %w", connected.Load(), cfg.N, firstErr)
	}
	return conns, nil
}

// dialClient opens one websocket with protocol, authenticates and subscribes.
func dialClient(t *testing.T, cfg clientsConfig, protocol string) (*testenv.WS, error) {
	c, res, err := testenv.DialWS(t, cfg.URL, protocol, nil)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("dial: %w (%s)", err, res.Status)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	if err := c.TrySend("connection_init", "", testenv.InitPayload(cfg.Token)); err != nil {
		return nil, fmt.Errorf("connection_init: %w", err)
	}
	if err := c.WaitAck(); err != nil {
		return nil, err
	}
	if err := c.TrySubscribe("s", cfg.Query, nil); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return c, nil
}

// collectEvent waits up to cfg.EventTimeout for every client's next message, which must be
// an UPDATED event of cfg.ContactID, and returns when each client read it. The times are
// those the clients' reader goroutines took as the messages came in, whatever the order they
// are collected in here.
func collectEvent(conns []*testenv.WS, cfg clientsConfig, event int) ([]int64, error) {
	deadline := time.Now().Add(cfg.EventTimeout)
	received := make([]int64, len(conns))
	for i, c := range conns {
		m, err := c.Message("s", max(time.Until(deadline), 0))
		if err == nil {
			err = checkContactEvent(m, cfg.ContactID)
		}
		if err != nil {
			return nil, fmt.Errorf("event %d, client %d (%s; the %d before it had it): %w", event, i, c.Protocol, i, err)
		}
		received[i] = m.Received.UnixNano()
	}
	return received, nil
}

// checkContactEvent fails unless m is a result without errors: an UPDATED event of contact.
func checkContactEvent(m testenv.WSMessage, contact string) error {
	if !m.IsData() {
		return fmt.Errorf("got %s %s, want a result", m.Type, m.Payload)
	}
	var r struct {
		Errors []json.RawMessage
		Data   struct {
			ContactEvents struct{ Type, ContactID string }
		}
	}
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		return fmt.Errorf("result %s: %w", m.Payload, err)
	}
	if e := r.Data.ContactEvents; len(r.Errors) > 0 || e.Type != "UPDATED" || e.ContactID != contact {
		return fmt.Errorf("got %s, want an UPDATED event of %s", m.Payload, contact)
	}
	return nil
}

// clientsProcess is the parent's handle on the child process.
type clientsProcess struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	reports chan clientsReport // closed when the child's stdout ends
	log     *tailBuffer        // the child's stderr and other stdout lines
	exited  chan struct{}      // closed once cmd.Wait returned
	waitErr error
}

// startClients starts the child process with cfg and waits for its start report; the child
// is stopped when tb ends.
func startClients(tb testing.TB, cfg clientsConfig) *clientsProcess {
	tb.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	p := &clientsProcess{reports: make(chan clientsReport, 4), log: &tailBuffer{max: 64 << 10}, exited: make(chan struct{})}
	p.cmd = exec.Command(exe, "-test.run=^TestDeliveryClientsProcess$", "-test.count=1", "-test.timeout=30m")
	p.cmd.Env = append(os.Environ(), clientsEnv+"="+string(raw))
	p.cmd.Stderr = p.log
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start the clients' process: %v", err)
	}
	go p.readReports(stdout)
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	tb.Cleanup(func() { p.stop(tb) })
	r := p.await(tb, 30*time.Second, "start")
	tb.Logf("clients' process %d: open files limit %d", p.cmd.Process.Pid, r.OpenFiles)
	return p
}

func (p *clientsProcess) readReports(stdout io.Reader) {
	defer close(p.reports)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20) // a "next" report holds a number per client
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte(reportPrefix))
		if !ok {
			fmt.Fprintf(p.log, "%s\n", sc.Bytes())
			continue
		}
		var r clientsReport
		if err := json.Unmarshal(line, &r); err != nil {
			r.Error = fmt.Sprintf("undecodable report %.200q: %v", line, err)
		}
		p.reports <- r
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(p.log, "reading the reports: %v\n", err)
	}
}

// command sends one command and waits up to timeout for its answer, failing tb if there is
// none or it is an error.
func (p *clientsProcess) command(tb testing.TB, cmd string, timeout time.Duration) clientsReport {
	tb.Helper()
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		tb.Fatalf("clients' process: %s: %v\n%s", cmd, err, p.log)
	}
	return p.await(tb, timeout, cmd)
}

func (p *clientsProcess) await(tb testing.TB, timeout time.Duration, what string) clientsReport {
	tb.Helper()
	select {
	case r, ok := <-p.reports:
		switch {
		case !ok:
			<-p.exited
			tb.Fatalf("clients' process: %s: ended without an answer (%v)\n%s", what, p.waitErr, p.log)
		case r.Error != "":
			tb.Fatalf("clients' process: %s: %s", what, r.Error)
		}
		return r
	case <-time.After(timeout):
		tb.Fatalf("clients' process: %s: no answer within %v\n%s", what, timeout, p.log)
	}
	panic("unreachable")
}

// stop ends the child's input, which closes its websockets and ends it, and kills it if it
// has not ended within a minute.
func (p *clientsProcess) stop(tb testing.TB) {
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
		tb.Errorf("clients' process %d: killed, still running a minute after its input ended\n%s", p.cmd.Process.Pid, p.log)
		return
	}
	var exit *exec.ExitError
	if errors.As(p.waitErr, &exit) && !tb.Failed() {
		tb.Errorf("clients' process: %v\n%s", p.waitErr, p.log)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailBuffer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(b), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
