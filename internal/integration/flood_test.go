package integration_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/testenv"
	"github.com/udpchat/udpchat/internal/transport/transporttest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

// Flood sizes (issue 3) and the bound on what the flood may leave behind.
const (
	floodJunk       = 200_000 // random and replayed datagrams
	floodInits      = 20_000  // forged handshake initiations
	floodSources    = 256     // attacker addresses
	floodIKIdentity = 200     // distinct forged IK identities (each sent from many addresses)
	// floodHeapBound: heap in use after the flood (collected) may exceed
	// heap in use before by at most this. The tables are bounded far below
	// it (1024 half-open handshakes of ~2 KiB, 8192 rate-limit entries).
	floodHeapBound = 16 << 20
)

// latencies is what measure found.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// measure sends small messages both ways every 2 ms until stop says so (at
// least min of them), waits for all, and returns their one-way delivery
// times (send to the receiver's Handler.Receive).
func measure(t *testing.T, a, b *chatter, stream, least int, stop func() bool) latencies {
	t.Helper()
	type key struct{ stream, i int }
	sent := map[key]time.Time{}
	baseA, baseB := b.rec.Count(a.addr), a.rec.Count(b.addr)
	n := 0
	for ; n < least || !stop(); n++ {
		now := time.Now()
		sent[key{stream, n}], sent[key{stream + 1, n}] = now, now
		if _, err := a.ep.Send(b.addr, transporttest.Message(stream, n, 100)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ep.Send(a.addr, transporttest.Message(stream+1, n, 100)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.rec.WaitFor(t, "measured messages at B", 2*time.Minute, func() bool { return b.rec.Count(a.addr) >= baseA+n })
	a.rec.WaitFor(t, "measured messages at A", 2*time.Minute, func() bool { return a.rec.Count(b.addr) >= baseB+n })
	var out latencies
	for _, side := range []struct {
		r    *transporttest.Recorder
		from netip.AddrPort
		base int
	}{{b.rec, a.addr, baseA}, {a.rec, b.addr, baseB}} {
		msgs, at := side.r.ReceivedAt(side.from)
		msgs, at = msgs[side.base:], at[side.base:]
		for i, m := range msgs {
			k := key{int(binary.BigEndian.Uint32(m)), int(binary.BigEndian.Uint32(m[4:]))}
			s, ok := sent[k]
			if !ok || k.i != i {
				t.Fatalf("message %d is %+v: lost, duplicated or out of order", i, k)
			}
			out = append(out, at[i].Sub(s))
		}
	}
	return out
}

// loopback returns 127.a.b.c, an address of this machine on Linux.
func loopback(a, b, c byte) netip.Addr { return netip.AddrFrom4([4]byte{127, a, b, c}) }

// udpRcvbufErrors is the kernel's count of UDP datagrams dropped because a
// socket's receive buffer was full (in this network namespace, all sockets),
// or false where there is no /proc/net/snmp to read it from.
func udpRcvbufErrors() (uint64, bool) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, false
	}
	// Two "Udp:" lines: the field names, then the values.
	var names []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, "RcvbufErrors"); i > 0 && i < len(f) {
			n, err := strconv.ParseUint(f[i], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// TestFlood: while two transports chat over secure conns on real UDP
// sockets on loopback, a bounded flood from floodSources other loopback
// addresses (and replays from the peer's own socket) hits them: no crash,
// tables within their bounds, heap growth bounded, every message delivered,
// and a newcomer gets in through a cookie meanwhile. It logs the latency the
// flood added. Where the victims' kernel receive buffers overflow under it
// (the kernel's drops are logged too), the chat gets through only because
// the transport resends what was dropped.
func TestFlood(t *testing.T) {
	testenv.SkipInShort(t, "flood")
	rec := &securetest.Recorder{}
	innerA := securetest.ListenLoopback(t, loopback(0, 0, 1))
	kA, kB := securetest.MustKey(t), securetest.MustKey(t)
	cfg := func(k keys.PrivateKey) secure.Config { return secure.Config{Static: k} }
	a := newChatter(t, udptest.Impair(innerA, udptest.Impairment{Observe: rec.Observe}), cfg(kA))
	b := newChatter(t, securetest.ListenLoopback(t, loopback(0, 0, 2)), cfg(kB))
	c := newChatter(t, securetest.ListenLoopback(t, loopback(0, 0, 3)), cfg(securetest.MustKey(t))) // the newcomer, silent until the flood
	defer a.close()
	defer b.close()
	defer c.close()

	// Warm up (the first handshake), then the baseline.
	measure(t, a, b, 100, 20, func() bool { return true })
	base := measure(t, a, b, 110, 200, func() bool { return true })
	captured := rec.All() // material for replays
	heapBefore := transporttest.HeapInUse()

	// The attackers: a socket on each of floodSources addresses. Nothing
	// reads them: the kernel keeps what the victims answer (cookie replies,
	// responses) until their buffers fill, then drops it.
	var sources []udp.Conn
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	for i := range floodSources {
		sources = append(sources, securetest.ListenLoopback(t, loopback(66, byte(i>>8), byte(i))))
	}
	pubB := kB.Public()
	ik := make([][]byte, floodIKIdentity)
	for i := range ik {
		ik[i] = securetest.ForgeInitiation(true, pubB)
	}
	dropsBefore, haveDrops := udpRcvbufErrors()

	// The forged initiations are spread evenly through the junk, so that
	// the victims are under load (answering with cookies) for the whole
	// flood; the newcomer starts when a tenth of it has gone.
	const total = floodJunk + floodInits
	var (
		done      atomic.Bool
		flooders  sync.WaitGroup
		sent      atomic.Int64
		sentJunk  atomic.Int64
		sentInits atomic.Int64
		writeErr  atomic.Pointer[error]
		tenth     = make(chan struct{})
	)
	send := func(src udp.Conn, d []byte, to netip.AddrPort) {
		if _, err := src.WriteTo(d, to); err != nil {
			writeErr.CompareAndSwap(nil, &err)
		}
		if sent.Add(1) == total/10 {
			close(tenth)
		}
	}
	const workers = 8
	start := time.Now()
	for w := range workers {
		flooders.Add(1)
		go func() {
			defer flooders.Done()
			// ChaCha8 fills junk a block at a time: byte by byte, the
			// fill was most of the flood's cost under -race.
			src8 := rand.NewChaCha8([32]byte{byte(w), 99})
			rng := rand.New(src8)
			buf := make([]byte, wire.MaxDatagram)
			for i := w; i < total; i += workers {
				src := sources[rng.IntN(len(sources))]
				dst := b.addr
				if rng.IntN(4) == 0 {
					dst = a.addr
				}
				if (i+1)*floodInits/total > i*floodInits/total { // a forged initiation
					var d []byte
					if rng.IntN(10) == 0 {
						d = securetest.Readdress(ik[rng.IntN(len(ik))], rng.Uint32(), pubB)
						dst = b.addr
					} else {
						d = securetest.ForgeInitiation(false, keys.PublicKey{})
					}
					send(src, d, dst)
					sentInits.Add(1)
					continue
				}
				switch k := rng.IntN(4); {
				case k == 0: // random bytes
					d := buf[:1+rng.IntN(wire.MaxDatagram)]
					src8.Read(d)
					send(src, d, dst)
				case k == 1: // random, but with a secure version and type
					d := buf[:2+rng.IntN(wire.MaxDatagram-1)]
					src8.Read(d)
					d[0], d[1] = wire.Version, byte(wire.TypeInitXX+rng.IntN(7))
					send(src, d, dst)
				case k == 2: // a replay from elsewhere
					g := captured[rng.IntN(len(captured))]
					send(src, g.B, g.To)
				default: // a replay from the peer's own address
					g := captured[rng.IntN(len(captured))]
					send(innerA, g.B, g.To)
				}
				sentJunk.Add(1)
			}
		}()
	}
	var floodEnd time.Time
	floodOver := make(chan struct{})
	go func() { flooders.Wait(); floodEnd = time.Now(); done.Store(true); close(floodOver) }()

	// Watch the tables while the flood runs.
	var peak secure.Stats
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, c := range []*chatter{a, b} {
				s := c.sec.Stats()
				peak.HalfOpen = max(peak.HalfOpen, s.HalfOpen)
				peak.Peers = max(peak.Peers, s.Peers)
				peak.Indexes = max(peak.Indexes, s.Indexes)
				peak.RateLimitSources = max(peak.RateLimitSources, s.RateLimitSources)
			}
			select {
			case <-floodOver:
				return
			case <-tick.C:
			}
		}
	}()
	// The newcomer C contacts B early in it: B is under load, so C must come
	// in through a cookie.
	var (
		joinStart time.Time
		joinErr   error
		joinSent  = make(chan struct{})
	)
	go func() {
		defer close(joinSent)
		<-tenth
		joinStart = time.Now()
		_, joinErr = c.ep.Send(b.addr, transporttest.Message(200, 0, 100))
	}()
	// The flood stops by itself; on every path, wait for it (before the
	// sources and chatters close).
	defer func() {
		<-floodOver
		watch.Wait()
		<-joinSent
	}()

	during := measure(t, a, b, 120, 100, done.Load)
	<-floodOver
	floodTime := floodEnd.Sub(start)
	watch.Wait()
	<-joinSent
	if joinErr != nil {
		t.Fatal(joinErr)
	}
	b.rec.WaitFor(t, "C's message at B", time.Minute, func() bool { return b.rec.Count(c.addr) > 0 })
	_, at := b.rec.ReceivedAt(c.addr)
	joinTime, joinedInFlood := at[0].Sub(joinStart), at[0].Before(floodEnd)
	dropsAfter, _ := udpRcvbufErrors()
	for _, s := range sources {
		s.Close()
	}
	sources, captured, ik = nil, nil, nil
	// The chat goes on after the flood (and the victims read the flood's
	// leftovers out of their sockets).
	measure(t, a, b, 130, 20, func() bool { return true })
	heapAfter := transporttest.HeapInUse()

	sa, sb, sc := a.sec.Stats(), b.sec.Stats(), c.sec.Stats()
	t.Logf("flood: %d junk/replayed datagrams and %d forged initiations from %d loopback addresses in %v",
		sentJunk.Load(), sentInits.Load(), floodSources, floodTime.Round(time.Millisecond))
	if haveDrops {
		t.Logf("the kernel dropped %d datagrams meanwhile at full receive buffers (all sockets)", dropsAfter-dropsBefore)
	}
	t.Logf("A: %d datagrams read, drops %v cookies sent %d, handshakes %d",
		sa.DatagramsIn, securetest.DiffDrops(nil, sa.Drops[:], secure.DropReason.String), sa.CookiesSent, sa.HandshakesCompleted)
	t.Logf("B: %d datagrams read, drops %v cookies sent %d, handshakes %d",
		sb.DatagramsIn, securetest.DiffDrops(nil, sb.Drops[:], secure.DropReason.String), sb.CookiesSent, sb.HandshakesCompleted)
	t.Logf("peak tables: half-open %d, peers %d, indexes %d, rate-limit entries %d", peak.HalfOpen, peak.Peers, peak.Indexes, peak.RateLimitSources)
	t.Logf("heap in use: %.1f MiB before, %.1f MiB after (growth %.1f MiB, bound %d MiB)",
		float64(heapBefore)/(1<<20), float64(heapAfter)/(1<<20), (float64(heapAfter)-float64(heapBefore))/(1<<20), floodHeapBound>>20)
	when := "during the flood"
	if !joinedInFlood {
		when = "after the flood"
	}
	t.Logf("newcomer C got through to B in %v, %s (cookies received %d, initiations %d)",
		joinTime.Round(time.Microsecond), when, sc.CookiesReceived, sc.HandshakesStarted)
	t.Logf("latency without flood (%d msgs): p50 %v p90 %v p99 %v max %v", len(base),
		base.pct(.5), base.pct(.9), base.pct(.99), base.pct(1))
	t.Logf("latency with flood    (%d msgs): p50 %v p90 %v p99 %v max %v", len(during),
		during.pct(.5), during.pct(.9), during.pct(.99), during.pct(1))

	if sentJunk.Load() != floodJunk || sentInits.Load() != floodInits {
		t.Errorf("flood incomplete")
	}
	if err := writeErr.Load(); err != nil {
		t.Errorf("flood: a write failed: %v", *err)
	}
	if peak.HalfOpen > 1024 || peak.Peers > 2 || peak.Indexes > 1024+4*8 || peak.RateLimitSources > 2*4096 {
		t.Errorf("tables over their bounds: %+v", peak)
	}
	if sb.CookiesSent == 0 {
		t.Error("B never answered with a cookie: it was not under load?")
	}
	// B is under load from the first hundred forged initiations until a
	// second after the last, so a handshake it completed with C during the
	// flood must have carried a cookie. (C may come only after it, if the
	// kernel dropped its initiations at B's full socket buffer until then.)
	if joinedInFlood && sc.CookiesReceived == 0 {
		t.Error("C got in during the flood without a cookie: B was not under load?")
	}
	if int64(heapAfter)-int64(heapBefore) > floodHeapBound {
		t.Errorf("heap grew by %d bytes, bound %d", int64(heapAfter)-int64(heapBefore), floodHeapBound)
	}
	// Every message of the chat got through: measure checked that each
	// arrived, once and in order.
}
