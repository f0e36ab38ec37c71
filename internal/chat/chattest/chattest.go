// Package chattest holds what the tests of the chat node and of the UIs on
// it share: a node on a fake link (linktest) through which a test plays the
// network, nodes on the plain link and on the reliable transport over
// udptest's in-memory network (in the clear or over Noise sessions), and
// waiting for events. A UI's tests build
// their nodes here, so that they need not know the link layer any more
// than the UI does.
package chattest

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/plain"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// WaitTimeout bounds every wait here; no test should come near it.
const WaitTimeout = 5 * time.Second

// NewNode returns a reliable-mode node on a fake link at addr, through
// which the test plays the network: it reads what the node sends from the
// link's Sends (or Sent), and calls the node's Handler, the link's H,
// itself. Nothing closes the node: the test, or the UI it runs, does.
func NewNode(t testing.TB, cfg chat.Config, addr string) (*chat.Node, *linktest.Link) {
	t.Helper()
	l := linktest.NewQueued(netip.MustParseAddrPort(addr))
	n, err := chat.New(cfg, l.Open)
	if err != nil {
		t.Fatal(err)
	}
	return n, l
}

// PlainNode starts a node named name on a plain link at addr on mn. Nothing
// closes it: the test, or the UI it runs, does.
func PlainNode(t testing.TB, mn *udptest.MemNetwork, addr, name string) *chat.Node {
	t.Helper()
	conn, err := mn.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	n, err := chat.New(chat.Config{Name: name, Plain: true}, func(h link.Handler) (link.Link, error) {
		return plain.New(conn, h), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TransportNode starts a node named name on the reliable transport at addr
// on mn, unencrypted. Nothing closes it: the test, or the UI it runs, does.
func TransportNode(t testing.TB, mn *udptest.MemNetwork, addr, name string) *chat.Node {
	t.Helper()
	return transportNode(t, mn, addr, chat.Config{Name: name})
}

// KeyedTransportNode is TransportNode for a node that knows people by key:
// each peer's key is made from its address (PersonKey), as PeopleNode's.
func KeyedTransportNode(t testing.TB, mn *udptest.MemNetwork, addr, name string) *chat.Node {
	t.Helper()
	return KeyedFilesNode(t, mn, addr, name, chat.FileConfig{})
}

// KeyedFilesNode is KeyedTransportNode taking files as files says.
func KeyedFilesNode(t testing.TB, mn *udptest.MemNetwork, addr, name string, files chat.FileConfig) *chat.Node {
	t.Helper()
	return transportNode(t, mn, addr, chat.Config{Name: name, PeerCheck: addressKeys{}, Files: files})
}

// PersonKey is the key a keyed node (PeopleNode, KeyedTransportNode) knows
// the peer at addr by.
func PersonKey(addr string) [32]byte {
	k, _ := addressKeys{}.PeerKey(netip.MustParseAddrPort(addr))
	return k
}

// SecureNode starts a node named name on the whole stack at addr on mn:
// the reliable transport over a Noise session (SecureConn). Nothing closes
// it: the test does.
func SecureNode(t testing.TB, mn *udptest.MemNetwork, addr, name string) *chat.Node {
	t.Helper()
	return nodeOver(t, SecureConn(t, mn, addr, 0), chat.Config{Name: name}, transport.Config{MaxPacket: secure.MaxPacket})
}

// LoopbackNode starts a node named name on the whole stack as udpchat runs
// it, over a real UDP socket on 127.0.0.1 (a port of its own): the reliable
// transport over Noise sessions, each peer known by its session's key. It
// returns the node and its own key, as its peers know it. Nothing closes
// the node: the test does.
func LoopbackNode(t testing.TB, name string) (*chat.Node, keys.PublicKey) {
	t.Helper()
	sock, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sec, err := secure.NewConn(sock, secure.Config{Static: key})
	if err != nil {
		t.Fatal(err)
	}
	return nodeOver(t, sec, chat.Config{Name: name, PeerCheck: sessionKeys{sec}}, transport.Config{MaxPacket: secure.MaxPacket}), key.Public()
}

// sessionKeys is a PeerCheck that knows each peer by its session's key, as
// udpchat's does; every name is accepted.
type sessionKeys struct{ conn *secure.Conn }

func (s sessionKeys) Fingerprint(peer netip.AddrPort) string {
	if k, ok := s.conn.PeerKey(peer); ok {
		return k.Fingerprint()
	}
	return ""
}

func (sessionKeys) CheckName(netip.AddrPort, string) error { return nil }

func (s sessionKeys) PeerKey(peer netip.AddrPort) ([32]byte, bool) { return s.conn.PeerKey(peer) }

// SecureConn is the secure layer, with a key of its own and room for
// maxPeers sessions (0: the default), over a socket at addr on mn.
func SecureConn(t testing.TB, mn *udptest.MemNetwork, addr string, maxPeers int) *secure.Conn {
	t.Helper()
	conn, err := mn.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sec, err := secure.NewConn(conn, secure.Config{Static: key, MaxPeers: maxPeers})
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func transportNode(t testing.TB, mn *udptest.MemNetwork, addr string, cfg chat.Config) *chat.Node {
	t.Helper()
	conn, err := mn.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	return nodeOver(t, conn, cfg, transport.Config{})
}

// nodeOver starts a node on the reliable transport over conn.
func nodeOver(t testing.TB, conn udp.Conn, cfg chat.Config, tc transport.Config) *chat.Node {
	t.Helper()
	n, err := chat.New(cfg, func(h link.Handler) (link.Link, error) {
		ep, err := transport.New(conn, h, tc)
		if err != nil {
			return nil, err // not ep: a nil *Endpoint in a Link is not a nil Link
		}
		return ep, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// NextEvent returns n's next event, skipping those of the types of skip
// (chat.Sent{}, say), and fails the test if none comes within WaitTimeout.
func NextEvent(t testing.TB, n *chat.Node, skip ...chat.Event) chat.Event {
	t.Helper()
	deadline := time.After(WaitTimeout)
	for {
		select {
		case ev := <-n.Events():
			if !sameType(ev, skip) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event within %v", WaitTimeout)
			return nil
		}
	}
}

func sameType(ev chat.Event, of []chat.Event) bool {
	for _, o := range of {
		if reflect.TypeOf(ev) == reflect.TypeOf(o) {
			return true
		}
	}
	return false
}

// PeopleNode is NewNode for a node that knows people by key: its store is
// a new one in a temporary dir, and each peer's session has a key of its
// own (see chat.PeerKeys), made from its address; every name is accepted.
func PeopleNode(t testing.TB, name, addr string) (*chat.Node, *linktest.Link) {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return NewNode(t, chat.Config{Name: name, PeerCheck: addressKeys{}, Store: st}, addr)
}

// addressKeys is a PeerCheck that keys each peer by its address.
type addressKeys struct{}

func (addressKeys) Fingerprint(netip.AddrPort) string      { return "" }
func (addressKeys) CheckName(netip.AddrPort, string) error { return nil }

func (addressKeys) PeerKey(peer netip.AddrPort) ([32]byte, bool) {
	var key [32]byte
	b, _ := peer.MarshalBinary()
	copy(key[1:], b)
	key[0] = 1 // never all zeros
	return key, true
}
