package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// server is one run of `rubrica serve` on a free port, killed when the test ends; its logs
// are shown when the test failed.
type server struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	done chan error // the process's exit; whoever reads it puts a value back
}

func startServer(t *testing.T, bin string, env []string) *server {
	t.Helper()
	port := freePort(t)
	s := &server{base: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &syncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = append(os.Environ(), append(env, fmt.Sprintf("PORT=%d", port))...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		s.done <- nil
		if t.Failed() {
			t.Logf("logs of the server on %s:\n%s", s.base, s.logs.String())
		}
	})
	waitReady(t, s.base+"/readyz", s.done, s.logs)
	return s
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
