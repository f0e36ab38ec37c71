package udp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listen opens a Socket or fails the test, and closes it at the end.
func listen(t testing.TB, addr string) *Socket {
	t.Helper()
	s, err := Listen(addr)
	if err != nil {
		t.Fatalf("Listen(%q): %v", addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// listenIPv6 opens a Socket on the IPv6 loopback, or skips the test on a
// host without one, and closes it at the end.
func listenIPv6(t *testing.T) *Socket {
	t.Helper()
	s, err := Listen("[::1]:0")
	if errors.Is(err, ErrCannotBind) {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readWithin reads one datagram from s, failing the test rather than hanging
// if none comes (loopback does not lose datagrams, but a bug might).
func readWithin(t *testing.T, s *Socket, b []byte) (int, netip.AddrPort) {
	t.Helper()
	if err := s.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, from, err := s.ReadFrom(b)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	return n, from
}

func TestSocketRoundTrip(t *testing.T) {
	a := listen(t, "127.0.0.1:0")
	b := listen(t, "127.0.0.1:0")
	if got := a.LocalAddr(); got.Addr() != netip.MustParseAddr("127.0.0.1") || got.Port() == 0 {
		t.Fatalf("LocalAddr = %v, want 127.0.0.1 and the port the system picked", got)
	}

	msg := []byte("hello over loopback")
	if n, err := a.WriteTo(msg, b.LocalAddr()); err != nil || n != len(msg) {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	buf := make([]byte, 2048)
	n, from := readWithin(t, b, buf)
	if !bytes.Equal(buf[:n], msg) {
		t.Errorf("read %q, want %q", buf[:n], msg)
	}
	if from != a.LocalAddr() {
		t.Errorf("from = %v, want %v", from, a.LocalAddr())
	}

	// And back, to the address ReadFrom reported: what a server does.
	if _, err := b.WriteTo([]byte("hi"), from); err != nil {
		t.Fatal(err)
	}
	n, _ = readWithin(t, a, buf)
	if string(buf[:n]) != "hi" {
		t.Errorf("reply %q, want %q", buf[:n], "hi")
	}
}

// A socket on all interfaces is dual-stack; IPv4 peers must still appear as
// plain IPv4 addresses, or one peer would have two map keys.
func TestSocketAllInterfacesUnmapsIPv4(t *testing.T) {
	all := listen(t, ":0")
	v4 := listen(t, "127.0.0.1:0")
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), all.LocalAddr().Port())
	if _, err := v4.WriteTo([]byte("x"), to); err != nil {
		t.Fatal(err)
	}
	_, from := readWithin(t, all, make([]byte, 16))
	if from != v4.LocalAddr() {
		t.Errorf("from = %v, want %v", from, v4.LocalAddr())
	}
	// The reply goes back to an IPv4 address from a socket that may be IPv6.
	if _, err := all.WriteTo([]byte("y"), from); err != nil {
		t.Fatalf("reply from %v to %v: %v", all.LocalAddr(), from, err)
	}
	if n, _ := readWithin(t, v4, make([]byte, 16)); n != 1 {
		t.Errorf("reply: %d bytes", n)
	}
}

func TestSocketIPv6(t *testing.T) {
	a := listenIPv6(t)
	b := listen(t, "[::1]:0")
	if _, err := a.WriteTo([]byte("six"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	n, from := readWithin(t, b, make([]byte, 16))
	if n != 3 || from != a.LocalAddr() {
		t.Errorf("read %d bytes from %v, want 3 from %v", n, from, a.LocalAddr())
	}
}

func TestSocketCloseUnblocksRead(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.ReadFrom(make([]byte, 16))
		errc <- err
	}()
	// Close may come before or after ReadFrom blocks; both must end it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrom after Close: %v, want net.ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
	if _, err := s.WriteTo([]byte("x"), netip.MustParseAddrPort("127.0.0.1:9")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo after Close: %v, want net.ErrClosed", err)
	}
}

func TestListenBadAddress(t *testing.T) {
	for _, tc := range []struct{ addr, why string }{
		{"nonsense", "not IP:PORT"},
		{"", "not IP:PORT"},
		{"127.0.0.1", "not IP:PORT"},
		{"localhost:80", `host "localhost" is not an IP address`},
		{"example.com:7475", `host "example.com" is not an IP address`},
		{"1.2.3.4:99999", "port 99999 is out of range"},
		{"1.2.3.4:65536", "port 65536 is out of range"},
		{"1.2.3.4:-1", `port "-1" is not a number`},
		{"1.2.3.4:http", `port "http" is not a number`},
		{"1.2.3.4:", "missing port"},
		{"::1:7475", "IPv6 address needs brackets"},
		{"[::1:7475", "not IP:PORT"},
		{"1.2.3:7475", "is not an IP address"},
	} {
		s, err := Listen(tc.addr)
		if err == nil {
			s.Close()
			t.Errorf("Listen(%q) succeeded", tc.addr)
			continue
		}
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("Listen(%q) = %v, want ErrBadAddress", tc.addr, err)
		}
		msg := err.Error()
		if prefix := "listen " + tc.addr + ": bad address: "; !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.why) {
			t.Errorf("Listen(%q) = %q, want %q...%q", tc.addr, msg, prefix, tc.why)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("Listen(%q): message is more than one line: %q", tc.addr, msg)
		}
	}
}

func TestListenAddrInUse(t *testing.T) {
	a := listen(t, "127.0.0.1:0")
	addr := a.LocalAddr().String()
	b, err := Listen(addr)
	if err == nil {
		b.Close()
		t.Fatalf("second Listen(%q) succeeded", addr)
	}
	if !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("err = %v, want ErrAddrInUse", err)
	}
	if runtime.GOOS != "windows" && !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("err = %v: does not also match EADDRINUSE", err)
	}
	want := "listen " + addr + ": address already in use: another program (maybe another udpchat) is bound to it; pick another port with --listen"
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err, want)
	}

	// Taking the port on all interfaces collides too.
	port := strconv.Itoa(int(a.LocalAddr().Port()))
	if c, err := Listen("0.0.0.0:" + port); err == nil {
		c.Close()
		t.Errorf("Listen(0.0.0.0:%s) succeeded beside 127.0.0.1:%s", port, port)
	} else if !errors.Is(err, ErrAddrInUse) {
		t.Errorf("Listen(0.0.0.0:%s) = %v, want ErrAddrInUse", port, err)
	}
}

func TestListenCannotBind(t *testing.T) {
	// 192.0.2.0/24 is TEST-NET-1 (RFC 5737): no machine has it.
	s, err := Listen("192.0.2.1:0")
	if err == nil {
		s.Close()
		t.Skip("this machine has 192.0.2.1")
	}
	if !errors.Is(err, ErrCannotBind) {
		t.Fatalf("err = %v, want ErrCannotBind", err)
	}
	if errors.Is(err, ErrBadAddress) || errors.Is(err, ErrAddrInUse) {
		t.Errorf("err = %v matches another sentinel too", err)
	}
	want := "listen 192.0.2.1:0: cannot bind: 192.0.2.1 is not an address of this machine; use one it has, or 0.0.0.0 for all"
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err, want)
	}
}

func TestListenAllInterfaces(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0"} {
		s := listen(t, addr)
		if !s.LocalAddr().Addr().IsUnspecified() || s.LocalAddr().Port() == 0 {
			t.Errorf("Listen(%q).LocalAddr() = %v", addr, s.LocalAddr())
		}
	}
}

func TestResolvePeer(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"localhost:9", "127.0.0.1:9"},
		{"127.0.0.1:7475", "127.0.0.1:7475"},
		{"[::1]:7475", "[::1]:7475"},
		{"[::ffff:192.0.2.7]:7475", "192.0.2.7:7475"}, // unmapped
		{"192.0.2.7:65535", "192.0.2.7:65535"},
	} {
		got, err := ResolvePeer(t.Context(), tc.addr)
		if err != nil {
			t.Errorf("ResolvePeer(%q): %v", tc.addr, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("ResolvePeer(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestResolvePeerBadAddress(t *testing.T) {
	for _, tc := range []struct{ addr, why string }{
		{"1.2.3.4", "not IP:PORT"},
		{"localhost", "not IP:PORT"},
		{"1.2.3.4:0", "port 0 is not a destination"},
		{"1.2.3.4:99999", "out of range"},
		{"1.2.3.4:ssh", "is not a number"},
		{":7475", "missing host"},
		{"0.0.0.0:7475", "not a peer"},
		{"[::]:7475", "not a peer"},
		{"::1:7475", "brackets"},
	} {
		_, err := ResolvePeer(t.Context(), tc.addr)
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("ResolvePeer(%q) = %v, want ErrBadAddress", tc.addr, err)
			continue
		}
		if prefix := "peer " + tc.addr + ": bad address: "; !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ResolvePeer(%q) = %q, want %q...%q", tc.addr, err, prefix, tc.why)
		}
	}
}

func TestResolvePeerUnresolvable(t *testing.T) {
	// .invalid never resolves (RFC 6761); with no network the lookup fails
	// too, which is the same answer for a user.
	_, err := ResolvePeer(t.Context(), "no-such-host.invalid:9")
	if !errors.Is(err, ErrUnresolvable) {
		t.Fatalf("err = %v, want ErrUnresolvable", err)
	}
	if errors.Is(err, ErrBadAddress) {
		t.Errorf("err = %v also matches ErrBadAddress", err)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		t.Errorf("err = %v does not carry the *net.DNSError", err)
	}
	if prefix := `cannot resolve host "no-such-host.invalid": `; !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("message %q, want prefix %q", err, prefix)
	}
	t.Log(err)
}

func TestResolvePeerCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := ResolvePeer(ctx, "no-such-host.invalid:9")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrUnresolvable) {
		t.Errorf("err = %v: a canceled lookup says nothing about the host", err)
	}
	// IP literals need no lookup, so a dead context does not matter.
	if _, err := ResolvePeer(ctx, "127.0.0.1:9"); err != nil {
		t.Errorf("IP literal with canceled ctx: %v", err)
	}
}
