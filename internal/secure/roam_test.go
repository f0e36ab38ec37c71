package secure_test

import (
	"net/netip"
	"slices"
	"strings"
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

// moves records what a Conn's OnRoam reports, as "peer endpoint".
type moves struct {
	mu  sync.Mutex
	got []string
}

func (m *moves) add(peer, endpoint netip.AddrPort) {
	m.mu.Lock()
	m.got = append(m.got, peer.String()+" "+endpoint.String())
	m.mu.Unlock()
}

func (m *moves) all() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.got)
}

// TestRoam: A's address changes in the middle of a conversation. Its next
// datagram moves B's endpoint for it, with no new handshake, and B goes on
// naming A by its first address. Copies of A's datagrams sent from
// elsewhere — one B has seen, one older than the newest, one forged — move
// nothing; the newest one does (as in WireGuard: only a copy of a datagram
// withheld from B can), and A's next datagram moves it back. A rekey from
// the new address stays with A's peer, a refusal moves it as data does, and
// Forget drops both tables' entries.
func TestRoam(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		innerA := securetest.Listen(t, n, addrA)
		sw := &switchConn{Conn: innerA}
		// A rekeys after its 10th packet: after the move.
		a := securetest.NewConn(t, secure.NewConn, sw, secure.Config{Static: securetest.MustKey(t), RekeyAfterPackets: 10})
		var moved, refusedBy moves
		b := securetest.NewConn(t, secure.NewConn, securetest.Listen(t, n, addrB), secure.Config{
			Static:      securetest.MustKey(t),
			PeerRefused: func(peer netip.AddrPort, _ keys.PublicKey) { refusedBy.add(peer, netip.AddrPort{}) },
		})
		b.OnRoam(moved.add)
		ra, rb := securetest.StartReader(a), securetest.StartReader(b)

		sent := 0
		send := func(pkt string) {
			t.Helper()
			if _, err := a.WriteTo([]byte(pkt), addrB); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		arrives := func(pkt string) {
			t.Helper()
			if p := rb.Next(t); p.From != addrA || string(p.Data) != pkt {
				t.Fatalf("B read %q from %v, want %q from A's handle %v", p.Data, p.From, pkt, addrA)
			}
		}
		withhold := func(pkt string) []byte { // sent by A, captured, not delivered
			t.Helper()
			sw.swallow.Store(true)
			send(pkt)
			sw.swallow.Store(false)
			sw.mu.Lock()
			defer sw.mu.Unlock()
			c := sw.captured[len(sw.captured)-1]
			sw.captured = nil
			return c
		}
		endpoint := func(want netip.AddrPort, roams uint64) {
			t.Helper()
			synctest.Wait()
			if e, ok := b.Endpoint(addrA); !ok || e != want {
				t.Fatalf("B's endpoint for A: %v, %v; want %v", e, ok, want)
			}
			if s := b.Stats(); s.Roams != roams {
				t.Fatalf("B counted %d moves, want %d", s.Roams, roams)
			}
		}

		send("hello")
		arrives("hello")
		handshakes := b.Stats().HandshakesCompleted
		seen := withhold("seen")
		older := withhold("older")
		newest := withhold("newest")
		innerA.WriteTo(seen, addrB)
		arrives("seen")

		addrA2, err := n.Move(innerA, netip.MustParseAddrPort("10.0.0.99:0"))
		if err != nil {
			t.Fatal(err)
		}
		send("moved")
		arrives("moved")
		endpoint(addrA2, 1)
		if _, err := b.WriteTo([]byte("reply"), addrA); err != nil {
			t.Fatal(err)
		}
		if p := ra.Next(t); p.From != addrB || string(p.Data) != "reply" {
			t.Fatalf("A read %q from %v, want B's reply", p.Data, p.From)
		}
		if s := b.Stats(); s.HandshakesCompleted != handshakes || s.Peers != 1 || s.Roamed != 1 {
			t.Fatalf("after the move B has made %d sessions (want %d), has %d peers (1), %d away (1)",
				s.HandshakesCompleted, handshakes, s.Peers, s.Roamed)
		}

		// Copies from elsewhere: the old address, and a new one.
		old := securetest.Listen(t, n, addrA)
		other := securetest.Listen(t, n, addrC)
		before := b.Stats()
		old.WriteTo(seen, addrB)     // replayed from the old address
		other.WriteTo(older, addrB)  // never seen, but older than "moved"
		other.WriteTo(newest, addrB) // likewise
		forged := withhold("forged") // newer than all: a forgery of it
		forged[len(forged)-1] ^= 1
		other.WriteTo(forged, addrB)
		endpoint(addrA2, 1)
		rb.None(t)
		after := b.Stats()
		drops := securetest.DiffDrops(before.Drops[:], after.Drops[:], secure.DropReason.String)
		if after.Drops[secure.DropWrongAddress]-before.Drops[secure.DropWrongAddress] != 3 ||
			after.Drops[secure.DropAuth]-before.Drops[secure.DropAuth] != 1 {
			t.Fatalf("drops %v, want 3 wrong-address and 1 auth", drops)
		}

		// The newest datagram from elsewhere moves the peer: only a copy of
		// one withheld from B can be, and A's next datagram moves it back.
		other.WriteTo(withhold("withheld"), addrB)
		arrives("withheld")
		endpoint(addrC, 2)
		send("back")
		arrives("back")
		endpoint(addrA2, 3)
		want := []string{addrA.String() + " " + addrA2.String(), addrA.String() + " " + addrC.String(),
			addrA.String() + " " + addrA2.String()}
		if got := moved.all(); !slices.Equal(got, want) {
			t.Errorf("OnRoam heard %q, want %q", got, want)
		}

		// A rekey from the new address belongs to A's peer. (Virtual time:
		// HandshakeRetry, 1 s, after A's first initiation, so A may send another.)
		time.Sleep(time.Second)
		for i := 0; b.Stats().HandshakesCompleted == handshakes; i++ {
			if i == 100 {
				t.Fatalf("no rekey after %d packets (RekeyAfterPackets 10)\nA %+v\nB %+v", sent, a.Stats(), b.Stats())
			}
			send("more")
			arrives("more")
			synctest.Wait() // A has read B's answer to its initiation, if one came
		}
		send("rekeyed")
		arrives("rekeyed")
		if s := b.Stats(); s.Peers != 1 || s.Roamed != 1 || s.Roams != 3 || s.HandshakesCompleted != handshakes+1 {
			t.Errorf("after the rekey B has %d peers (want 1), %d away (1), %d moves (3), %d sessions (%d)",
				s.Peers, s.Roamed, s.Roams, s.HandshakesCompleted, handshakes+1)
		}
		if s := a.Stats(); s.Rekeys != 1 || s.Peers != 1 {
			t.Errorf("A: %d rekeys, %d peers; want 1 and 1", s.Rekeys, s.Peers)
		}

		// A refusal is a datagram of the session like data: the first from
		// a new address moves the peer too.
		addrA3, err := n.Move(innerA, netip.MustParseAddrPort("10.0.0.98:0"))
		if err != nil {
			t.Fatal(err)
		}
		a.Refuse(addrB)
		endpoint(addrA3, 4)
		if got := refusedBy.all(); len(got) != 1 || !strings.HasPrefix(got[0], addrA.String()+" ") {
			t.Errorf("B heard refusals from %q, want one from A's handle %v", got, addrA)
		}

		b.Forget(addrA)
		if s := b.Stats(); s.Peers != 0 || s.Roamed != 0 {
			t.Errorf("after Forget B has %d peers, %d away; want none", s.Peers, s.Roamed)
		}
		if _, ok := b.Endpoint(addrA); ok {
			t.Error("after Forget B still has an endpoint for A")
		}
		securetest.CloseAll(t, []udp.Conn{a, b, old, other}, ra, rb)
	})
}

// TestRoamAfterCrossedHandshakes: when both sides start a handshake at
// once, each holds both sessions, made in opposite orders, and may send on
// either; whichever A sends on after it moves, the move is followed.
func TestRoamAfterCrossedHandshakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		innerA := securetest.Listen(t, n, addrA)
		a := securetest.NewConn(t, secure.NewConn, innerA, secure.Config{Static: securetest.MustKey(t)})
		b := securetest.NewConn(t, secure.NewConn, securetest.Listen(t, n, addrB), secure.Config{Static: securetest.MustKey(t)})
		// Both write before either reads: two initiations cross.
		a.WriteTo([]byte("a0"), addrB)
		b.WriteTo([]byte("b0"), addrA)
		ra, rb := securetest.StartReader(a), securetest.StartReader(b)
		for i := range 20 {
			a.WriteTo([]byte("a"), addrB)
			b.WriteTo([]byte("b"), addrA)
			if i%5 == 0 {
				synctest.Wait()
			}
		}
		synctest.Wait()
		if sa, sb := a.Stats(), b.Stats(); sa.HandshakesCompleted != 2 || sb.HandshakesCompleted != 2 {
			t.Fatalf("sessions made: A %d, B %d; want 2 each (crossed)", sa.HandshakesCompleted, sb.HandshakesCompleted)
		}
		for len(rb.Packets) > 0 {
			<-rb.Packets
		}
		addrA2, err := n.Move(innerA, netip.MustParseAddrPort("10.0.0.99:0"))
		if err != nil {
			t.Fatal(err)
		}
		a.WriteTo([]byte("moved"), addrB)
		if p := rb.Next(t); p.From != addrA || string(p.Data) != "moved" {
			t.Fatalf("B read %q from %v, want moved from %v", p.Data, p.From, addrA)
		}
		if e, _ := b.Endpoint(addrA); e != addrA2 {
			t.Errorf("B's endpoint for A: %v, want %v", e, addrA2)
		}
		securetest.CloseAll(t, []udp.Conn{a, b}, ra, rb)
	})
}

// firstData is a conn that withholds the first data datagram written on
// it: a test sends it itself, from elsewhere.
type firstData struct {
	udp.Conn
	mu   sync.Mutex
	held []byte
}

func (f *firstData) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil && len(b) > 1 && b[1] == wire.TypeData {
		f.held = slices.Clone(b)
		return len(b), nil
	}
	return f.Conn.WriteTo(b, addr)
}

// TestFirstPacketFromElsewhere: A's IK initiation reaches B from one
// address and its first data datagram, which confirms the session B
// answered, from another: A moved in between, as a chat does when its
// initiation went through a relay and a probe opened a direct path before
// the first packet. B installs the session for the peer the initiation
// came from and moves it to where the datagram came from; a forgery of it
// from there is dropped and moves nothing.
func TestFirstPacketFromElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		kB := securetest.MustKey(t)
		innerA := &firstData{Conn: securetest.Listen(t, n, addrA)}
		a := securetest.NewConn(t, secure.NewConn, innerA, secure.Config{Static: securetest.MustKey(t),
			KnownKey: func(netip.AddrPort) (keys.PublicKey, bool) { return kB.Public(), true }})
		b := securetest.NewConn(t, secure.NewConn, securetest.Listen(t, n, addrB), secure.Config{Static: kB})
		var moved moves
		b.OnRoam(moved.add)
		ra, rb := securetest.StartReader(a), securetest.StartReader(b)
		if _, err := a.WriteTo([]byte("hello"), addrB); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		innerA.mu.Lock()
		first := innerA.held
		innerA.mu.Unlock()
		if first == nil {
			t.Fatal("A sent no data datagram after the handshake")
		}
		other := securetest.Listen(t, n, addrC)
		forged := slices.Clone(first)
		forged[len(forged)-1] ^= 1
		other.WriteTo(forged, addrB)
		synctest.Wait()
		rb.None(t)
		other.WriteTo(first, addrB)
		if p := rb.Next(t); p.From != addrA || string(p.Data) != "hello" {
			t.Fatalf("B read %q from %v, want \"hello\" from A's handle %v", p.Data, p.From, addrA)
		}
		if e, ok := b.Endpoint(addrA); !ok || e != addrC {
			t.Errorf("B's endpoint for A: %v, %v; want %v", e, ok, addrC)
		}
		if got, want := moved.all(), []string{addrA.String() + " " + addrC.String()}; !slices.Equal(got, want) {
			t.Errorf("OnRoam heard %q, want %q", got, want)
		}
		if s := b.Stats(); s.Peers != 1 || s.HandshakesCompleted != 1 || s.Drops[secure.DropAuth] != 1 {
			t.Errorf("B has %d peers (want 1), %d sessions (1), %d forgeries dropped (1)", s.Peers, s.HandshakesCompleted, s.Drops[secure.DropAuth])
		}
		securetest.CloseAll(t, []udp.Conn{a, b, other}, ra, rb)
	})
}
