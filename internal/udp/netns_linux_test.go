package udp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

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
				ns.do(t, func() {
					server, client = listen(t, c.listen), listen(t, c.client)
				})
				checkReplySource(t, p, server, client, netip.MustParseAddr(c.second))
			})
		}
	}
}

// addrNamespace is a network namespace made for one test.
type addrNamespace struct{ name string }

// newAddrNamespace makes a namespace whose loopback is up with addrs (each a
// host address), and deletes it when t ends.
func newAddrNamespace(t *testing.T, addrs ...string) *addrNamespace {
	t.Helper()
	testenv.SkipInShort(t, "network namespace")
	testenv.RequireRoot(t, "a network namespace", "ip")
	ns := &addrNamespace{name: fmt.Sprintf("udpc-src-%d", os.Getpid())}
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns.name)
	t.Cleanup(func() { run("netns", "del", ns.name) })
	run("-n", ns.name, "link", "set", "lo", "up")
	for _, a := range addrs {
		bits := "/32"
		if strings.Contains(a, ":") {
			bits = "/128"
		}
		run("-n", ns.name, "addr", "add", a+bits, "dev", "lo")
	}
	return ns
}

// do runs fn in the namespace: the sockets it opens stay in it, wherever
// they are used from later. It enters on a thread of its own, which is
// thrown away if it cannot come back.
func (ns *addrNamespace) do(t *testing.T, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer home.Close()
		target, err := os.Open("/run/netns/" + ns.name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter %s: %w", ns.name, err)
			return
		}
		fn()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("leave %s: %w", ns.name, err) // the thread ends locked: discarded
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
