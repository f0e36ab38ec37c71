package relay

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// TestFloodLeavesTheRelayServing floods the relay with junk at its socket
// and with forwards from a registered client, far over its rate, and then
// checks that a newcomer registers and is relayed to as if nothing
// happened. Bounded in count and time.
func TestFloodLeavesTheRelayServing(t *testing.T) {
	r := startRelay(t, Config{Rate: 100, Burst: 100})
	flooder, bob := startClient(t, r, newKey(t)), startClient(t, r, newKey(t))

	junk, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(r.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	const n = 20000
	deadline := time.Now().Add(5 * time.Second)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, wire.MaxDatagram)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		b := buf[:rng.IntN(len(buf))]
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if len(b) > 1 && i%2 == 0 { // half look like secure data datagrams
			b[0], b[1] = wire.Version, wire.TypeData
		}
		junk.Write(b)
		flooder.Forward(bob.public(), b[:max(1, min(len(b), wire.MaxRelayedDatagram))])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	carol := startClient(t, r, newKey(t))
	if got, err := carol.Lookup(ctx, bob.public()); err != nil || len(got) == 0 {
		t.Fatalf("after the flood carol finds bob at %v, %v", got, err)
	}
	if err := carol.Forward(bob.public(), []byte("after the flood")); err != nil {
		t.Fatal(err)
	}
	for {
		d := receive(t, bob.delivered, "carol's forward")
		if d.from == carol.public() {
			break
		}
	}
	st, sec := r.Stats(), r.conn.Stats()
	if st.Drops[DropRateLimited] == 0 || sec.Dropped() == 0 {
		t.Errorf("the flood was not counted: rate limited %d, junk at the Noise layer %d", st.Drops[DropRateLimited], sec.Dropped())
	}
	t.Logf("relayed %d, rate limited %d, queue full %d, junk dropped by the Noise layer %d",
		st.Relayed, st.Drops[DropRateLimited], st.Drops[DropQueueFull], sec.Dropped())
}

// FuzzServerHandle feeds the server's message handling whatever a client
// with a session might send: it must count and drop, never crash or grow
// past its bounds.
func FuzzServerHandle(f *testing.F) {
	k := [32]byte{1}
	for _, m := range []wire.RelayMessage{
		{Type: wire.TypeRelayRegister},
		{Type: wire.TypeRelayLookup, Key: k},
		{Type: wire.TypeRelayForward, Key: k, Payload: []byte{1}},
		{Type: wire.TypeRelayMailPut, Key: k, Payload: []byte{1}},
		{Type: wire.TypeRelayMailFetch},
		{Type: wire.TypeRelayMailAck, ID: 1},
		{Type: wire.TypeRelayPunchResult, Key: k, Status: 1},
		{Type: wire.TypeRelayDeliver, Key: k, Payload: []byte{1}},
	} {
		b, err := wire.AppendRelay(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	sock, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	s, err := NewServer(sock, Config{Static: newKey(f), MaxClients: 4, QueueLen: 4})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.conn.Close() })
	a, b := keys.PublicKey{1}, keys.PublicKey{2}
	addrA, addrB := netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("192.0.2.2:2")
	register, _ := wire.AppendRelay(nil, wire.RelayMessage{Type: wire.TypeRelayRegister})
	f.Fuzz(func(t *testing.T, msg []byte) {
		now := time.Now()
		s.handleFrom(a, addrA, register, now)
		s.handleFrom(b, addrB, register, now)
		s.handleFrom(a, addrA, msg, now)
		st := s.Stats()
		if st.Clients > 4 || st.Queued > 2*4 {
			t.Fatalf("over the bounds: %d clients, %d queued", st.Clients, st.Queued)
		}
	})
}
