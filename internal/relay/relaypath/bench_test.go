package relaypath

import (
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
)

// plainConn hides a socket's batching: the relay mux as it was before it
// batched.
type plainConn struct{ udp.Conn }

// BenchmarkDirectPathBatches: a burst of 16 transport-sized packets from
// a secure Conn on the relay path's conn to one on a bare socket, over
// loopback (a direct path, as once a hole is punched), written and read in
// batches: on the path's conn as it is (batchMux), on one that hides the
// socket's batching (the mux before), and on the bare socket (no relay).
func BenchmarkDirectPathBatches(b *testing.B) {
	const burst, size = 16, 1100
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, under := range []string{"socket", "relay-path", "relay-path-unbatched"} {
		b.Run(under, func(b *testing.B) {
			sock := securetest.ListenLoopback(b, loopback)
			inner := sock
			switch under {
			case "relay-path":
				inner = newTestPath(b, sock).Conn()
			case "relay-path-unbatched":
				inner = newTestPath(b, plainConn{sock}).Conn()
			}
			a := securetest.NewConn(b, secure.NewConn, inner, secure.Config{Static: securetest.MustKey(b)})
			c := securetest.NewConn(b, secure.NewConn, securetest.ListenLoopback(b, loopback), secure.Config{Static: securetest.MustKey(b)})
			b.Cleanup(func() { a.Close(); c.Close() })
			greet(b, a, c)
			out, in := make([]udp.Message, burst), make([]udp.Message, burst)
			for i := range out {
				out[i] = udp.Message{Buf: make([]byte, size), Addr: c.LocalAddr()}
				in[i].Buf = make([]byte, secure.MaxPacket)
			}
			for b.Loop() {
				if _, err := a.WriteBatch(out); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < burst; {
					n, err := c.ReadBatch(in[got:])
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

// greet makes a session from a to c: c reads a's first packet (answering
// the handshake on the way), a reads c's answer.
func greet(tb testing.TB, a, c *secure.Conn) {
	tb.Helper()
	errs := make(chan error, 1)
	go func() {
		_, _, err := a.ReadFrom(make([]byte, secure.MaxPacket))
		errs <- err
	}()
	if _, err := a.WriteTo([]byte("hello"), c.LocalAddr()); err != nil {
		tb.Fatal(err)
	}
	if _, _, err := c.ReadFrom(make([]byte, secure.MaxPacket)); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.WriteTo([]byte("hi"), a.LocalAddr()); err != nil {
		tb.Fatal(err)
	}
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
}
