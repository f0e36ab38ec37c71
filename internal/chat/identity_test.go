package chat

import (
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// fakeIdentities refuses the names in refused, and knows one fingerprint
// for bob.
type fakeIdentities struct {
	mu      sync.Mutex
	refused map[string]bool
}

var errImpostor = errors.New("WARNING: bob presented a different identity key than before")

func (f *fakeIdentities) Fingerprint(peer netip.AddrPort) string {
	if peer == bob {
		return "BLAKE2s:TEST"
	}
	return ""
}

func (f *fakeIdentities) CheckName(peer netip.AddrPort, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused[name] {
		return errImpostor
	}
	return nil
}

func (f *fakeIdentities) allow(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.refused, name)
}

// A message under a name the sender's key may not use is not shown and not
// accepted, the user is warned once however often it comes, and once the
// user accepts the key, the next resend goes through.
func TestImpostorIsRefusedUntilAccepted(t *testing.T) {
	ids := &fakeIdentities{refused: map[string]bool{"bob": true}}
	n, _ := newFakeNode(t, Config{Name: "alice", Identities: ids})
	n.PeerUp(bob)
	msg := chatPayload(t, wire.ChatText, "bob", "send me the keys")
	for range 3 {
		if err := n.Receive(bob, msg); !errors.Is(err, errImpostor) {
			t.Fatalf("Receive of an impostor's message: %v, want the refusal (so it is not acknowledged)", err)
		}
	}
	wantEvents(t, n, Error{Err: errImpostor})
	if got := n.Stats().Refused; got != 3 {
		t.Errorf("Refused = %d, want 3", got)
	}
	ids.allow("bob")
	if err := n.Receive(bob, msg); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Joined{Peer: bob, Name: "bob"}, Message{From: bob, Name: "bob", Text: "send me the keys"})
}

func TestPeersCarryFingerprints(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice", Identities: &fakeIdentities{}})
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", ""))
	ps := n.Peers()
	if len(ps) != 1 || ps[0].Fingerprint != "BLAKE2s:TEST" {
		t.Fatalf("Peers() = %+v, want bob with his fingerprint", ps)
	}
}
