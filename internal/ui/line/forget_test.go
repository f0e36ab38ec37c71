package line

import (
	"net/netip"
	"testing"
)

// /forget in line mode drops the peer at once: what waited for it is
// cancelled, and the end of input no longer waits on it.
func TestForgetDropsAPeer(t *testing.T) {
	node, _ := fakeNode(t, "alice", "10.0.0.1:7475")
	node.Connect(netip.MustParseAddrPort("10.0.0.2:7475")) // nobody there
	s := run(t, node, Options{})
	s.send(t, "into the void", "/forget 10.0.0.2:7475")
	s.stderr.waitFor(t, "* forgot 10.0.0.2:7475: 1 message to it cancelled")
	s.send(t, "/forget 10.0.0.2:7475")
	s.stderr.waitFor(t, "udpchat: forget 10.0.0.2:7475: not a peer in the conversation")
	if code := s.eof(t); code != 0 {
		t.Errorf("exit %d, want 0: nothing waits any more; stderr %q", code, s.stderr.snapshot())
	}
}
