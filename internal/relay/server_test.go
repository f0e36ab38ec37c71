package relay

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/udpchat/udpchat/internal/wire"
)

func TestRegisterTellsObservedAddressRefreshesAndExpires(t *testing.T) {
	clock := newFakeClock()
	r := startRelay(t, Config{Now: clock.Now, Refresh: 25 * time.Second})
	alice := startClient(t, r, newKey(t))
	obs, ok := alice.Observed()
	if want := alice.cfg.Conn.LocalAddr(); !ok || obs != want {
		t.Fatalf("observed %v, %v; want the client's socket %v", obs, ok, want)
	}
	if got := alice.Refresh(); got != 25*time.Second {
		t.Errorf("refresh %v, want the relay's 25s", got)
	}
	bob := startClient(t, r, newKey(t))
	if st := r.Stats(); st.Clients != 2 {
		t.Fatalf("%d clients registered, want 2", st.Clients)
	}

	// A refresh keeps alice past the first TTL; without one she expires.
	clock.Advance(70 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := bob.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := bob.Lookup(ctx, alice.public()); err != nil || len(got) == 0 {
		t.Fatalf("before her TTL alice has candidates %v, %v", got, err)
	}
	clock.Advance(10 * time.Second) // alice last registered 80 s ago, over 3×25 s
	if got, err := bob.Lookup(ctx, alice.public()); err != nil || len(got) != 0 {
		t.Fatalf("after her TTL alice has candidates %v, %v; want none", got, err)
	}
	if st := r.Stats(); st.Clients != 1 {
		t.Errorf("%d clients registered after alice expired, want 1", st.Clients)
	}
	if _, err := alice.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := bob.Lookup(ctx, alice.public()); err != nil || len(got) == 0 {
		t.Fatalf("alice registered again has candidates %v, %v", got, err)
	}
}

func TestForwardByKeyCarriesOnlyCiphertext(t *testing.T) {
	r := startRelay(t, Config{})
	alice, bob := startClient(t, r, newKey(t)), startClient(t, r, newKey(t))
	secret := []byte("the eagle lands at midnight; bring the blue folder")
	sealed, err := SealMail(alice.key, bob.public(), secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Forward(bob.public(), sealed); err != nil {
		t.Fatal(err)
	}
	d := receive(t, bob.delivered, "delivery")
	if d.from != alice.public() {
		t.Errorf("delivered from %s, want alice %s", d.from.Fingerprint(), alice.public().Fingerprint())
	}
	if !bytes.Equal(d.data, sealed) {
		t.Fatalf("delivered %x, want alice's datagram %x", d.data, sealed)
	}
	if from, got, err := OpenMail(bob.key, d.data); err != nil || !bytes.Equal(got, secret) || from != alice.public() {
		t.Fatalf("bob opens %q from %s, %v", got, from.Fingerprint(), err)
	}
	// What the relay handled (the datagram) and what its socket read.
	if bytes.Contains(d.data, secret) || r.tap.contains(secret) {
		t.Error("the plaintext passed through the relay")
	}
	if r.tap.contains(sealed) {
		t.Error("the relay's socket read the inner datagram unsealed by the client's session")
	}
	eventually(t, "relayed counted", func() bool {
		st := r.Stats()
		return st.Relayed == 1 && st.RelayedBytes > uint64(len(sealed))
	})

	// A forward to a key not registered goes nowhere, counted.
	if err := alice.Forward(newKey(t).Public(), sealed); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no destination counted", func() bool { return r.Stats().Drops[DropNoDestination] == 1 })
}

func TestLookupGivesCandidatesAndCallsBack(t *testing.T) {
	r := startRelay(t, Config{})
	local := netip.MustParseAddrPort("192.168.7.9:7475")
	alice := startClient(t, r, newKey(t))
	bob := startClient(t, r, newKey(t), func(c *ClientConfig) { c.Locals = []netip.AddrPort{local} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := alice.Lookup(ctx, bob.public())
	bobObs, _ := bob.Observed()
	if err != nil || !slices.Equal(got, []netip.AddrPort{bobObs, local}) {
		t.Fatalf("bob's candidates %v, %v; want %v", got, err, []netip.AddrPort{bobObs, local})
	}
	call := receive(t, bob.calls, "call me maybe")
	aliceObs, _ := alice.Observed()
	if call.from != alice.public() || !slices.Equal(call.addrs, []netip.AddrPort{aliceObs}) {
		t.Fatalf("bob was called by %s at %v; want alice at %v", call.from.Fingerprint(), call.addrs, aliceObs)
	}
	if got, err := alice.Lookup(ctx, newKey(t).Public()); err != nil || len(got) != 0 {
		t.Fatalf("a key not registered has candidates %v, %v", got, err)
	}
	if err := alice.ReportPunch(bob.public(), true); err != nil {
		t.Fatal(err)
	}
	if err := bob.ReportPunch(alice.public(), false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "punches counted", func() bool {
		st := r.Stats()
		return st.Lookups == 2 && st.PunchDirect == 1 && st.PunchFailed == 1
	})
}

func TestRateLimitDropsCounted(t *testing.T) {
	// Tokens come back only when the test moves the clock.
	clock := newFakeClock()
	r := startRelay(t, Config{Now: clock.Now, Rate: 1, Burst: 3})
	// Quiet clients without mail: nothing but what the test sends spends
	// a token (no refresh, no fetch).
	noMail := func(c *ClientConfig) { c.OnMail = nil }
	alice, bob := startQuietClient(t, r, newKey(t), noMail), startQuietClient(t, r, newKey(t), noMail)
	// A registration resent while its answer was on its way spent a token
	// too. Each client's packets are handled in order: once a malformed one
	// from each is counted, their registrations are all handled; then
	// alice's bucket fills again to its burst.
	for _, c := range []*testClient{alice, bob} {
		if _, err := c.cfg.Conn.WriteTo([]byte{1}, r.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the registrations handled", func() bool { return r.Stats().Drops[DropMalformed] == 2 })
	before := r.Stats().Drops[DropRateLimited]
	clock.Advance(3 * time.Second)

	for i := range 10 {
		if err := alice.Forward(bob.public(), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "all ten forwards handled", func() bool {
		st := r.Stats()
		return st.Relayed+st.Drops[DropRateLimited]-before >= 10
	})
	if st := r.Stats(); st.Relayed != 3 || st.Drops[DropRateLimited]-before != 7 {
		t.Errorf("%d forwards relayed, %d dropped for the rate; want the burst, 3, relayed and 7 dropped",
			st.Relayed, st.Drops[DropRateLimited]-before)
	}
	for want := range byte(3) {
		if d := receive(t, bob.delivered, "a forward within the burst"); d.data[0] != want {
			t.Errorf("bob got forward %d, want %d: the first ones go", d.data[0], want)
		}
	}
}

func TestSlowClientQueueDropsOldest(t *testing.T) {
	r := startRelay(t, Config{QueueLen: 4})
	alice, bob := startClient(t, r, newKey(t)), startClient(t, r, newKey(t))
	r.writeGate.Lock() // the network takes nothing for now
	const n = 40
	for i := range n {
		if err := alice.Forward(bob.public(), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Alice's packets are handled in order: once her punch report is
	// counted, so are her forwards.
	if err := alice.ReportPunch(bob.public(), true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice's packets handled", func() bool { return r.Stats().PunchDirect == 1 })
	// Bob's queue may also hold an answer to a registration resent late.
	if st := r.Stats(); st.Queued < 4 || st.Queued > 4+2 || st.Drops[DropQueueFull] < n-4 {
		t.Errorf("%d packets queued, %d pushed out; want bob's bound, 4, kept and the rest dropped", st.Queued, st.Drops[DropQueueFull])
	}
	r.writeGate.Unlock()
	var got []byte
	for len(got) == 0 || got[len(got)-1] != n-1 {
		got = append(got, receive(t, bob.delivered, "a queued forward").data[0])
	}
	for i, v := range got {
		if int(v) != n-len(got)+i || len(got) > 4 {
			t.Fatalf("bob got forwards %v; want the newest (up to 4) in order: the oldest go", got)
		}
	}
}

func TestMalformedAndUnregisteredCountedNeverFatal(t *testing.T) {
	r := startRelay(t, Config{})
	alice := startClient(t, r, newKey(t))
	conn := alice.cfg.Conn
	// (An empty packet is no junk: it is the secure layer's keepalive, and
	// never reaches the relay.)
	for _, junk := range [][]byte{
		{1},
		{2, 0x30, 0},                     // version
		{1, 0x01, 0, 0},                  // a transport packet
		{1, 0x36, 1},                     // truncated deliver
		append([]byte{1, 0x31}, 4, 1, 2), // registered, truncated
	} {
		if _, err := conn.WriteTo(junk, r.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	// Deliver is the relay's to send, not to receive.
	b, _ := wire.AppendRelay(nil, wire.RelayMessage{Type: wire.TypeRelayDeliver, Key: alice.public(), Payload: []byte{1}})
	if _, err := conn.WriteTo(b, r.Addr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "junk counted", func() bool { return r.Stats().Dropped() == 6 })
	st := r.Stats()
	if st.Drops[DropMalformed] != 3 || st.Drops[DropVersion] != 1 || st.Drops[DropType] != 2 {
		t.Errorf("drops %v, want 3 malformed (truncated), 1 version, 2 type", st.Drops)
	}
	// Still serving.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := alice.Register(ctx); err != nil {
		t.Fatal(err)
	}

	// A key that has not registered is answered nothing.
	stranger := dialRelay(t, r, newKey(t), netip.MustParseAddr("127.0.0.1"))
	t.Cleanup(func() { stranger.Close() })
	go func() { // completes the handshake, and would read an answer
		buf := make([]byte, wire.MaxDatagram)
		for {
			if _, _, err := stranger.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	if _, err := stranger.WriteTo([]byte{1, byte(wire.TypeRelayMailFetch)}, r.Addr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the unregistered request counted", func() bool { return r.Stats().Drops[DropUnregistered] == 1 })
}

func TestMetricsExported(t *testing.T) {
	r := startRelay(t, Config{})
	startClient(t, r, newKey(t))
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r.Collector()); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP udpchat_relay_clients Clients registered now.
# TYPE udpchat_relay_clients gauge
udpchat_relay_clients 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "udpchat_relay_clients"); err != nil {
		t.Error(err)
	}
	n, err := testutil.GatherAndCount(reg, "udpchat_relay_drops_total")
	if err != nil || n != int(numDropReasons) {
		t.Errorf("%d drop series, %v; want one per reason, %d", n, err, numDropReasons)
	}
}
