package secure_test

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

// side is one end of a test link: its secure conn, the recorder of what it
// sends, and a reader.
type side struct {
	conn *secure.Conn
	rec  *securetest.Recorder
	r    *securetest.Reader
}

func newSide(t *testing.T, n *udptest.MemNetwork, addr netip.AddrPort, cfg secure.Config) *side {
	t.Helper()
	rec := &securetest.Recorder{}
	inner := udptest.Impair(securetest.Listen(t, n, addr), udptest.Impairment{Observe: rec.Observe})
	c := securetest.NewConn(t, secure.NewConn, inner, cfg)
	return &side{conn: c, rec: rec, r: securetest.StartReader(c)}
}

func (s *side) close(t *testing.T) { securetest.CloseAll(t, []udp.Conn{s.conn}, s.r) }

// sendUntil writes data to `to` every 100ms until got reports success or a
// minute passes. Under synctest the waiting is virtual time: it lets the
// lazy handshake timers run, as the transport's steady writes do.
func sendUntil(t *testing.T, s *side, to netip.AddrPort, data string, got func() bool) bool {
	t.Helper()
	for range 600 {
		if _, err := s.conn.WriteTo([]byte(data), to); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		synctest.Wait()
		if got() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// receivedFrom reports whether r has a packet waiting, and takes it.
func receivedFrom(r *securetest.Reader, want string) func() bool {
	return func() bool {
		select {
		case p := <-r.Packets:
			return string(p.Data) == want
		default:
			return false
		}
	}
}

func TestHandshakeXXThenIK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		kA, kB := securetest.MustKey(t), securetest.MustKey(t)
		storeA, storeB := securetest.NewTrustStore(), securetest.NewTrustStore()
		cfg := func(k keys.PrivateKey, s *securetest.TrustStore) secure.Config {
			return secure.Config{Static: k, KnownKey: s.Known, Verify: s.Verify}
		}

		// First contact: no one knows anyone, so XX.
		a := newSide(t, n, addrA, cfg(kA, storeA))
		b := newSide(t, n, addrB, cfg(kB, storeB))
		if _, err := a.conn.WriteTo([]byte("hello"), addrB); err != nil {
			t.Fatal(err)
		}
		if p := b.r.Next(t); string(p.Data) != "hello" || p.From != addrA {
			t.Fatalf("B got %q from %v", p.Data, p.From)
		}
		if _, err := b.conn.WriteTo([]byte("hi"), addrA); err != nil {
			t.Fatal(err)
		}
		if p := a.r.Next(t); string(p.Data) != "hi" || p.From != addrB {
			t.Fatalf("A got %q from %v", p.Data, p.From)
		}
		if k, ok := a.conn.PeerKey(addrB); !ok || !k.Equal(kB.Public()) {
			t.Errorf("A: PeerKey(B) = %v, %v; want %v", k, ok, kB.Public())
		}
		if k, ok := b.conn.PeerKey(addrA); !ok || !k.Equal(kA.Public()) {
			t.Errorf("B: PeerKey(A) = %v, %v; want %v", k, ok, kA.Public())
		}
		if ty := a.rec.Types(); ty[wire.TypeInitXX] != 1 || ty[wire.TypeInitIK] != 0 || ty[wire.TypeFinishXX] != 1 {
			t.Errorf("A sent %v, want one XX initiation and one msg3", ty)
		}
		if ty := b.rec.Types(); ty[wire.TypeRespXX] != 1 || ty[wire.TypeInitXX]+ty[wire.TypeInitIK] != 0 {
			t.Errorf("B sent %v, want one XX response and no initiation", ty)
		}
		for _, s := range []*side{a, b} {
			if st := s.conn.Stats(); st.HandshakesCompleted != 1 || st.Dropped() != 0 {
				t.Errorf("stats %+v, want 1 handshake, no drops", st)
			}
		}
		a.close(t)
		b.close(t)

		// Both restart; now each knows the other's key: IK.
		a = newSide(t, n, addrA, cfg(kA, storeA))
		b = newSide(t, n, addrB, cfg(kB, storeB))
		if _, err := a.conn.WriteTo([]byte("again"), addrB); err != nil {
			t.Fatal(err)
		}
		if p := b.r.Next(t); string(p.Data) != "again" {
			t.Fatalf("B got %q", p.Data)
		}
		if _, err := b.conn.WriteTo([]byte("welcome back"), addrA); err != nil {
			t.Fatal(err)
		}
		if p := a.r.Next(t); string(p.Data) != "welcome back" {
			t.Fatalf("A got %q", p.Data)
		}
		if ty := a.rec.Types(); ty[wire.TypeInitIK] != 1 || ty[wire.TypeInitXX] != 0 || ty[wire.TypeFinishXX] != 0 {
			t.Errorf("A sent %v, want one IK initiation", ty)
		}
		if ty := b.rec.Types(); ty[wire.TypeRespIK] != 1 {
			t.Errorf("B sent %v, want one IK response", ty)
		}
		if k, ok := b.conn.PeerKey(addrA); !ok || !k.Equal(kA.Public()) {
			t.Errorf("B: PeerKey(A) = %v, %v", k, ok)
		}
		if storeA.Refused+storeB.Refused != 0 {
			t.Errorf("refusals: %d, %d", storeA.Refused, storeB.Refused)
		}
		a.close(t)
		b.close(t)
	})
}

// TestVerifyRefuses: whichever side's Verify refuses, and whichever
// handshake, nothing reaches the other side's reader.
func TestVerifyRefuses(t *testing.T) {
	refuse := func(netip.AddrPort, keys.PublicKey) error { return errors.New("not you") }
	for _, tc := range []struct {
		name            string
		refuseA, refuse bool // A refuses B's key; B refuses A's key
		ik              bool // A knows B's key
	}{
		{"XX, responder refuses", false, true, false},
		{"XX, initiator refuses", true, false, false},
		{"IK, responder refuses", false, true, true},
		{"IK, initiator refuses", true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := udptest.NewMemNetwork()
				kA, kB := securetest.MustKey(t), securetest.MustKey(t)
				var refusedBy []string
				var mu sync.Mutex
				ca, cb := secure.Config{Static: kA}, secure.Config{Static: kB}
				ca.PeerRefused = func(peer netip.AddrPort, key keys.PublicKey) {
					mu.Lock()
					refusedBy = append(refusedBy, peer.String()+" "+key.Fingerprint())
					mu.Unlock()
				}
				if tc.refuseA {
					ca.Verify = refuse
				}
				if tc.refuse {
					cb.Verify = refuse
				}
				if tc.ik {
					ca.KnownKey = func(netip.AddrPort) (keys.PublicKey, bool) { return kB.Public(), true }
				}
				a, b := newSide(t, n, addrA, ca), newSide(t, n, addrB, cb)
				if sendUntil(t, a, addrB, "let me in", receivedFrom(b.r, "let me in")) {
					t.Fatal("B's reader got a packet from a refused session")
				}
				refuser := b
				if tc.refuseA {
					refuser = a
				}
				st := refuser.conn.Stats()
				if st.Drops[secure.DropRefused] == 0 {
					t.Errorf("refusing side: %+v, want refusals counted", st)
				}
				if _, ok := refuser.conn.PeerKey(map[bool]netip.AddrPort{true: addrB, false: addrA}[tc.refuseA]); ok {
					t.Error("the refusing side has a session")
				}
				t.Logf("refusals %d, A %+v", st.Drops[secure.DropRefused], a.conn.Stats())
				b.r.None(t)
				// A responder that refuses tells the initiator, in a
				// refusal it alone can open, smaller than what caused it.
				mu.Lock()
				got := refusedBy
				mu.Unlock()
				refusals := b.rec.Types()[wire.TypeRefused]
				switch {
				case tc.refuseA && (len(got) > 0 || refusals > 0):
					t.Errorf("A refused, yet B sent %d refusals and A heard %q", refusals, got)
				case !tc.refuseA && (len(got) == 0 || refusals == 0):
					t.Errorf("B refused; it sent %d refusals, and A heard %q", refusals, got)
				case !tc.refuseA && got[0] != addrB.String()+" "+kB.Public().Fingerprint():
					t.Errorf("A heard %q, want B's address and key", got[0])
				}
				for _, d := range b.rec.All() {
					if d.B[1] == wire.TypeRefused && (len(d.B) != wire.RefusedLen || d.To != addrA) {
						t.Errorf("a refusal of %d bytes to %v", len(d.B), d.To)
					}
				}
				a.close(t)
				b.close(t)
			})
		})
	}
}

// TestFallbackToXX: A expects an old key for B; B has a new one. The IK
// initiations fail (B cannot even check their mac1), A falls back to XX,
// learns B's new key and tells Verify, which decides.
func TestFallbackToXX(t *testing.T) {
	for _, accept := range []bool{true, false} {
		t.Run(map[bool]string{true: "accepted", false: "refused"}[accept], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := udptest.NewMemNetwork()
				kA, kBOld, kB := securetest.MustKey(t), securetest.MustKey(t), securetest.MustKey(t)
				store := securetest.NewTrustStore()
				store.Keys[addrB] = kBOld.Public()
				verify := store.Verify
				if accept {
					verify = func(p netip.AddrPort, k keys.PublicKey) error {
						store.Mu.Lock()
						defer store.Mu.Unlock()
						store.Seen = append(store.Seen, k) // the user accepted the new key
						return nil
					}
				}
				a := newSide(t, n, addrA, secure.Config{Static: kA, KnownKey: store.Known, Verify: verify})
				b := newSide(t, n, addrB, secure.Config{Static: kB})
				ok := sendUntil(t, a, addrB, "ping", receivedFrom(b.r, "ping"))
				if ok != accept {
					t.Fatalf("delivered %v, want %v", ok, accept)
				}
				sa, sb := a.conn.Stats(), b.conn.Stats()
				t.Logf("A %+v\nB %+v", sa, sb)
				if sa.Fallbacks != 1 {
					t.Errorf("A fell back %d times, want 1", sa.Fallbacks)
				}
				if sb.Drops[secure.DropMAC1] < 3 {
					t.Errorf("B dropped %d initiations for mac1, want the IK attempts", sb.Drops[secure.DropMAC1])
				}
				store.Mu.Lock()
				if len(store.Seen) == 0 || !store.Seen[len(store.Seen)-1].Equal(kB.Public()) {
					t.Errorf("Verify saw %v, want B's new key %v", store.Seen, kB.Public())
				}
				store.Mu.Unlock()
				if ty := a.rec.Types(); ty[wire.TypeInitIK] != 3 || ty[wire.TypeInitXX] == 0 {
					t.Errorf("A sent %v, want 3 IK initiations then XX", ty)
				}
				if k, ok := a.conn.PeerKey(addrB); ok != accept || (ok && !k.Equal(kB.Public())) {
					t.Errorf("A: PeerKey(B) = %v, %v", k, ok)
				}
				if !accept && sa.Drops[secure.DropRefused] == 0 {
					t.Error("refusal not counted")
				}
				a.close(t)
				b.close(t)
			})
		})
	}
}

// The layer above may refuse what a peer says on a live session (its name,
// say): Refuse tells the peer, at most once a HandshakeRetry, and only the
// peer can be told: a refusal changed in flight, or replayed, is dropped.
func TestRefuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		kA, kB := securetest.MustKey(t), securetest.MustKey(t)
		heard := make(chan string, 10)
		ca := secure.Config{Static: kA, PeerRefused: func(peer netip.AddrPort, key keys.PublicKey) {
			heard <- peer.String() + " " + key.Fingerprint()
		}}
		a, b := newSide(t, n, addrA, ca), newSide(t, n, addrB, secure.Config{Static: kB})
		if !sendUntil(t, a, addrB, "hello", receivedFrom(b.r, "hello")) {
			t.Fatal("no session")
		}
		b.conn.Refuse(addrA)
		b.conn.Refuse(addrA) // within HandshakeRetry: not sent again
		synctest.Wait()
		if got := len(heard); got != 1 {
			t.Fatalf("A heard %d refusals, want 1", got)
		}
		if got := <-heard; got != addrB.String()+" "+kB.Public().Fingerprint() {
			t.Errorf("A heard %q", got)
		}
		var refusal []byte
		for _, d := range b.rec.All() {
			if d.B[1] == wire.TypeRefused {
				refusal = d.B
			}
		}
		// Replayed, and forged from it: nothing.
		raw := securetest.Listen(t, n, addrC)
		forged := bytes.Clone(refusal)
		forged[len(forged)-1] ^= 1
		for _, d := range [][]byte{refusal, forged} {
			if _, err := raw.WriteTo(d, addrA); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if len(heard) != 0 || a.conn.Stats().RefusedBy != 1 {
			t.Errorf("after a replay and a forgery from another address: %d more heard, RefusedBy %d", len(heard), a.conn.Stats().RefusedBy)
		}
		raw.Close()
		a.close(t)
		b.close(t)
	})
}
