package secure_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

// switchConn passes writes through, or, while swallow is set, records them
// and sends nothing: datagrams an attacker captured that never arrived.
type switchConn struct {
	udp.Conn
	swallow  atomic.Bool
	mu       sync.Mutex
	captured [][]byte
}

func (s *switchConn) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	if s.swallow.Load() {
		s.mu.Lock()
		s.captured = append(s.captured, bytes.Clone(b))
		s.mu.Unlock()
		return len(b), nil
	}
	return s.Conn.WriteTo(b, addr)
}

// TestTamper: every byte of captured data datagrams, flipped with several
// patterns and injected from the sender's own address, never yields a
// packet; the forgeries do not even move the replay window, so the genuine
// datagrams are accepted afterwards.
func TestTamper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		innerA := securetest.Listen(t, n, addrA)
		sw := &switchConn{Conn: innerA}
		a := securetest.NewConn(t, secure.NewConn, sw, secure.Config{Static: securetest.MustKey(t)})
		b := securetest.NewConn(t, secure.NewConn, securetest.Listen(t, n, addrB), secure.Config{Static: securetest.MustKey(t)})
		ra, rb := securetest.StartReader(a), securetest.StartReader(b)
		if _, err := a.WriteTo([]byte("hello"), addrB); err != nil {
			t.Fatal(err)
		}
		rb.Next(t)

		// Captured, not delivered: counters B has not seen.
		sw.swallow.Store(true)
		want := map[string]bool{}
		for i := range 12 {
			pkt := bytes.Repeat([]byte{byte('a' + i)}, 1+i*97)
			want[string(pkt)] = true
			if _, err := a.WriteTo(pkt, addrB); err != nil {
				t.Fatal(err)
			}
		}
		before := b.Stats()
		injected, inCiphertext := 0, 0
		for _, d := range sw.captured {
			if d[1] != wire.TypeData {
				t.Fatalf("captured a datagram of type 0x%02x", d[1])
			}
			for i := range d {
				for _, pat := range []byte{0x01, 0x80, 0xff} {
					f := bytes.Clone(d)
					f[i] ^= pat
					if _, err := innerA.WriteTo(f, addrB); err != nil {
						t.Fatal(err)
					}
					injected++
					if i >= wire.DataHeaderLen {
						inCiphertext++
					}
				}
			}
			synctest.Wait() // let B read them before its queue fills
		}
		rb.None(t)
		after := b.Stats()
		if got := after.Dropped() - before.Dropped(); got != uint64(injected) {
			t.Errorf("%d forgeries injected, %d dropped", injected, got)
		}
		auth := after.Drops[secure.DropAuth] - before.Drops[secure.DropAuth]
		if auth < uint64(inCiphertext) {
			t.Errorf("auth failures rose by %d, want at least the %d ciphertext flips", auth, inCiphertext)
		}
		if after.PacketsIn != before.PacketsIn {
			t.Errorf("packets in went from %d to %d", before.PacketsIn, after.PacketsIn)
		}
		t.Logf("%d forgeries: drops %v", injected, securetest.DiffDrops(before.Drops[:], after.Drops[:], secure.DropReason.String))

		// The genuine datagrams still open: no forgery moved the window.
		for _, d := range sw.captured {
			innerA.WriteTo(d, addrB)
		}
		for range sw.captured {
			p := rb.Next(t)
			if !want[string(p.Data)] {
				t.Fatalf("unexpected packet %q", p.Data)
			}
			delete(want, string(p.Data))
		}
		securetest.CloseAll(t, []udp.Conn{a, b}, ra, rb)
	})
}

// TestReplay: every datagram either side sent is sent again, interleaved
// with the conversation and all of it again afterwards; each packet comes
// out of ReadFrom exactly once.
func TestReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		recA, recB := &securetest.Recorder{}, &securetest.Recorder{}
		innerA, innerB := securetest.Listen(t, n, addrA), securetest.Listen(t, n, addrB)
		a := securetest.NewConn(t, secure.NewConn, udptest.Impair(innerA, udptest.Impairment{Observe: recA.Observe}), secure.Config{Static: securetest.MustKey(t)})
		b := securetest.NewConn(t, secure.NewConn, udptest.Impair(innerB, udptest.Impairment{Observe: recB.Observe}), secure.Config{Static: securetest.MustKey(t)})
		ra, rb := securetest.StartReader(a), securetest.StartReader(b)
		rng := rand.New(rand.NewPCG(1, 2))
		replay := func(rec *securetest.Recorder, from udp.Conn, k int) int {
			grams := rec.All()
			for range k {
				d := grams[rng.IntN(len(grams))]
				from.WriteTo(d.B, d.To)
			}
			return k
		}
		const count = 300
		replayed := 0
		for i := range count {
			if _, err := a.WriteTo(fmt.Appendf(nil, "A%04d", i), addrB); err != nil {
				t.Fatal(err)
			}
			if _, err := b.WriteTo(fmt.Appendf(nil, "B%04d", i), addrA); err != nil {
				t.Fatal(err)
			}
			replayed += replay(recA, innerA, 3) + replay(recB, innerB, 3)
			if i%20 == 0 {
				synctest.Wait()
				time.Sleep(100 * time.Millisecond) // let some of it be old news
			}
		}
		synctest.Wait()
		for _, rp := range []struct {
			rec  *securetest.Recorder
			from udp.Conn
		}{{recA, innerA}, {recB, innerB}} {
			for _, d := range rp.rec.All() {
				rp.from.WriteTo(d.B, d.To)
				replayed++
			}
			synctest.Wait()
		}
		check := func(r *securetest.Reader, prefix string) {
			t.Helper()
			seen := map[string]int{}
			for done := false; !done; {
				select {
				case p := <-r.Packets:
					seen[string(p.Data)]++
				default:
					done = true
				}
			}
			for i := range count {
				if k := fmt.Sprintf("%s%04d", prefix, i); seen[k] != 1 {
					t.Errorf("%s came out %d times", k, seen[k])
				}
			}
			if len(seen) != count {
				t.Errorf("%d distinct packets, want %d", len(seen), count)
			}
		}
		check(rb, "A")
		check(ra, "B")
		sa, sb := a.Stats(), b.Stats()
		t.Logf("%d datagrams replayed\nA drops %v\nB drops %v", replayed, securetest.DiffDrops(nil, sa.Drops[:], secure.DropReason.String), securetest.DiffDrops(nil, sb.Drops[:], secure.DropReason.String))
		if sa.Drops[secure.DropReplay] == 0 || sb.Drops[secure.DropReplay] == 0 {
			t.Error("no replay drops counted")
		}
		securetest.CloseAll(t, []udp.Conn{a, b}, ra, rb)
	})
}
