package udp

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/udpchat/udpchat/internal/testenv"
)

// TestReplyFromContactedAddressNamespace is TestReplyFromContactedAddress
// for IPv6 as well as IPv4, which needs a second IPv6 address: a network
// namespace of its own whose loopback has two of each family. It needs root
// and ip; it skips without them, unless UDPCHAT_REQUIRE_ALL=1.
func TestReplyFromContactedAddressNamespace(t *testing.T) {
	ns := newAddrNamespace(t, "10.199.75.1", "10.199.75.2", "fd00:75::1", "fd00:75::2")
	for _, c := range []struct {
		listen, client, second string
	}{
		{":0", "10.199.75.1:0", "10.199.75.2"}, // dual-stack, IPv4 mapped
		{":0", "[fd00:75::1]:0", "fd00:75::2"},
		{"0.0.0.0:0", "10.199.75.1:0", "10.199.75.2"},
		{"[::]:0", "[fd00:75::1]:0", "fd00:75::2"},
	} {
		for _, p := range ioPaths {
			t.Run(c.listen+"/"+c.second+"/"+p.name, func(t *testing.T) {
				var server, client *Socket
				ns.Do(t, func() {
					server, client = listen(t, c.listen), listen(t, c.client)
				})
				checkReplySource(t, p, server, client, netip.MustParseAddr(c.second))
			})
		}
	}
}

// newAddrNamespace makes a namespace whose loopback is up with addrs (each a
// host address), and deletes it when t ends.
func newAddrNamespace(t *testing.T, addrs ...string) *testenv.Namespace {
	t.Helper()
	ns := testenv.NewNamespace(t, "udpc-src")
	for _, a := range addrs {
		bits := "/32"
		if strings.Contains(a, ":") {
			bits = "/128"
		}
		ns.IP(t, "addr", "add", a+bits, "dev", "lo")
	}
	return ns
}

// A run of datagrams larger than the path's MTU, which the kernel will not
// segment (EMSGSIZE) but fragments one at a time, is sent again one a
// header and arrives whole; GSO stays on for the paths that take it. A
// namespace whose loopback MTU is below the datagrams' size is such a path,
// for a socket that lets the system fragment: a Socket sets Don't Fragment
// (see TestSocketDontFragment), which this one clears. Needs root and ip.
func TestSocketBatchGSOOverMTU(t *testing.T) {
	a, b := socketsOverMTU(t, "udpc-gso", 1000)
	if !a.batch.off.gsoOn() {
		t.Skip("no GSO on this system: nothing to refuse")
	}
	var serr error
	if err := a.batch.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	for round := range 2 {
		checkRunDelivered(t, a, b, 1200)
		if !a.batch.off.gsoOn() {
			t.Fatalf("round %d: GSO off after one path's MTU refused it", round)
		}
	}
}

// A Socket sets Don't Fragment, so that path MTU discovery's probes are
// honest: a datagram over the link's MTU is refused (EMSGSIZE), singly or
// in a batch, and never arrives in fragments; one that fits goes. Needs
// root and ip.
func TestSocketDontFragment(t *testing.T) {
	a, b := socketsOverMTU(t, "udpc-df", 1400)
	const fits = 1400 - 20 - 8 // IPv4 and UDP headers
	if _, err := a.WriteTo(make([]byte, fits+1), b.LocalAddr()); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("WriteTo %d bytes over an MTU of 1400: %v, want EMSGSIZE", fits+1, err)
	}
	if sent, err := a.WriteBatch([]Message{{Buf: make([]byte, fits+1), Addr: b.LocalAddr()}}); sent != 0 || !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("WriteBatch of %d bytes over an MTU of 1400: %d sent, %v; want EMSGSIZE", fits+1, sent, err)
	}
	if _, err := a.WriteTo(make([]byte, fits), b.LocalAddr()); err != nil {
		t.Fatalf("WriteTo %d bytes: %v", fits, err)
	}
	if n, _ := readWithin(t, b, make([]byte, 2000)); n != fits {
		t.Errorf("read %d bytes, want the %d that fit (nothing of the larger ones)", n, fits)
	}
}

// socketsOverMTU is two sockets on 127.0.0.1 in a namespace of their own
// (named after prefix) whose loopback has the given MTU.
func socketsOverMTU(t *testing.T, prefix string, mtu int) (a, b *Socket) {
	t.Helper()
	ns := testenv.NewNamespace(t, prefix)
	ns.IP(t, "link", "set", "lo", "mtu", strconv.Itoa(mtu))
	ns.Do(t, func() {
		a, b = listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	})
	return a, b
}
