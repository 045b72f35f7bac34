//go:build !unix

package testenv

import (
	"errors"
	"fmt"
)

// RaiseOpenFiles fails where there is no RLIMIT_NOFILE to raise.
func RaiseOpenFiles() (uint64, error) {
	return 0, fmt.Errorf("open files limit: %w", errors.ErrUnsupported)
}
