//go:build !unix

package discovery

import "syscall"

// shareAddr does nothing here: on these systems the first udpchat process
// on a host binds the beacon port, and the others run without discovery
// (Start fails with the port in use).
func shareAddr(_, _ string, _ syscall.RawConn) error { return nil }
