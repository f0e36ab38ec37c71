package tui

import (
	"net/netip"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// Held by the relay sits between sent and delivered: a message that one
// peer has and the relay holds for another is ✓·, and stays so until
// both have it.
func TestGlyphHeldByTheRelay(t *testing.T) {
	st := newStyles(true, true)
	alice, bob := netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2")
	e := &entry{kind: entryOwn, id: [16]byte{1}, peers: map[netip.AddrPort]delivery{}}
	steps := []struct {
		peer netip.AddrPort
		d    delivery
		want string
	}{
		{alice, sent, "✓ "},
		{bob, held, "✓ "}, // alice still waits on the link
		{alice, delivered, "✓·"},
		{bob, sent, "✓·"}, // never back: a resend does not undo held
		{bob, delivered, "✓✓"},
	}
	for _, s := range steps {
		e.update(s.peer, s.d)
		if got := ansi.Strip(e.glyph(st)); got != s.want {
			t.Errorf("after %v %d: glyph %q, want %q", s.peer, s.d, got, s.want)
		}
		if got, want := e.waiting(), s.want != "✓✓"; got != want {
			t.Errorf("after %v %d: waiting %v, want %v", s.peer, s.d, got, want)
		}
	}
}
