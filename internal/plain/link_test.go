package plain

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// call is one Handler call, as the recording handler saw it.
type call struct {
	peer netip.AddrPort
	msg  string
}

// recorder is a Handler that passes every call to the test through a
// channel, copying msg since it is only valid during the call.
type recorder chan call

func (r recorder) Receive(peer netip.AddrPort, msg []byte) error {
	r <- call{peer: peer, msg: string(msg)}
	return nil
}

func (r recorder) next(t *testing.T) call {
	t.Helper()
	select {
	case c := <-r:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no handler call within 5s")
		return call{}
	}
}

func listen(t *testing.T, mn *udptest.MemNetwork, addr string) udp.Conn {
	t.Helper()
	c, err := mn.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newLink(t *testing.T, conn udp.Conn) (*Link, recorder) {
	t.Helper()
	rec := make(recorder, 16)
	l := New(conn, rec)
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l, rec
}

func readOne(t *testing.T, c udp.Conn) (string, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 70000)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), from
}

func TestSendWritesExactlyThePayload(t *testing.T) {
	mn := udptest.NewMemNetwork()
	l, _ := newLink(t, listen(t, mn, "10.0.0.1:7475"))
	peer := listen(t, mn, "10.0.0.2:7475")

	var last uint64
	for _, payload := range []string{"alice:hello", "alice:", "alice:x:y\n"} {
		ref, err := l.Send(peer.LocalAddr(), []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		if ref <= last {
			t.Errorf("ref %d after %d: refs must grow", ref, last)
		}
		last = ref
		got, from := readOne(t, peer)
		if got != payload || from != l.LocalAddr() {
			t.Errorf("peer read %q from %s, want %q from %s", got, from, payload, l.LocalAddr())
		}
	}
}

// Every datagram is handed up as it came, from whichever address.
func TestReceiveEveryDatagram(t *testing.T) {
	mn := udptest.NewMemNetwork()
	l, rec := newLink(t, listen(t, mn, "10.0.0.1:7475"))
	bob := listen(t, mn, "10.0.0.2:7475")
	carol := listen(t, mn, "10.0.0.3:7475")
	long := string(bytes.Repeat([]byte("x"), 60000)) // far over 1200: still whole

	send := func(c udp.Conn, msg string) {
		if _, err := c.WriteTo([]byte(msg), l.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	want := func(c call) {
		t.Helper()
		if got := rec.next(t); got != c {
			t.Errorf("handler got %+v, want %+v", got, c)
		}
	}
	send(bob, "bob:hi")
	want(call{peer: bob.LocalAddr(), msg: "bob:hi"})
	send(bob, long)
	want(call{peer: bob.LocalAddr(), msg: long})
	send(carol, "no colon\n")
	want(call{peer: carol.LocalAddr(), msg: "no colon\n"})
	send(carol, "")
	want(call{peer: carol.LocalAddr(), msg: ""})
}

func TestConnectSendsNothingAndChecksTheAddress(t *testing.T) {
	mn := udptest.NewMemNetwork()
	l, _ := newLink(t, listen(t, mn, "10.0.0.1:7475"))
	peer := listen(t, mn, "10.0.0.2:7475")
	if err := l.Connect(peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []netip.AddrPort{{}, netip.MustParseAddrPort("10.0.0.2:0")} {
		if err := l.Connect(bad); err == nil {
			t.Errorf("Connect(%v) = nil, want an error", bad)
		}
	}
	// Nothing was sent: the first datagram the peer sees is this one.
	if _, err := l.Send(peer.LocalAddr(), []byte("a:first")); err != nil {
		t.Fatal(err)
	}
	if got, _ := readOne(t, peer); got != "a:first" {
		t.Errorf("peer read %q first, want a:first", got)
	}
}

func TestCloseStopsTheReaderAndTheSocket(t *testing.T) {
	mn := udptest.NewMemNetwork()
	conn := listen(t, mn, "10.0.0.1:7475")
	l := New(conn, make(recorder))
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := l.Send(netip.MustParseAddrPort("10.0.0.2:1"), []byte("a:b")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close: %v, want net.ErrClosed", err)
	}
}

func TestReceiveOnARealSocket(t *testing.T) {
	s, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, rec := newLink(t, s)
	c, err := net.Dial("udp", l.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("nc:hi\n")); err != nil {
		t.Fatal(err)
	}
	if got := rec.next(t); got.msg != "nc:hi\n" {
		t.Errorf("received %q, want %q", got.msg, "nc:hi\n")
	}
}
