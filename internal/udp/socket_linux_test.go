package udp

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Linux takes datagrams up to the IPv4 maximum (macOS, for one, caps them
// far lower by default), so the size limit memnet copies can be checked here.
func TestSocketLargestDatagram(t *testing.T) {
	a := listen(t, "127.0.0.1:0")
	b := listen(t, "127.0.0.1:0")
	msg := bytes.Repeat([]byte{0xa5}, maxDatagram)
	if _, err := a.WriteTo(msg, b.LocalAddr()); err != nil {
		t.Fatalf("WriteTo %d bytes: %v", len(msg), err)
	}
	buf := make([]byte, maxDatagram+1)
	if n, _ := readWithin(t, b, buf); n != len(msg) {
		t.Errorf("read %d bytes, want %d", n, len(msg))
	}
	// One byte more does not fit in an IPv4 datagram; the memnet fake says
	// the same (see TestMemNetTooBig).
	if _, err := a.WriteTo(append(msg, 0), b.LocalAddr()); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("WriteTo %d bytes: err = %v, want EMSGSIZE", len(msg)+1, err)
	}
}

// The buffers are best effort, but on Linux we can see what we got: at least
// what the sysctl cap allows (the kernel reports double what it was asked,
// for its bookkeeping).
func TestSocketBuffers(t *testing.T) {
	s := listen(t, "127.0.0.1:0")
	rc, err := s.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		name, sysctl string
		opt          int
	}{
		{"SO_RCVBUF", "/proc/sys/net/core/rmem_max", syscall.SO_RCVBUF},
		{"SO_SNDBUF", "/proc/sys/net/core/wmem_max", syscall.SO_SNDBUF},
	} {
		var got int
		var gerr error
		if err := rc.Control(func(fd uintptr) {
			got, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, o.opt)
		}); err != nil || gerr != nil {
			t.Fatal(err, gerr)
		}
		raw, err := os.ReadFile(o.sysctl)
		if err != nil {
			t.Skip(err)
		}
		limit, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if want := min(limit, SocketBufferSize); got < want {
			t.Errorf("%s = %d, want at least %d (asked %d, %s = %d)", o.name, got, want, SocketBufferSize, o.sysctl, limit)
		}
		t.Logf("%s = %d (%s = %d)", o.name, got, o.sysctl, limit)
	}
}
