package secure_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/transport/transporttest"
	"github.com/udpchat/udpchat/internal/udp"
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

// heapInUse collects twice (sync.Pool keeps buffers through one collection)
// and returns the heap in use.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

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

// TestFlood: while two transports chat over secure conns, a bounded flood
// from many other addresses (and replays from the peer's own) hits them: no
// crash, tables within their bounds, heap growth bounded, every message
// delivered. It logs the latency the flood added.
func TestFlood(t *testing.T) {
	n := udp.NewMemNetwork()
	rec := &recorder{}
	innerA := listen(t, n, addrA)
	kA, kB := mustKey(t), mustKey(t)
	cfg := func(k secure.PrivateKey) secure.Config { return secure.Config{Static: k} }
	a := newChatter(t, udp.Impair(innerA, udp.Impairment{Observe: rec.observe}), cfg(kA))
	b := newChatter(t, listen(t, n, addrB), cfg(kB))
	defer a.close()
	defer b.close()

	// Warm up (the first handshake), then the baseline.
	measure(t, a, b, 100, 20, func() bool { return true })
	base := measure(t, a, b, 110, 200, func() bool { return true })
	captured := rec.all() // material for replays
	heapBefore := heapInUse()

	// The attackers: floodSources addresses, each drained so their queues
	// (cookie replies, responses) do not count against the victims.
	var drain sync.WaitGroup
	sources := make([]udp.Conn, floodSources)
	for i := range sources {
		sources[i] = listen(t, n, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 66, byte(i >> 8), byte(i)}), 4000))
		drain.Add(1)
		go func(c udp.Conn) {
			defer drain.Done()
			buf := make([]byte, 2048)
			for {
				if _, _, err := c.ReadFrom(buf); err != nil {
					return
				}
			}
		}(sources[i])
	}
	ik := make([][]byte, floodIKIdentity)
	for i := range ik {
		ik[i] = secure.ForgeInitiation(true, kB.Public())
	}

	var (
		done      atomic.Bool
		flooders  sync.WaitGroup
		sentJunk  atomic.Int64
		sentInits atomic.Int64
	)
	const workers = 8
	for w := range workers {
		flooders.Add(1)
		go func() {
			defer flooders.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			buf := make([]byte, wire.MaxDatagram)
			for i := w; i < floodJunk+floodInits; i += workers {
				src := sources[rng.IntN(len(sources))]
				dst := addrB
				if rng.IntN(4) == 0 {
					dst = addrA
				}
				if i >= floodJunk { // a forged initiation
					var d []byte
					if rng.IntN(10) == 0 {
						d = secure.Readdress(ik[rng.IntN(len(ik))], rng.Uint32(), kB.Public())
						dst = addrB
					} else {
						d = secure.ForgeInitiation(false, secure.PublicKey{})
					}
					src.WriteTo(d, dst)
					sentInits.Add(1)
					continue
				}
				switch k := rng.IntN(4); {
				case k == 0: // random bytes
					d := buf[:1+rng.IntN(wire.MaxDatagram)]
					for j := range d {
						d[j] = byte(rng.Uint32())
					}
					src.WriteTo(d, dst)
				case k == 1: // random, but with a secure version and type
					d := buf[:2+rng.IntN(wire.MaxDatagram-1)]
					for j := range d {
						d[j] = byte(rng.Uint32())
					}
					d[0], d[1] = wire.Version, byte(wire.TypeInitXX+rng.IntN(7))
					src.WriteTo(d, dst)
				case k == 2: // a replay from elsewhere
					g := captured[rng.IntN(len(captured))]
					src.WriteTo(g.b, g.to)
				default: // a replay from the peer's own address
					g := captured[rng.IntN(len(captured))]
					innerA.WriteTo(g.b, g.to)
				}
				sentJunk.Add(1)
			}
		}()
	}
	floodOver := make(chan struct{})
	go func() { flooders.Wait(); done.Store(true); close(floodOver) }()

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
	start := time.Now()
	// A newcomer C contacts B in the middle of it: B is under load, so C
	// must come in through a cookie.
	joined := make(chan time.Duration, 1)
	var c *chatter
	go func() {
		for sentInits.Load() == 0 && !done.Load() {
			runtime.Gosched()
		}
		t0 := time.Now()
		c = newChatter(t, listen(t, n, addrC), cfg(mustKey(t)))
		c.ep.Send(addrB, transporttest.Message(200, 0, 100))
		b.rec.WaitFor(t, "C's message at B", time.Minute, func() bool { return b.rec.Count(addrC) > 0 })
		joined <- time.Since(t0)
	}()
	during := measure(t, a, b, 120, 100, done.Load)
	joinTime := <-joined
	defer c.close()
	<-floodOver
	floodTime := time.Since(start)
	watch.Wait()
	for _, c := range sources {
		c.Close()
	}
	drain.Wait()
	sources, captured, ik = nil, nil, nil
	// The chat goes on after the flood (and the sockets' queues drain of
	// the flood's leftovers, which are not the secure layer's memory).
	measure(t, a, b, 130, 20, func() bool { return true })
	heapAfter := heapInUse()

	sa, sb := a.sec.Stats(), b.sec.Stats()
	t.Logf("flood: %d junk/replayed datagrams and %d forged initiations from %d addresses in %v",
		sentJunk.Load(), sentInits.Load(), floodSources, floodTime.Round(time.Millisecond))
	t.Logf("A: drops %v cookies sent %d, handshakes %d", diffDrops(secure.Stats{}, sa), sa.CookiesSent, sa.HandshakesCompleted)
	t.Logf("B: drops %v cookies sent %d, handshakes %d", diffDrops(secure.Stats{}, sb), sb.CookiesSent, sb.HandshakesCompleted)
	t.Logf("peak tables: half-open %d, peers %d, indexes %d, rate-limit entries %d", peak.HalfOpen, peak.Peers, peak.Indexes, peak.RateLimitSources)
	t.Logf("heap in use: %.1f MiB before, %.1f MiB after (growth %.1f MiB, bound %d MiB)",
		float64(heapBefore)/(1<<20), float64(heapAfter)/(1<<20), (float64(heapAfter)-float64(heapBefore))/(1<<20), floodHeapBound>>20)
	sc := c.sec.Stats()
	t.Logf("newcomer C got through to B in %v (cookies received %d, initiations %d)",
		joinTime.Round(time.Microsecond), sc.CookiesReceived, sc.HandshakesStarted)
	t.Logf("latency without flood (%d msgs): p50 %v p90 %v p99 %v max %v", len(base),
		base.pct(.5), base.pct(.9), base.pct(.99), base.pct(1))
	t.Logf("latency with flood    (%d msgs): p50 %v p90 %v p99 %v max %v", len(during),
		during.pct(.5), during.pct(.9), during.pct(.99), during.pct(1))

	if sentJunk.Load() != floodJunk || sentInits.Load() != floodInits {
		t.Errorf("flood incomplete")
	}
	if peak.HalfOpen > 1024 || peak.Peers > 2 || peak.Indexes > 1024+4*8 || peak.RateLimitSources > 2*4096 {
		t.Errorf("tables over their bounds: %+v", peak)
	}
	if sb.CookiesSent == 0 {
		t.Error("B never answered with a cookie: it was not under load?")
	}
	if int64(heapAfter)-int64(heapBefore) > floodHeapBound {
		t.Errorf("heap grew by %d bytes, bound %d", int64(heapAfter)-int64(heapBefore), floodHeapBound)
	}
	// Every message of the chat got through: measure checked that each
	// arrived, once and in order.
}
