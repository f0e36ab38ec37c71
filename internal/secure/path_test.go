package secure_test

import (
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// TestProbeMovesThePath: B has given up its path to A for another (a
// relay's, say: SetEndpoint). A's probe, an empty packet sealed in their
// session and sent straight to B, moves B back to A's address without B's
// reader seeing anything; a packet Intercept claims never reaches the
// reader either.
func TestProbeMovesThePath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		a := securetest.NewConn(t, secure.NewConn, securetest.Listen(t, n, addrA), secure.Config{Static: securetest.MustKey(t)})
		b := securetest.NewConn(t, secure.NewConn, securetest.Listen(t, n, addrB), secure.Config{
			Static:    securetest.MustKey(t),
			Intercept: func(pkt []byte, _ netip.AddrPort) bool { return string(pkt) == "for the relay client" },
		})
		ra, rb := securetest.StartReader(a), securetest.StartReader(b)
		defer securetest.CloseAll(t, []udp.Conn{a, b}, ra, rb)
		if err := a.Probe(addrB, addrB); err == nil {
			t.Fatal("a probe with no session was sent")
		}
		a.WriteTo([]byte("hello"), addrB)
		if p := rb.Next(t); string(p.Data) != "hello" {
			t.Fatalf("B read %q", p.Data)
		}
		b.SetEndpoint(addrA, addrC) // A's direct path given up
		if e, _ := b.Endpoint(addrA); e != addrC {
			t.Fatalf("B's endpoint for A is %v after SetEndpoint, want %v", e, addrC)
		}
		if err := a.Probe(addrB, addrB); err != nil {
			t.Fatal(err)
		}
		a.WriteTo([]byte("for the relay client"), addrB)
		synctest.Wait()
		if e, _ := b.Endpoint(addrA); e != addrA {
			t.Fatalf("B's endpoint for A is %v after A's probe, want %v", e, addrA)
		}
		rb.None(t)
		b.WriteTo([]byte("reply"), addrA)
		if p := ra.Next(t); string(p.Data) != "reply" {
			t.Fatalf("A read %q", p.Data)
		}
		if s := b.Silent(addrA); s != 0 {
			t.Fatalf("B silent towards A for %v, though A answers", s)
		}
	})
}
