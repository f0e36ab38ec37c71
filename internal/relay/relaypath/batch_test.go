package relaypath

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/udp"
)

// fakeSocket is a udp.Conn that records what is written to it and reads
// what the test queues.
type fakeSocket struct {
	mu      sync.Mutex
	batches [][]udp.Message // each write: one batch, or one datagram
	in      chan udp.Message
}

func newFakeSocket() *fakeSocket { return &fakeSocket{in: make(chan udp.Message, 16)} }

func (s *fakeSocket) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	d, ok := <-s.in
	if !ok {
		return 0, netip.AddrPort{}, net.ErrClosed
	}
	return copy(b, d.Buf), d.Addr, nil
}

func (s *fakeSocket) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	s.record([]udp.Message{{Buf: b, Addr: addr}})
	return len(b), nil
}

func (s *fakeSocket) record(ms []udp.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var batch []udp.Message
	for _, m := range ms {
		batch = append(batch, udp.Message{Buf: slices.Clone(m.Buf), Addr: m.Addr})
	}
	s.batches = append(s.batches, batch)
}

func (s *fakeSocket) written() [][]udp.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

func (s *fakeSocket) LocalAddr() netip.AddrPort { return netip.MustParseAddrPort("127.0.0.1:7475") }
func (s *fakeSocket) Close() error              { return nil }

// fakeBatchSocket is a fakeSocket that batches.
type fakeBatchSocket struct{ *fakeSocket }

func (s fakeBatchSocket) ReadBatch(ms []udp.Message) (int, error) {
	n, addr, err := s.ReadFrom(ms[0].Buf)
	if err != nil {
		return 0, err
	}
	ms[0].N, ms[0].Addr = n, addr
	for i := 1; i < len(ms); i++ {
		select {
		case d := <-s.in:
			ms[i].N, ms[i].Addr = copy(ms[i].Buf, d.Buf), d.Addr
		default:
			return i, nil
		}
	}
	return len(ms), nil
}

func (s fakeBatchSocket) WriteBatch(ms []udp.Message) (int, error) {
	s.record(ms)
	return len(ms), nil
}

func newTestPath(t testing.TB, sock udp.Conn) *Path {
	t.Helper()
	p, err := New(context.Background(), Config{Relays: []Spec{{Host: "127.0.0.1:7477"}}, Sock: sock})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The secure layer batches over the relay path's conn exactly when it
// would over the socket.
func TestConnBatchesWhenTheSocketDoes(t *testing.T) {
	if _, ok := newTestPath(t, newFakeSocket()).Conn().(udp.BatchConn); ok {
		t.Error("over a socket that does not batch, the path's conn claims to")
	}
	if _, ok := newTestPath(t, fakeBatchSocket{newFakeSocket()}).Conn().(udp.BatchConn); !ok {
		t.Error("over a socket that batches, the path's conn does not")
	}
}

// A batch goes to the socket in runs, but for the datagrams to relayed
// people, which go to the relay's queue by key; one for a handle no one
// holds is refused, and the rest still go.
func TestBatchWritesRunsToTheSocketAndHandlesToTheRelay(t *testing.T) {
	sock := fakeBatchSocket{newFakeSocket()}
	p := newTestPath(t, sock)
	bob := mustKey(t).Public()
	h := p.Introduce(bob)
	stranger := Handle(mustKey(t).Public())
	d1, d2 := netip.MustParseAddrPort("192.0.2.1:7475"), netip.MustParseAddrPort("192.0.2.2:7475")
	ms := []udp.Message{
		{Buf: []byte("a"), Addr: d1}, {Buf: []byte("b"), Addr: d2},
		{Buf: []byte("c"), Addr: h}, {Buf: []byte("x"), Addr: stranger},
		{Buf: []byte("d"), Addr: d1},
	}
	n, err := p.Conn().(udp.BatchConn).WriteBatch(ms)
	if n != 4 || err == nil {
		t.Errorf("WriteBatch: %d, %v; want 4 sent and the stranger's refused", n, err)
	}
	var got [][]string
	for _, b := range sock.written() {
		var texts []string
		for _, m := range b {
			texts = append(texts, string(m.Buf)+">"+m.Addr.String())
		}
		got = append(got, texts)
	}
	want := [][]string{{"a>" + d1.String(), "b>" + d2.String()}, {"d>" + d1.String()}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("the socket got %q, want %q", got, want)
	}
	select {
	case d := <-p.mux.out:
		if d.to != bob || string(d.datagram) != "c" {
			t.Errorf("queued for the relay: %q to %s, want %q to bob", d.datagram, d.to.Fingerprint(), "c")
		}
	default:
		t.Error("nothing queued for the relay")
	}
	if len(p.mux.out) != 0 {
		t.Errorf("%d more datagrams queued for the relay, want none", len(p.mux.out))
	}
}

// A batch read returns what the relay delivered first, then what the
// socket has, noting when a watched direct path was heard.
func TestBatchReadsDeliveriesFirst(t *testing.T) {
	sock := fakeBatchSocket{newFakeSocket()}
	p := newTestPath(t, sock)
	h := p.Introduce(mustKey(t).Public())
	direct := netip.MustParseAddrPort("192.0.2.1:7475")
	p.mux.watch(direct)
	p.mux.inject([]byte("relayed"), h)
	sock.in <- udp.Message{Buf: []byte("direct"), Addr: direct}

	bc := p.Conn().(udp.BatchConn)
	ms := make([]udp.Message, 4)
	for i := range ms {
		ms[i].Buf = make([]byte, 64)
	}
	for _, want := range []udp.Message{{Buf: []byte("relayed"), Addr: h}, {Buf: []byte("direct"), Addr: direct}} {
		n, err := bc.ReadBatch(ms)
		if err != nil || n != 1 || string(ms[0].Buf[:ms[0].N]) != string(want.Buf) || ms[0].Addr != want.Addr {
			t.Fatalf("ReadBatch: %d, %v, %q from %s; want %q from %s", n, err, ms[0].Buf[:ms[0].N], ms[0].Addr, want.Buf, want.Addr)
		}
	}
	if !p.mux.heardWithin(direct, time.Hour) {
		t.Error("the watched direct path, read in a batch, is not noted as heard")
	}
}
