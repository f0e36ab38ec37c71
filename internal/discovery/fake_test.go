package discovery

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// fakeLAN is one link for discoverers in a synctest bubble: a broadcast
// reaches every node on it (the sender too, as a real broadcast loops back),
// a unicast the one node at its address. It counts both.
type fakeLAN struct {
	mu         sync.Mutex // guards the fields below
	nodes      map[netip.AddrPort]*fakeNet
	broadcasts int
	unicasts   int
}

// fakeNet is one node's network on a fakeLAN.
type fakeNet struct {
	lan     *fakeLAN
	addr    netip.AddrPort // where its beacons come from
	deliver func(b []byte, from netip.AddrPort)
	muted   bool // what it sends is lost: it is as good as killed
	newLink bool // the next refresh finds a new link
}

func newLAN() *fakeLAN { return &fakeLAN{nodes: make(map[netip.AddrPort]*fakeNet)} }

func (n *fakeNet) serve(deliver func([]byte, netip.AddrPort)) {
	n.lan.mu.Lock()
	defer n.lan.mu.Unlock()
	n.deliver = deliver
	n.lan.nodes[n.addr] = n
}

func (n *fakeNet) broadcast(b []byte) error {
	l := n.lan
	l.mu.Lock()
	defer l.mu.Unlock()
	l.broadcasts++
	if n.muted {
		return nil
	}
	for _, to := range l.nodes {
		to.deliver(b, n.addr)
	}
	return nil
}

func (n *fakeNet) unicast(b []byte, to netip.AddrPort) error {
	l := n.lan
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unicasts++
	if dst := l.nodes[to]; dst != nil && !n.muted {
		dst.deliver(b, n.addr)
	}
	return nil
}

func (n *fakeNet) refresh() bool {
	n.lan.mu.Lock()
	defer n.lan.mu.Unlock()
	changed := n.newLink
	n.newLink = false
	return changed
}

func (n *fakeNet) close() error {
	n.lan.mu.Lock()
	defer n.lan.mu.Unlock()
	delete(n.lan.nodes, n.addr)
	return nil
}

// counts returns how many broadcasts and unicasts have been sent so far.
func (l *fakeLAN) counts() (broadcasts, unicasts int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.broadcasts, l.unicasts
}

// node is a discoverer on the fake LAN, at 192.0.2.i, chatting on 7475.
type node struct {
	*Discoverer
	key keys.PublicKey
	net *fakeNet
}

const testInterval = 30 * time.Second

func (l *fakeLAN) join(t *testing.T, name string, i int) *node {
	t.Helper()
	priv, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Key: priv.Public(), Name: name, ChatPort: 7475, Interval: testInterval}.withDefaults()
	if err := validate(cfg); err != nil {
		t.Fatal(err)
	}
	n := &fakeNet{lan: l, addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), uint16(40000+i))}
	d := start(context.Background(), cfg, n)
	t.Cleanup(func() { d.Close() })
	return &node{d, cfg.Key, n}
}

// endpoint is where n chats, as others should see it.
func (n *node) endpoint() netip.AddrPort { return netip.AddrPortFrom(n.net.addr.Addr(), 7475) }

// pending returns the events n has to give once everything in the bubble
// has settled.
func (n *node) pending(t *testing.T) []Event {
	t.Helper()
	var evs []Event
	for {
		synctest.Wait() // run offers the next event once it is back in its loop
		select {
		case ev := <-n.Events():
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// expect checks that n's pending events are exactly want, each a kind and
// the node it is about.
func (n *node) expect(t *testing.T, want ...any) {
	t.Helper()
	got := n.pending(t)
	var gotS, wantS []string
	for _, ev := range got {
		gotS = append(gotS, fmt.Sprintf("%v %s %s", ev.Kind, ev.Peer.Name, ev.Peer.Endpoint))
	}
	for i := 0; i < len(want); i += 2 {
		p := want[i+1].(*node)
		wantS = append(wantS, fmt.Sprintf("%v %s %s", want[i], p.nameNow(), p.endpoint()))
	}
	if fmt.Sprint(gotS) != fmt.Sprint(wantS) {
		t.Fatalf("events of %s: %q, want %q", n.cfg.Name, gotS, wantS)
	}
	for _, ev := range got {
		for i := 0; i < len(want); i += 2 {
			if p := want[i+1].(*node); ev.Peer.Name == p.nameNow() && (ev.Peer.Key != p.key || ev.Peer.Instance != p.Instance()) {
				t.Errorf("event about %s has key %v instance %x, want %v %x", p.nameNow(), ev.Peer.Key, ev.Peer.Instance, p.key, p.Instance())
			}
		}
	}
}

// nameNow is the name n announces now.
func (n *node) nameNow() string {
	var name string
	n.call(func(s *state) { name = s.name })
	return name
}

// stormBeacon is an announcement from the i-th key of a storm: not a real
// key, which a beacon cannot tell.
func stormBeacon(t *testing.T, i int) []byte {
	t.Helper()
	var key [32]byte
	binary.BigEndian.PutUint64(key[:], uint64(i)+1)
	b, err := wire.AppendBeacon(nil, wire.Beacon{Type: wire.BeaconAnnounce, Key: key, Instance: 1, ChatPort: 7475, Name: "storm"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
