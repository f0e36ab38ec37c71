package udp

import (
	"fmt"
	"net/netip"
	"testing"
)

// secondLoopback is an address every Linux machine has without setup (all
// of 127.0.0.0/8 is on lo) but that the system never picks as a source for
// a reply to 127.0.0.1: the second address of a multi-homed host.
var secondLoopback = netip.MustParseAddr("127.0.0.2")

// ioPath is one way of moving datagrams through a Socket: one a call, or a
// batch of one.
type ioPath struct {
	name  string
	write func(t *testing.T, s *Socket, b []byte, to netip.AddrPort)
	read  func(t *testing.T, s *Socket, b []byte) (int, netip.AddrPort)
}

var ioPaths = []ioPath{
	{"one a call",
		func(t *testing.T, s *Socket, b []byte, to netip.AddrPort) {
			t.Helper()
			if _, err := s.WriteTo(b, to); err != nil {
				t.Fatalf("WriteTo %s: %v", to, err)
			}
		},
		readWithin,
	},
	{"batch",
		func(t *testing.T, s *Socket, b []byte, to netip.AddrPort) {
			t.Helper()
			if _, err := s.WriteBatch([]Message{{Buf: b, Addr: to}}); err != nil {
				t.Fatalf("WriteBatch %s: %v", to, err)
			}
		},
		func(t *testing.T, s *Socket, b []byte) (int, netip.AddrPort) {
			t.Helper()
			ms := []Message{{Buf: b}}
			readBatchWithin(t, s, ms, 1)
			return ms[0].N, ms[0].Addr
		},
	},
}

// A socket listening on every address answers from the address it was
// contacted at: a peer that wrote to 127.0.0.2 drops (or does not know) an
// answer from 127.0.0.1, the address the system would pick by itself.
func TestReplyFromContactedAddress(t *testing.T) {
	for _, listenOn := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		for _, p := range ioPaths {
			t.Run(listenOn+"/"+p.name, func(t *testing.T) {
				server := listen(t, listenOn)
				client := listen(t, "127.0.0.1:0")
				checkReplySource(t, p, server, client, secondLoopback)
				// And the usual address still answers as itself.
				checkReplySource(t, p, server, client, netip.MustParseAddr("127.0.0.1"))
			})
		}
	}
}

// checkReplySource has client write to server at the address contacted,
// server answer the source it read, and checks the answer comes from
// contacted, at the server's port.
func checkReplySource(t *testing.T, p ioPath, server, client *Socket, contacted netip.Addr) {
	t.Helper()
	to := netip.AddrPortFrom(contacted, server.LocalAddr().Port())
	buf := make([]byte, 64)
	for i := range 3 { // the second and later answers too: nothing is one-shot
		msg := fmt.Appendf(nil, "ping %d", i)
		p.write(t, client, msg, to)
		n, from := p.read(t, server, buf)
		if string(buf[:n]) != string(msg) || from != client.LocalAddr() {
			t.Fatalf("server read %q from %s, want %q from %s", buf[:n], from, msg, client.LocalAddr())
		}
		p.write(t, server, []byte("pong"), from)
		n, from = p.read(t, client, buf)
		if string(buf[:n]) != "pong" {
			t.Fatalf("client read %q, want pong", buf[:n])
		}
		if from != to {
			t.Fatalf("answer %d to a datagram sent to %s came from %s: the peer would drop it", i, to, from)
		}
	}
}

// Answering from the contacted address costs no allocation either way.
func TestReplyFromContactedAddressAllocs(t *testing.T) {
	for _, p := range ioPaths {
		t.Run(p.name, func(t *testing.T) {
			server := listen(t, ":0")
			client := listen(t, "127.0.0.1:0")
			checkReplySource(t, p, server, client, secondLoopback) // warm up: the table has the peer
			to := netip.AddrPortFrom(secondLoopback, server.LocalAddr().Port())
			ping, pong, buf := []byte("ping"), []byte("pong"), make([]byte, 64)
			in, out := []Message{{Buf: buf}}, []Message{{Buf: pong}}
			allocs := testing.AllocsPerRun(500, func() {
				if _, err := client.WriteTo(ping, to); err != nil {
					t.Fatal(err)
				}
				if p.name == "batch" {
					if _, err := server.ReadBatch(in); err != nil {
						t.Fatal(err)
					}
					out[0].Addr = in[0].Addr
					if _, err := server.WriteBatch(out); err != nil {
						t.Fatal(err)
					}
				} else {
					_, from, err := server.ReadFrom(buf)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := server.WriteTo(pong, from); err != nil {
						t.Fatal(err)
					}
				}
				if _, _, err := client.ReadFrom(buf); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("ping read and answered from the contacted address: %v allocs, want 0", allocs)
			}
		})
	}
}

// An address the machine no longer has (here: one it never had, planted in
// the table) is not used as a source: the answer goes from the address the
// system picks, and the peer's entry is forgotten until it writes again.
func TestReplyWhenContactedAddressIsGone(t *testing.T) {
	for _, p := range ioPaths {
		t.Run(p.name, func(t *testing.T) {
			server := listen(t, "0.0.0.0:0")
			client := listen(t, "127.0.0.1:0")
			gone := localSource{addr: netip.MustParseAddr("192.0.2.1")} // TEST-NET-1: not ours
			server.srcs.learn(client.LocalAddr(), gone)
			p.write(t, server, []byte("still here"), client.LocalAddr())
			buf := make([]byte, 64)
			n, from := p.read(t, client, buf)
			if string(buf[:n]) != "still here" || from.Port() != server.LocalAddr().Port() {
				t.Fatalf("client read %q from %s, want %q from port %d", buf[:n], from, "still here", server.LocalAddr().Port())
			}
			if src, ok := server.srcs.lookup(client.LocalAddr()); ok {
				t.Errorf("the table still answers %s from %s", client.LocalAddr(), src.addr)
			}
			// The next datagram from the peer teaches the table again.
			checkReplySource(t, p, server, client, secondLoopback)
		})
	}
}

// A flood of sources (spoofed, say) turns the table over without growing
// it past two generations, and a peer in touch throughout keeps its entry.
func TestSourceTableBounded(t *testing.T) {
	tab := newSrcTable()
	honest := netip.MustParseAddrPort("192.0.2.7:7475")
	src := localSource{addr: netip.MustParseAddr("198.51.100.1")}
	tab.learn(honest, src)
	for i := range 5 * srcTableSize {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		tab.learn(netip.AddrPortFrom(a, 9), localSource{addr: a})
		if i%(srcTableSize/2) == 0 { // the honest peer writes now and then
			tab.learn(honest, src)
		}
		if n := len(tab.cur) + len(tab.old); n > 2*srcTableSize {
			t.Fatalf("after %d sources the table holds %d, want at most %d", i+1, n, 2*srcTableSize)
		}
	}
	if got, ok := tab.lookup(honest); !ok || got != src {
		t.Errorf("honest peer: %v %v, want %v", got, ok, src)
	}
}
