//go:build !unix

package testenv

import "syscall"

// setTinyReadBuffer leaves the receive buffer as it is where it cannot be set portably.
func setTinyReadBuffer(_, _ string, _ syscall.RawConn) error { return nil }
