package relay

import (
	"context"
	"net/netip"
	"runtime"
	"sync/atomic"

	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/testenv"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// The relay's forwarding against a bare UDP forwarder, side by side in one
// run (BENCHMARKS.md, "Relay"): b.N datagrams of benchSize bytes from one
// socket to another through the middle, at most benchWindow in flight. The
// figures are datagrams a second and the CPU the whole process spent per
// datagram: for the relay that is both clients' Noise sessions with it
// (seal, open, seal, open) and the relay's work; for the bare forwarder two
// reads and two writes.
const (
	benchSize   = 1000
	benchWindow = 256
)

func BenchmarkForward(b *testing.B) {
	b.Run("relay", func(b *testing.B) { benchRelay(b, 0) })
	b.Run("relay-1000-clients", func(b *testing.B) { benchRelay(b, 1000) })
	b.Run("raw-udp", benchRawUDP)
}

// benchRelay forwards between two clients of a relay that has others
// registered besides them (idle: their sessions and registrations held).
func benchRelay(b *testing.B, others int) {
	r := startRelay(b, Config{Rate: 1e9, Burst: 1 << 30, QueueLen: benchWindow})
	for i := range others {
		registerOnce(b, r, netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}))
	}
	got := counter{wake: make(chan struct{}, 1)}
	alice := startClient(b, r, newKey(b))
	bob := startClient(b, r, newKey(b), func(c *ClientConfig) {
		c.OnDeliver = func(keys.PublicKey, []byte) { got.add() }
	})
	payload := make([]byte, benchSize)
	to := bob.public()
	runWindowed(b, &got, func() { alice.Forward(to, payload) })
}

func benchRawUDP(b *testing.B) {
	listen := func() *udp.Socket {
		s, err := udp.Listen("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	src, mid, dst := listen(), listen(), listen()
	got := counter{wake: make(chan struct{}, 1)}
	go func() { // the forwarder
		buf := make([]byte, wire.MaxDatagram)
		for {
			n, _, err := mid.ReadFrom(buf)
			if err != nil {
				return
			}
			mid.WriteTo(buf[:n], dst.LocalAddr())
		}
	}()
	go func() {
		buf := make([]byte, wire.MaxDatagram)
		for {
			if _, _, err := dst.ReadFrom(buf); err != nil {
				return
			}
			got.add()
		}
	}()
	payload := make([]byte, benchSize)
	runWindowed(b, &got, func() { src.WriteTo(payload, mid.LocalAddr()) })
}

// counter counts datagrams received and wakes a sender waiting for one.
type counter struct {
	n    atomic.Int64
	wake chan struct{}
}

func (c *counter) add() {
	c.n.Add(1)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// runWindowed sends b.N times, keeping at most benchWindow unanswered; a
// window that makes no progress for 50 ms is taken as lost (loopback
// drops under load) and counted. The sender sleeps while it waits, so the
// CPU measured is the path's.
func runWindowed(b *testing.B, got *counter, send func()) {
	b.SetBytes(benchSize)
	b.ReportAllocs()
	cpu0 := testenv.CPUTime()
	b.ResetTimer()
	start := time.Now()
	var lost int64
	stall := time.NewTimer(time.Hour)
	for i := range b.N {
		for int64(i)-got.n.Load()-lost >= benchWindow {
			stall.Reset(50 * time.Millisecond)
			select {
			case <-got.wake:
			case <-stall.C:
				lost = int64(i) - got.n.Load()
			}
		}
		send()
	}
	for got.n.Load()+lost < int64(b.N) {
		stall.Reset(50 * time.Millisecond)
		select {
		case <-got.wake:
		case <-stall.C:
			lost = int64(b.N) - got.n.Load()
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(got.n.Load())/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(float64(testenv.CPUTime()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(int64(b.N)-got.n.Load())/float64(b.N)*100, "lost-%")
}

// BenchmarkRegisteredClient registers b.N clients and measures the relay's
// memory per registered client: the table entry, its rate limiter, its
// queue and the registration's answer waiting in it (not the Noise session
// the secure layer keeps per peer). Run it with -benchtime 20000x.
func BenchmarkRegisteredClient(b *testing.B) {
	sock, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewServer(sock, Config{Static: newKey(b), MaxClients: max(b.N, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.conn.Close()
	register, _ := wire.AppendRelay(nil, wire.RelayMessage{Type: wire.TypeRelayRegister, Addrs: []netip.AddrPort{
		netip.MustParseAddrPort("192.168.1.2:7475"), netip.MustParseAddrPort("[2001:db8::2]:7475")}})
	now := time.Now()
	before := heapInUse()
	b.ResetTimer()
	for i := range b.N {
		var k keys.PublicKey
		k[0], k[1], k[2], k[3] = 1, byte(i), byte(i>>8), byte(i>>16)
		s.handleFrom(k, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 7475), register, now)
	}
	b.StopTimer()
	for _, c := range s.clients { // as if the writer had sent the answers
		for c.q.len() > 0 {
			c.q.pop()
		}
	}
	after := heapInUse()
	if s.Stats().Clients != b.N {
		b.Fatalf("%d registered, want %d", s.Stats().Clients, b.N)
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "B/client")
	runtime.KeepAlive(s)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkRegisteredSession registers b.N real clients, each over its own
// Noise session from its own loopback address, then drops the clients and
// measures what the relay keeps per client: the registration and the
// secure layer's session. Run it with -benchtime 500x.
func BenchmarkRegisteredSession(b *testing.B) {
	r := startRelay(b, Config{})
	before := heapInUse()
	b.ResetTimer()
	for i := range b.N {
		registerOnce(b, r, netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}))
	}
	b.StopTimer()
	if got := r.Stats().Clients; got != b.N {
		b.Fatalf("%d registered, want %d", got, b.N)
	}
	b.ReportMetric(float64(heapInUse()-before)/float64(b.N), "B/client")
}

// registerOnce registers a new key from ip and closes the client, keeping
// nothing of it (no test cleanup holds it), so what stays is the relay's.
func registerOnce(b *testing.B, r *testRelay, ip netip.Addr) {
	sec := dialRelay(b, r, newKey(b), ip)
	defer sec.Close()
	c, err := NewClient(ClientConfig{Conn: sec, Relay: r.Addr(), Retry: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.readLoop(); close(done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Register(ctx); err != nil {
		b.Fatal(err)
	}
	sec.Close()
	<-done
}
