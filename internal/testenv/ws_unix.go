//go:build unix

package testenv

import "syscall"

// setTinyReadBuffer sets a socket's receive buffer to the kernel's minimum (a net.Dialer
// Control function).
func setTinyReadBuffer(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
	}); cerr != nil {
		return cerr
	}
	return err
}
