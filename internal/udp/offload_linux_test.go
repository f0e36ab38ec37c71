package udp

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// offloadModes are the ways a batch can go: with GSO and GRO where the
// system has them, and without, as where it has not (the fallback).
var offloadModes = []struct {
	name string
	off  bool
}{{"offload", false}, {"fallback", true}}

// listenMode is listen with offload on or off for the socket made.
func listenMode(t testing.TB, addr string, off bool) *Socket {
	t.Helper()
	was := disableOffload.Swap(off)
	defer disableOffload.Store(was)
	return listen(t, addr)
}

// mixedBatch is a batch as a busy socket sends one: runs of full-size
// datagrams to one peer ending in a shorter one, sizes changing mid-run,
// empty datagrams, and the other peer in between.
func mixedBatch(b, c netip.AddrPort) []Message {
	var out []Message
	add := func(to netip.AddrPort, size int) {
		buf := bytes.Repeat([]byte{byte(len(out))}, size)
		copy(buf, fmt.Sprintf("#%d", len(out)))
		out = append(out, Message{Buf: buf[:size], Addr: to})
	}
	for range 40 {
		add(b, 1200)
	}
	add(b, 700)
	add(b, 1200)
	add(c, 100)
	add(c, 100)
	add(b, 0)
	for i := range 30 {
		add(b, 300+i%2) // equal neighbours only in pairs: runs of two
	}
	for range 70 { // longer than a call
		add(c, 999)
	}
	return out
}

// GSO and GRO deliver what sendmmsg and recvmmsg deliver: every datagram,
// in order, whole, from the right source, whichever end offloads.
func TestSocketBatchOffload(t *testing.T) {
	for _, send := range offloadModes {
		for _, recv := range offloadModes {
			t.Run("send "+send.name+"/receive "+recv.name, func(t *testing.T) {
				a := listenMode(t, ":0", send.off)
				b, c := listenMode(t, "127.0.0.1:0", recv.off), listenMode(t, "127.0.0.1:0", recv.off)
				// b and c write to a at a second address first: a answers
				// from it (PKTINFO, with the segment size).
				contacted := netip.AddrPortFrom(secondLoopback, a.LocalAddr().Port())
				for _, r := range []*Socket{b, c} {
					if _, err := r.WriteBatch([]Message{{Buf: []byte("hello"), Addr: contacted}}); err != nil {
						t.Fatal(err)
					}
					readBatchWithin(t, a, newMessages(1, 100), 1)
					// A burst turns GRO on where offloading.
					burst := make([]Message, groAfter)
					for i := range burst {
						burst[i] = Message{Buf: []byte("welcome"), Addr: r.LocalAddr()}
					}
					if _, err := a.WriteBatch(burst); err != nil {
						t.Fatal(err)
					}
					readBatchWithin(t, r, newMessages(len(burst), 100), len(burst))
					if on := r.batch.off.gro.Load(); on == recv.off {
						t.Fatalf("GRO on: %v after a burst, with offload disabled: %v", on, recv.off)
					}
				}
				out := mixedBatch(b.LocalAddr(), c.LocalAddr())
				if sent, err := a.WriteBatch(out); sent != len(out) || err != nil {
					t.Fatalf("WriteBatch: %d of %d sent, %v", sent, len(out), err)
				}
				from := contacted
				for _, r := range []*Socket{b, c} {
					var want [][]byte
					for _, m := range out {
						if m.Addr == r.LocalAddr() {
							want = append(want, m.Buf)
						}
					}
					in := newMessages(len(want), 1300)
					readBatchWithin(t, r, in, len(want))
					for i := range want {
						if got := in[i].Buf[:in[i].N]; !bytes.Equal(got, want[i]) || in[i].Addr != from {
							t.Fatalf("datagram %d: %d bytes %.8q from %v, want %d bytes %.8q from %v", i, len(got), got, in[i].Addr, len(want[i]), want[i], from)
						}
					}
				}
			})
		}
	}
}

// checkRunDelivered sends a run of 20 datagrams of size bytes from a to b in
// one WriteBatch, and checks b reads each, whole and in order.
func checkRunDelivered(t *testing.T, a, b *Socket, size int) {
	t.Helper()
	out := make([]Message, 20)
	for i := range out {
		out[i] = Message{Buf: bytes.Repeat([]byte{byte(i)}, size), Addr: b.LocalAddr()}
	}
	if sent, err := a.WriteBatch(out); sent != len(out) || err != nil {
		t.Fatalf("WriteBatch: %d of %d sent, %v", sent, len(out), err)
	}
	in := newMessages(len(out), size+100)
	readBatchWithin(t, b, in, len(out))
	for i := range out {
		if got := in[i].Buf[:in[i].N]; !bytes.Equal(got, out[i].Buf) {
			t.Fatalf("datagram %d: %d bytes of %d, starting %v", i, len(got), len(out[i].Buf), got[:min(len(got), 1)])
		}
	}
}

// A socket the kernel will not segment for (here, one sending without UDP
// checksums, SO_NO_CHECK: EINVAL) has its run sent again one datagram a
// header, and stops asking: every datagram arrives, both times.
func TestSocketBatchGSORefused(t *testing.T) {
	a, b := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	if !a.batch.off.gsoOn() {
		t.Skip("no GSO on this system: nothing to refuse")
	}
	var serr error
	if err := a.batch.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	for round := range 2 { // the second with GSO off from the start
		checkRunDelivered(t, a, b, 1200)
		if a.batch.off.gsoOn() {
			t.Fatalf("round %d: GSO still on after the socket refused it", round)
		}
	}
}
