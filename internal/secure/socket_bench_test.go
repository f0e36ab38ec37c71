package secure_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
)

// BenchmarkSockets: a burst of 16 transport-sized packets sealed and sent
// from one Conn to another over loopback sockets, then read and opened, in
// one goroutine: a system call per datagram (WriteTo, ReadFrom) against
// batches (WriteBatch, ReadBatch: sendmmsg and recvmmsg where the socket
// has them). What differs is the system calls; the crypto is the same.
func BenchmarkSockets(b *testing.B) {
	const burst, size = 16, 1100
	for _, batch := range []bool{false, true} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
			a, c := socketPair(b)
			out, in := burstTo(c, burst, size)
			b.ReportAllocs()
			for b.Loop() {
				if batch {
					if _, err := a.WriteBatch(out); err != nil {
						b.Fatal(err)
					}
				} else {
					for _, m := range out {
						if _, err := a.WriteTo(m.Buf, m.Addr); err != nil {
							b.Fatal(err)
						}
					}
				}
				for got := 0; got < burst; {
					n := 1
					var err error
					if batch {
						n, err = c.ReadBatch(in[got:])
					} else {
						_, _, err = c.ReadFrom(in[got].Buf)
					}
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/packet")
		})
	}
}

// socketPair is two Conns on loopback sockets with a session between them.
func socketPair(tb testing.TB) (a, c *secure.Conn) {
	loopback := netip.MustParseAddr("127.0.0.1")
	a = securetest.NewConn(tb, secure.NewConn, securetest.ListenLoopback(tb, loopback), secure.Config{Static: securetest.MustKey(tb)})
	c = securetest.NewConn(tb, secure.NewConn, securetest.ListenLoopback(tb, loopback), secure.Config{Static: securetest.MustKey(tb)})
	tb.Cleanup(func() { a.Close(); c.Close() })
	handshake(tb, a, c)
	return a, c
}

// burstTo is n packets of size bytes to c, and n buffers to read them into.
func burstTo(c *secure.Conn, n, size int) (out, in []udp.Message) {
	out, in = make([]udp.Message, n), make([]udp.Message, n)
	for i := range out {
		out[i] = udp.Message{Buf: make([]byte, size), Addr: c.LocalAddr()}
		in[i].Buf = make([]byte, secure.MaxPacket)
	}
	return out, in
}

// Batches between Conns on loopback sockets allocate nothing: sealed end
// to end, sent as one run (GSO where the system has it), read joined (GRO)
// and cut, opened.
func TestSocketsBatchAllocs(t *testing.T) {
	if secure.RaceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	a, c := socketPair(t)
	out, in := burstTo(c, 32, secure.MaxPacket)
	n := testing.AllocsPerRun(200, func() {
		if n, err := a.WriteBatch(out); n != len(out) || err != nil {
			t.Fatalf("WriteBatch: %d of %d, %v", n, len(out), err)
		}
		for got := 0; got < len(out); {
			n, err := c.ReadBatch(in[got:])
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if n != 0 {
		t.Errorf("a batch of %d written and read: %v allocations, want 0", len(out), n)
	}
}

// handshake makes a session between a and c: each read returns once the
// other's first packet has opened, the handshake answered on the way.
func handshake(tb testing.TB, a, c *secure.Conn) {
	tb.Helper()
	errs := make(chan error, 2)
	read := func(conn *secure.Conn) {
		_, _, err := conn.ReadFrom(make([]byte, secure.MaxPacket))
		errs <- err
	}
	if _, err := a.WriteTo([]byte("hello"), c.LocalAddr()); err != nil {
		tb.Fatal(err)
	}
	go read(c)
	go read(a)
	if err := <-errs; err != nil { // c has a's packet
		tb.Fatal(err)
	}
	if _, err := c.WriteTo([]byte("hi"), a.LocalAddr()); err != nil {
		tb.Fatal(err)
	}
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
}
