package relay

import (
	"bytes"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

func TestPeerMessageRoundTripAndRefusals(t *testing.T) {
	to := newKey(t).Public()
	m := wire.RelayMessage{Type: wire.TypeRelayDeliver, Key: newKey(t).Public(), Payload: []byte("sealed")}
	b, err := AppendPeerMessage(nil, to, m)
	if err != nil {
		t.Fatal(err)
	}
	gotTo, got, err := ParsePeerMessage(b)
	if err != nil || gotTo != to || got.Type != m.Type || got.Key != m.Key || !bytes.Equal(got.Payload, m.Payload) {
		t.Fatalf("parsed %x %+v, %v; want %x %+v", gotTo, got, err, to, m)
	}
	// Only what a relay sends a client because of another client goes
	// between relays.
	fwd := wire.RelayMessage{Type: wire.TypeRelayForward, Key: m.Key, Payload: m.Payload}
	if _, err := AppendPeerMessage(nil, to, fwd); err == nil {
		t.Error("a forward encoded as a peer message")
	}
	rawFwd, _ := wire.AppendRelay(bytes.Clone(to[:]), fwd)
	for name, bad := range map[string][]byte{
		"short":    to[:31],
		"zero key": append(make([]byte, 32), b[32:]...),
		"forward":  rawFwd,
		"too big":  append(bytes.Clone(b), make([]byte, wire.MaxRelayedDatagram)...),
	} {
		if _, _, err := ParsePeerMessage(bad); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestFromClusterQueuesForTheClientAndCountsTheRest(t *testing.T) {
	r := startRelay(t, Config{})
	bob := startClient(t, r, newKey(t))
	alice := newKey(t).Public() // at another relay
	b, err := AppendPeerMessage(nil, bob.public(), wire.RelayMessage{Type: wire.TypeRelayDeliver, Key: alice, Payload: []byte("sealed")})
	if err != nil {
		t.Fatal(err)
	}
	r.FromCluster(b)
	if d := receive(t, bob.delivered, "delivery from another relay"); d.from != alice || string(d.data) != "sealed" {
		t.Fatalf("bob got %q from %s", d.data, d.from.Fingerprint())
	}
	r.FromCluster(b[:40])
	toNobody, _ := AppendPeerMessage(nil, newKey(t).Public(), wire.RelayMessage{Type: wire.TypeRelayDeliver, Key: alice, Payload: []byte("x")})
	r.FromCluster(toNobody)
	st := r.Stats()
	if st.PeerReceived != 1 || st.Drops[DropPeerMalformed] != 1 || st.Drops[DropNoDestination] != 1 {
		t.Errorf("peer received %d, malformed %d, no destination %d; want 1 each",
			st.PeerReceived, st.Drops[DropPeerMalformed], st.Drops[DropNoDestination])
	}
}

// FuzzParsePeerMessage: a peer message comes from anyone who may publish
// to the relay's subject. What parses encodes again to the same bytes.
func FuzzParsePeerMessage(f *testing.F) {
	seed, _ := AppendPeerMessage(nil, [32]byte{1}, wire.RelayMessage{Type: wire.TypeRelayMail, ID: 7, StoredAt: 9, Payload: []byte("blob")})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		to, m, err := ParsePeerMessage(b)
		if err != nil {
			return
		}
		again, err := AppendPeerMessage(nil, to, m)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%x parsed as %+v encodes as %x, %v", b, m, again, err)
		}
	})
}
