package secure

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flynn/noise"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

var (
	inA = netip.MustParseAddrPort("10.0.0.1:1001")
	inB = netip.MustParseAddrPort("10.0.0.2:1002")
	inC = netip.MustParseAddrPort("10.0.0.3:1003")
)

// pair is two Conns on pipes, driven by hand: no sockets, no goroutines.
type pair struct {
	a, b   *Conn
	pa, pb *pipeConn
}

func newPair(tb testing.TB, cfgA, cfgB Config) *pair {
	tb.Helper()
	for _, c := range []*Config{&cfgA, &cfgB} {
		if c.Static.IsZero() {
			k, err := keys.GenerateKey()
			if err != nil {
				tb.Fatal(err)
			}
			c.Static = k
		}
	}
	p := &pair{pa: &pipeConn{local: inA}, pb: &pipeConn{local: inB}}
	var err error
	if p.a, err = NewConn(p.pa, cfgA); err != nil {
		tb.Fatal(err)
	}
	if p.b, err = NewConn(p.pb, cfgB); err != nil {
		tb.Fatal(err)
	}
	return p
}

// pump delivers what each side wrote to the other until both are quiet, and
// returns the packets that came out of receive, by receiver ("a" or "b").
// Every datagram is also appended to log, if not nil.
func (p *pair) pump(log *[][]byte) map[string][][]byte {
	got := map[string][][]byte{}
	for {
		moved := false
		for _, dir := range []struct {
			from   *pipeConn
			to     *Conn
			src    netip.AddrPort
			reader string
		}{{p.pa, p.b, inA, "b"}, {p.pb, p.a, inB, "a"}} {
			out := dir.from.take()
			msgs := make([][]byte, len(out))
			for i, s := range out {
				msgs[i] = bytes.Clone(s.b)
			}
			for _, m := range msgs {
				moved = true
				if log != nil {
					*log = append(*log, bytes.Clone(m))
				}
				if pkt, _ := dir.to.receive(m, dir.src, time.Now()); pkt != nil {
					got[dir.reader] = append(got[dir.reader], bytes.Clone(pkt))
				}
			}
		}
		if !moved {
			return got
		}
	}
}

// established returns a pair with a session both ways.
func established(tb testing.TB, ik bool, log *[][]byte) *pair {
	tb.Helper()
	var cfgA Config
	kB, _ := keys.GenerateKey()
	if ik {
		cfgA.KnownKey = func(netip.AddrPort) (keys.PublicKey, bool) { return kB.Public(), true }
	}
	p := newPair(tb, cfgA, Config{Static: kB})
	p.a.WriteTo([]byte("hello"), inB)
	if got := p.pump(log); len(got["b"]) != 1 {
		tb.Fatalf("handshake: %q", got)
	}
	p.b.WriteTo([]byte("hi"), inA)
	if got := p.pump(log); len(got["a"]) != 1 {
		tb.Fatalf("reply: %q", got)
	}
	return p
}

func TestSealOpenAllocs(t *testing.T) {
	for _, ik := range []bool{false, true} {
		p := established(t, ik, nil)
		pkt := bytes.Repeat([]byte{'x'}, MaxPacket)
		if n := testing.AllocsPerRun(1000, func() {
			if _, err := p.a.WriteTo(pkt, inB); err != nil {
				t.Fatal(err)
			}
			p.pa.take()
		}); n != 0 {
			t.Errorf("ik=%v: sealing (WriteTo): %v allocations", ik, n)
		}
		// Fresh datagrams to open, one per run (a datagram opens once).
		var grams [][]byte
		for range 1002 {
			p.a.WriteTo(pkt, inB)
			grams = append(grams, bytes.Clone(p.pa.take()[0].b))
		}
		buf := make([]byte, wire.MaxDatagram)
		i := 0
		if n := testing.AllocsPerRun(1000, func() {
			k := copy(buf, grams[i])
			i++
			if got, _ := p.b.receive(buf[:k], inA, time.Now()); len(got) != len(pkt) {
				t.Fatalf("receive: %d bytes", len(got))
			}
		}); n != 0 {
			t.Errorf("ik=%v: opening (receive): %v allocations", ik, n)
		}
	}
}

// TestExplicitNonceMatchesNoise: our data AEAD is what flynn/noise's
// CipherState.Cipher() computes for the same explicit nonce, header as
// additional data.
func TestExplicitNonceMatchesNoise(t *testing.T) {
	mk := func(initiator bool) *noise.HandshakeState {
		kp, _ := cipherSuite.GenerateKeypair(rand.Reader)
		hs, err := noise.NewHandshakeState(noiseConfig(false, initiator, kp, nil))
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	i, r := mk(true), mk(false)
	m1, _, _, _ := i.WriteMessage(nil, nil)
	r.ReadMessage(nil, m1)
	m2, _, _, _ := r.WriteMessage(nil, nil)
	i.ReadMessage(nil, m2)
	m3, send, recv, err := i.WriteMessage(nil, nil)
	if err != nil || send == nil {
		t.Fatal(err)
	}
	_, rrecv, _, err := r.ReadMessage(nil, m3)
	if err != nil {
		t.Fatal(err)
	}
	kp := (&Conn{}).newKeypair(send, recv, time.Now())
	kp.remoteIndex = 0x01020304
	pkt := []byte("the same bytes either way")
	for _, n := range []uint64{0, 1, 255, 1 << 40} {
		kp.sendCounter = n
		d := kp.seal(nil, pkt)
		want := send.Cipher().Encrypt(nil, n, d[:wire.DataHeaderLen], pkt)
		if !bytes.Equal(d[wire.DataHeaderLen:], want) {
			t.Fatalf("counter %d: sealed %x, noise's Cipher gives %x", n, d[wire.DataHeaderLen:], want)
		}
		// And the responder's noise CipherState opens it.
		pt, err := rrecv.Cipher().Decrypt(nil, n, d[:wire.DataHeaderLen], d[wire.DataHeaderLen:])
		if err != nil || !bytes.Equal(pt, pkt) {
			t.Fatalf("counter %d: the responder's Cipher: %q, %v", n, pt, err)
		}
	}
}

// TestNoAmplification: every answer to an initiation is no bigger than it.
func TestNoAmplification(t *testing.T) {
	var log [][]byte
	established(t, false, &log)
	established(t, true, &log)
	// And under load: cookie replies.
	p := newPair(t, Config{}, Config{HandshakeRateLimit: 1})
	for range 5 {
		init := ForgeInitiation(false, keys.PublicKey{})
		p.b.receive(init, inC, time.Now())
		log = append(log, init)
		for _, s := range p.pb.take() {
			log = append(log, bytes.Clone(s.b))
		}
	}
	if p.b.Stats().CookiesSent == 0 {
		t.Fatal("no cookie reply under load")
	}
	for _, d := range log {
		if d[1] != wire.TypeData && d[1] != wire.TypeFinishXX && len(d) > wire.InitiationLen {
			t.Errorf("a handshake datagram of type 0x%02x and %d bytes, over the initiation's %d", d[1], len(d), wire.InitiationLen)
		}
		if (d[1] == wire.TypeInitXX || d[1] == wire.TypeInitIK) && len(d) != wire.InitiationLen {
			t.Errorf("an initiation of %d bytes", len(d))
		}
	}
}

// TestBoundedState: forged initiations from many addresses leave at most
// MaxHalfOpen handshakes, and the index table stays bounded.
func TestBoundedState(t *testing.T) {
	p := newPair(t, Config{}, Config{MaxHalfOpen: 64, HandshakeRateLimit: 1 << 30, PerSourceRate: 1e6, PerSourceBurst: 1 << 20})
	now := time.Now()
	for i := range 1000 {
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 1)
		p.b.receive(ForgeInitiation(i%2 == 0, p.b.PublicKey()), from, now)
		p.pb.take()
	}
	s := p.b.Stats()
	t.Logf("%+v", s)
	if s.HalfOpen > 64 || s.Indexes > 64 || s.Peers != 0 {
		t.Errorf("tables: %d half-open, %d indexes, %d peers", s.HalfOpen, s.Indexes, s.Peers)
	}
	if s.Drops[DropHalfOpenFull]+s.CookiesSent == 0 {
		t.Error("nothing refused")
	}
	// Initiations that prove their address (a valid mac2) skip the cookie
	// and reach the half-open table, which stops at MaxHalfOpen.
	for i := range 1000 {
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 8, byte(i >> 8), byte(i)}), 1)
		d := ForgeInitiation(i%2 == 0, p.b.PublicKey())
		cookie := p.b.cookies.cookie(from, now)
		mac2 := mac16(cookie[:], d[:wire.InitMAC2Offset])
		copy(d[wire.InitMAC2Offset:], mac2[:])
		p.b.receive(d, from, now)
		p.pb.take()
	}
	s = p.b.Stats()
	t.Logf("%+v", s)
	if s.HalfOpen != 64 || s.Indexes != 64 || s.Peers != 0 || s.Drops[DropHalfOpenFull] == 0 {
		t.Errorf("tables: %d half-open, %d indexes, %d peers; %d refused as full",
			s.HalfOpen, s.Indexes, s.Peers, s.Drops[DropHalfOpenFull])
	}
	// They expire.
	p.b.sweep(now.Add(halfOpenTimeout))
	if s := p.b.Stats(); s.HalfOpen != 0 || s.Indexes != 0 {
		t.Errorf("after expiry: %d half-open, %d indexes", s.HalfOpen, s.Indexes)
	}
}

// TestOneSweepAtATime: a sweep that outlasts sweepInterval (stuck on a
// peer's lock here; descheduled, on a loaded machine) is not joined by the
// next one, which would share its scratch space.
func TestOneSweepAtATime(t *testing.T) {
	p := established(t, false, nil)
	peer := p.a.peerFor(inB, false)
	peer.mu.Lock()
	first, second := time.Now().Add(sweepInterval), time.Now().Add(2*sweepInterval)
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		p.a.maybeSweep(first) // waits for peer.mu
	}()
	for p.a.lastSweep.Load() != first.UnixNano() { // the first has begun
		runtime.Gosched()
	}
	secondDone := make(chan struct{})
	go func() {
		defer close(secondDone)
		p.a.maybeSweep(second)
	}()
	select {
	case <-secondDone:
	case <-time.After(10 * time.Second):
		t.Error("a second sweep ran while the first was still going")
	}
	peer.mu.Unlock()
	<-firstDone
	<-secondDone
}

// TestQueueBounded: packets written before a session are queued, at most
// maxQueued, the oldest dropped first, and the rest go once it exists.
func TestQueueBounded(t *testing.T) {
	p := newPair(t, Config{}, Config{})
	for i := range 40 {
		p.a.WriteTo(fmt.Appendf(nil, "p%02d", i), inB)
	}
	if d := p.a.Stats().Drops[DropQueueFull]; d != 40-maxQueued {
		t.Errorf("%d queue drops, want %d", d, 40-maxQueued)
	}
	got := p.pump(nil)["b"]
	if len(got) != maxQueued || string(got[0]) != "p24" || string(got[maxQueued-1]) != "p39" {
		t.Errorf("delivered %q", got)
	}
}

// TestOversize: a packet that would not fit in a datagram is refused with
// an error that says what to do.
func TestOversize(t *testing.T) {
	p := established(t, true, nil)
	if m, ok := any(p.a).(interface{ MaxPacket() int }); !ok || m.MaxPacket() != wire.MaxPathDatagram-Overhead {
		t.Fatal("Conn does not tell its packet budget")
	}
	if _, err := p.a.WriteTo(make([]byte, MaxPathPacket+1), inB); err == nil {
		t.Fatal("an oversized packet accepted")
	} else {
		t.Log(err)
	}
	for _, size := range []int{MaxPacket, MaxPathPacket} {
		if n, err := p.a.WriteTo(make([]byte, size), inB); err != nil || n != size {
			t.Fatalf("%d bytes: %d, %v", size, n, err)
		}
		if d := p.pa.take(); len(d) != 1 || len(d[0].b) != size+Overhead {
			t.Fatalf("%d bytes became %d datagrams", size, len(d))
		}
	}
	if p.a.Stats().Drops[DropOversize] != 1 {
		t.Error("not counted")
	}
}

func FuzzReceive(f *testing.F) {
	var log [][]byte
	p := established(f, false, &log)
	q := established(f, true, &log)
	for _, d := range log {
		f.Add(d, false)
	}
	r := sealCookie(&p.b.xxCookieKey, 1, [16]byte{}, [16]byte{})
	f.Add(r.Append(nil), false)
	f.Add(ForgeInitiation(false, keys.PublicKey{}), true)
	f.Add(ForgeInitiation(true, p.b.PublicKey()), true)
	f.Add([]byte{1, wire.TypeData, 0, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, d []byte, other bool) {
		from := []netip.AddrPort{inA, inB}
		if other {
			from = []netip.AddrPort{inC, inC}
		}
		for i, c := range []*Conn{p.b, p.a, q.b, q.a} {
			if pkt, _ := c.receive(bytes.Clone(d), from[i%2], time.Now()); pkt != nil {
				t.Fatalf("a packet (%q) from datagram %x", pkt, d)
			}
		}
		p.pa.take()
		p.pb.take()
		q.pa.take()
		q.pb.take()
	})
}

func BenchmarkSeal(b *testing.B) {
	p := established(b, true, nil)
	pkt := bytes.Repeat([]byte{'x'}, MaxPacket)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		p.a.WriteTo(pkt, inB)
		p.pa.take()
	}
}

func BenchmarkOpen(b *testing.B) {
	p := established(b, true, nil)
	pkt := bytes.Repeat([]byte{'x'}, MaxPacket)
	const batch = 4096
	grams := make([][]byte, batch)
	buf := make([]byte, wire.MaxDatagram)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	now := time.Now()
	for i := range b.N {
		if i%batch == 0 {
			b.StopTimer()
			for j := range grams {
				p.a.WriteTo(pkt, inB)
				grams[j] = append(grams[j][:0], p.pa.take()[0].b...)
			}
			b.StartTimer()
		}
		n := copy(buf, grams[i%batch])
		if pkt, _ := p.b.receive(buf[:n], inA, now); pkt == nil {
			b.Fatal("did not open")
		}
	}
}

// benchmarkHandshake runs complete handshakes, each with a new peer
// address on both sides.
func benchmarkHandshake(b *testing.B, ik bool) {
	kB, _ := keys.GenerateKey()
	cfgA := Config{MaxPeers: 1 << 30}
	if ik {
		cfgA.KnownKey = func(netip.AddrPort) (keys.PublicKey, bool) { return kB.Public(), true }
	}
	p := newPair(b, cfgA, Config{Static: kB, MaxPeers: 1 << 30, MaxHalfOpen: 1 << 30, HandshakeRateLimit: 1 << 30})
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 9)
		p.a.WriteTo([]byte("x"), addr)
		done := false
		for !done {
			for _, s := range p.pa.take() {
				if pkt, _ := p.b.receive(bytes.Clone(s.b), addr, now); pkt != nil {
					done = true
				}
			}
			for _, s := range p.pb.take() {
				p.a.receive(bytes.Clone(s.b), addr, now)
			}
		}
	}
	if s := p.b.Stats(); s.HandshakesCompleted < uint64(b.N) {
		b.Fatalf("%d handshakes for %d runs", s.HandshakesCompleted, b.N)
	}
}

func BenchmarkHandshakeXX(b *testing.B) { benchmarkHandshake(b, false) }
func BenchmarkHandshakeIK(b *testing.B) { benchmarkHandshake(b, true) }

// TestCookieHandshake: a responder under load answers with a cookie; the
// initiator retries at once with mac2 and gets its session, for XX and IK.
func TestCookieHandshake(t *testing.T) {
	for _, ik := range []bool{false, true} {
		kB, _ := keys.GenerateKey()
		cfgA := Config{}
		if ik {
			cfgA.KnownKey = func(netip.AddrPort) (keys.PublicKey, bool) { return kB.Public(), true }
		}
		p := newPair(t, cfgA, Config{Static: kB, HandshakeRateLimit: 1})
		// Two initiations from elsewhere put B under load.
		for range 2 {
			p.b.receive(ForgeInitiation(false, keys.PublicKey{}), inC, time.Now())
		}
		p.pb.take()
		p.a.WriteTo([]byte("let me in"), inB)
		got := p.pump(nil)
		sa, sb := p.a.Stats(), p.b.Stats()
		if len(got["b"]) != 1 || sa.CookiesReceived != 1 || sa.HandshakesStarted != 2 || sb.CookiesSent < 2 {
			t.Errorf("ik=%v: got %q; A %+v; B %+v", ik, got, sa, sb)
		}
	}
}

// TestXXRekeyLostFinish: a rekey that falls back to XX and loses its msg3
// loses no data: we keep sending on the old session until the new one is
// confirmed, resend msg3, and switch once the peer uses the new session.
func TestXXRekeyLostFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := established(t, true, nil)
		pa := p.a.peerFor(inB, false)
		pa.mu.Lock()
		old := pa.current
		pa.ikTries = p.a.cfg.IKAttempts + 1 // as if IK had gone unanswered
		p.a.startHandshake(pa, time.Now(), true)
		pa.mu.Unlock()

		deliver := func(from *pipeConn, to *Conn, src netip.AddrPort, drop byte) (pkts []string) {
			for _, s := range from.take() {
				if s.b[1] == drop {
					continue
				}
				if pkt, _ := to.receive(bytes.Clone(s.b), src, time.Now()); pkt != nil {
					pkts = append(pkts, string(pkt))
				}
			}
			return pkts
		}
		deliver(p.pa, p.b, inA, 0)                 // XX initiation
		deliver(p.pb, p.a, inB, 0)                 // response: A completes, sends msg3...
		deliver(p.pa, p.b, inA, wire.TypeFinishXX) // ...which is lost
		if pa.current != old || len(pa.keys) != 2 {
			t.Fatalf("A switched to an unconfirmed session")
		}
		p.a.WriteTo([]byte("during"), inB)
		if got := deliver(p.pa, p.b, inA, 0); len(got) != 1 || got[0] != "during" {
			t.Fatalf("B got %q during the rekey", got)
		}
		time.Sleep(p.a.cfg.HandshakeRetry)
		p.a.WriteTo([]byte("after"), inB) // resends msg3 first
		if got := deliver(p.pa, p.b, inA, 0); len(got) != 1 || got[0] != "after" {
			t.Fatalf("B got %q after", got)
		}
		p.b.WriteTo([]byte("on the new session"), inA)
		if got := deliver(p.pb, p.a, inB, 0); len(got) != 1 {
			t.Fatalf("A got %q", got)
		}
		if pa.current == old {
			t.Error("A did not switch to the confirmed session")
		}
		if s := p.a.Stats(); s.Dropped() != 0 || s.Rekeys != 1 {
			t.Errorf("A: %+v", s)
		}
		if s := p.b.Stats(); s.Dropped() != 0 {
			t.Errorf("B: %+v", s)
		}
	})
}
