package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// readBatchWithin reads at least want datagrams with ReadBatch, failing the
// test rather than hanging.
func readBatchWithin(t *testing.T, s *Socket, ms []Message, want int) int {
	t.Helper()
	if err := s.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < want {
		n, err := s.ReadBatch(ms[got:])
		if err != nil {
			t.Fatalf("ReadBatch after %d of %d: %v", got, want, err)
		}
		got += n
	}
	return got
}

func newMessages(n, size int) []Message {
	ms := make([]Message, n)
	for i := range ms {
		ms[i].Buf = make([]byte, size)
	}
	return ms
}

// A batch goes out in order, to several addresses, and comes in with the
// right sources; more than maxBatch take more than one system call.
func TestSocketBatch(t *testing.T) {
	for _, listenOn := range []string{"127.0.0.1:0", ":0"} { // IPv4, and dual-stack (IPv4 mapped)
		t.Run(listenOn, func(t *testing.T) {
			a := listen(t, listenOn)
			b, c := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
			const n = maxBatch + 10
			out := make([]Message, n)
			for i := range out {
				to := b.LocalAddr()
				if i%3 == 2 {
					to = c.LocalAddr()
				}
				out[i] = Message{Buf: fmt.Appendf(nil, "datagram %d", i), Addr: to}
			}
			if sent, err := a.WriteBatch(out); sent != n || err != nil {
				t.Fatalf("WriteBatch: %d of %d sent, %v", sent, n, err)
			}
			from := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.LocalAddr().Port())
			for _, r := range []struct {
				s    *Socket
				want []int
			}{{b, nil}, {c, nil}} {
				for i := range out {
					if (i%3 == 2) == (r.s == c) {
						r.want = append(r.want, i)
					}
				}
				in := newMessages(len(r.want), 100)
				readBatchWithin(t, r.s, in, len(r.want))
				for j, i := range r.want {
					if got := in[j].Buf[:in[j].N]; !bytes.Equal(got, out[i].Buf) || in[j].Addr != from {
						t.Errorf("datagram %d: %q from %v, want %q from %v", j, got, in[j].Addr, out[i].Buf, from)
					}
				}
			}
		})
	}
}

func TestSocketBatchIPv6(t *testing.T) {
	a := listenIPv6(t)
	b := listen(t, "[::1]:0")
	out := []Message{{Buf: []byte("six"), Addr: b.LocalAddr()}, {Buf: []byte("seven"), Addr: b.LocalAddr()}}
	if sent, err := a.WriteBatch(out); sent != 2 || err != nil {
		t.Fatalf("WriteBatch: %d sent, %v", sent, err)
	}
	in := newMessages(4, 16)
	readBatchWithin(t, b, in, 2)
	for i := range out {
		if got := in[i].Buf[:in[i].N]; !bytes.Equal(got, out[i].Buf) || in[i].Addr != a.LocalAddr() {
			t.Errorf("read %q from %v, want %q from %v", got, in[i].Addr, out[i].Buf, a.LocalAddr())
		}
	}
}

// A datagram the system refuses is skipped, with an error; the rest go.
func TestSocketBatchSkipsRefused(t *testing.T) {
	a := listen(t, "127.0.0.1:0")
	b := listen(t, "127.0.0.1:0")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:9") // not on an IPv4 socket
	out := []Message{
		{Buf: []byte("one"), Addr: b.LocalAddr()},
		{Buf: []byte("nowhere"), Addr: v6},
		{Buf: make([]byte, maxDatagram+1), Addr: b.LocalAddr()}, // EMSGSIZE
		{Buf: []byte("two"), Addr: b.LocalAddr()},
	}
	sent, err := a.WriteBatch(out)
	if sent != 2 || err == nil {
		t.Fatalf("WriteBatch: %d sent, err %v; want 2 and an error", sent, err)
	}
	in := newMessages(4, 16)
	readBatchWithin(t, b, in, 2)
	if string(in[0].Buf[:in[0].N]) != "one" || string(in[1].Buf[:in[1].N]) != "two" {
		t.Errorf("read %q, %q", in[0].Buf[:in[0].N], in[1].Buf[:in[1].N])
	}
}

func TestSocketCloseUnblocksReadBatch(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.ReadBatch(newMessages(4, 16))
		errc <- err
	}()
	s.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadBatch after Close: %v, want net.ErrClosed", err)
	}
	if _, err := s.WriteBatch([]Message{{Buf: []byte("x"), Addr: netip.MustParseAddrPort("127.0.0.1:9")}}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteBatch after Close: %v, want net.ErrClosed", err)
	}
}

// Batches allocate nothing, sent as a GSO run and read joined (GRO) or
// one datagram a header.
func TestSocketBatchAllocs(t *testing.T) {
	for _, mode := range offloadModes {
		t.Run(mode.name, func(t *testing.T) {
			a := listenMode(t, ":0", mode.off)
			b := listenMode(t, "127.0.0.1:0", mode.off)
			out := make([]Message, 16)
			for i := range out {
				out[i] = Message{Buf: make([]byte, 1200), Addr: b.LocalAddr()}
			}
			in := newMessages(16, 2048)
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := a.WriteBatch(out); err != nil {
					t.Fatal(err)
				}
				for got := 0; got < len(out); {
					n, err := b.ReadBatch(in[got:])
					if err != nil {
						t.Fatal(err)
					}
					got += n
				}
			})
			if allocs != 0 {
				t.Errorf("batch of 16 written and read: %v allocs, want 0", allocs)
			}
		})
	}
}

// BenchmarkSocketBatch is BenchmarkSocket's datagrams, 16 a call.
func BenchmarkSocketBatch(b *testing.B) {
	src := listen(b, "127.0.0.1:0")
	dst := listen(b, "127.0.0.1:0")
	out := make([]Message, 16)
	for i := range out {
		out[i] = Message{Buf: make([]byte, 1200), Addr: dst.LocalAddr()}
	}
	in := newMessages(16, 2048)
	b.SetBytes(int64(len(out) * 1200))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.WriteBatch(out); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < len(out); {
			n, err := dst.ReadBatch(in)
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(out)), "ns/datagram")
}

// BenchmarkSocketReadBatchOne is BenchmarkSocket with the read done by
// ReadBatch, offered one buffer or 32: what a batch read costs when one
// datagram at a time comes (the kernel's failed try at a second), which is
// why the transport's reader reads one at a time while traffic does.
func BenchmarkSocketReadBatchOne(b *testing.B) {
	for _, offered := range []int{1, 32} {
		b.Run(fmt.Sprintf("offered=%d", offered), func(b *testing.B) {
			src := listen(b, "127.0.0.1:0")
			dst := listen(b, "127.0.0.1:0")
			msg := make([]byte, 1200)
			in := newMessages(offered, 2048)
			to := dst.LocalAddr()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := src.WriteTo(msg, to); err != nil {
					b.Fatal(err)
				}
				if _, err := dst.ReadBatch(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
