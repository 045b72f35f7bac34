//go:build unix

package testenv

import (
	"fmt"
	"syscall"
)

// RaiseOpenFiles raises this process's soft limit on open files (RLIMIT_NOFILE) to its hard
// limit and returns the limit now in force. Go raises it at start already, but gives a child
// started with os/exec the original soft limit back unless the program sets it itself: a test
// that holds thousands of sockets, or starts a process that does, says so by calling this.
func RaiseOpenFiles() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("open files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raise the open files limit to %d: %w", lim.Max, err)
		}
	}
	return uint64(lim.Cur), nil
}
