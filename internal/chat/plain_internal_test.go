package chat

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/wire"
)

// drainEvents reads n's events until the test ends, so that a test may make
// the node emit more than Events holds; it returns a function that stops
// reading and says how many were read.
func drainEvents(t *testing.T, n *Node) (stop func() int) {
	t.Helper()
	quit, count := make(chan struct{}), make(chan int)
	go func() {
		read := 0
		for {
			select {
			case <-n.Events():
				read++
			case <-quit:
				count <- read
				return
			}
		}
	}()
	return func() int {
		close(quit)
		return <-count
	}
}

// sentTo lists the peers the sends went to.
func sentTo(sends []linktest.Send) []netip.AddrPort {
	var to []netip.AddrPort
	for _, s := range sends {
		to = append(to, s.Peer)
	}
	return to
}

// spoofed is the i-th of a flood of sources, none of which answers.
func spoofed(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), uint16(1024+i))
}

// 20,000 one-byte datagrams from as many (spoofed) sources made 11,083
// peers, and the next line went to all of them. The table stays bounded,
// the peers the user chose and those that talk stay in it, and only they
// get what is sent to everyone.
func TestPlainFloodOfOneDatagramSources(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice", Plain: true})
	stop := drainEvents(t, n)
	bob := netip.MustParseAddrPort("10.0.0.2:7475")
	carol := netip.MustParseAddrPort("10.0.0.3:7475")
	if err := n.Connect(bob); err != nil {
		t.Fatal(err)
	}
	// carol talks: she is in the conversation, though the user did not
	// name her.
	n.Receive(carol, []byte("carol:hi"))
	n.Receive(carol, []byte("carol:anyone?"))
	const flood = 20000
	for i := range flood {
		n.Receive(spoofed(i), []byte("x"))
	}
	stop()
	peers := n.Peers()
	if len(peers) > maxPlainPeers {
		t.Errorf("%d peers after %d sources, want at most %d", len(peers), flood, maxPlainPeers)
	}
	for _, want := range []netip.AddrPort{bob, carol} {
		if !slices.ContainsFunc(peers, func(p PeerInfo) bool { return p.Addr == want }) {
			t.Errorf("%s is not among the peers after the flood", want)
		}
	}
	// The first Send says once whom it left out.
	sent, err := n.Send("secret")
	if err == nil || !strings.Contains(err.Error(), "more, which have written only once") {
		t.Errorf("Send: %v, want it to say it left out those that wrote once", err)
	}
	if got := sentTo(link.Take()); !slices.Equal(got, []netip.AddrPort{bob, carol}) {
		t.Errorf("the line went to %d addresses %v, want bob and carol alone", len(got), got[:min(len(got), 5)])
	}
	if len(sent) != 2 {
		t.Errorf("Send returned %d Sents, want 2", len(sent))
	}
	// The user may still choose one that wrote once.
	last := spoofed(flood - 1)
	if _, err := n.SendTo(last, "you?"); err != nil {
		t.Fatalf("SendTo %s: %v", last, err)
	}
	if got := sentTo(link.Take()); !slices.Equal(got, []netip.AddrPort{last}) {
		t.Errorf("SendTo went to %v, want %s", got, last)
	}
}

// An address that wrote once is not sent to, and Send says why and how
// to include it; once it writes again it is in the conversation.
func TestPlainOneDatagramIsNotARecipient(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice", Plain: true})
	carol := netip.MustParseAddrPort("10.0.0.3:5555")
	n.Receive(carol, []byte("carol:hello"))
	wantEvents(t, n, Joined{Peer: carol, Name: "carol"}, Message{From: carol, Name: "carol", Text: "hello"})
	sent, err := n.Send("hi carol")
	if len(sent) != 0 || len(link.Take()) != 0 {
		t.Errorf("Send sent %v to an address that wrote once", sent)
	}
	if err == nil || !strings.Contains(err.Error(), "not sent to carol ("+carol.String()+"), which has written only once") || !strings.Contains(err.Error(), "/connect "+carol.String()) {
		t.Errorf("Send: %v, want an error naming carol and /connect", err)
	}
	n.Receive(carol, []byte("carol:anyone?"))
	nextEvent(t, n)
	if _, err := n.Send("hi carol"); err != nil {
		t.Fatal(err)
	}
	if got := sentTo(link.Take()); !slices.Equal(got, []netip.AddrPort{carol}) {
		t.Errorf("sent to %v, want carol", got)
	}
}

// The threaded classic script listens on one port and sends from another.
// Its datagrams are the configured peer's: one peer, shown as plain, sent
// to once a line, at the port it listens on.
func TestPlainScriptSendsFromAnotherPort(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice", Plain: true})
	carol := netip.MustParseAddrPort("10.0.0.3:9101")
	if err := n.Connect(carol); err != nil {
		t.Fatal(err)
	}
	wantPeers := func(want ...PeerInfo) {
		t.Helper()
		if got := n.Peers(); !slices.Equal(got, want) {
			t.Errorf("peers %+v, want %+v", got, want)
		}
	}
	wantPeers(PeerInfo{Addr: carol, State: PeerPlain})
	if got := PeerPlain.String(); got != "plain (no acknowledgements)" {
		t.Errorf("PeerPlain shows as %q", got)
	}
	for _, from := range []string{"10.0.0.3:50123", "10.0.0.3:50124"} { // a socket a line, or one
		n.Receive(netip.MustParseAddrPort(from), []byte("carol:hi from "+from))
	}
	wantEvents(t, n,
		Joined{Peer: carol, Name: "carol"},
		Message{From: carol, Name: "carol", Text: "hi from 10.0.0.3:50123"},
		Message{From: carol, Name: "carol", Text: "hi from 10.0.0.3:50124"},
	)
	wantPeers(PeerInfo{Addr: carol, Name: "carol", State: PeerPlain})
	if _, err := n.Send("hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.SendTo(carol, "psst"); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Sent{To: carol, Text: "hello"}, Sent{To: carol, Text: "psst", Direct: true})
	if got := sentTo(link.Take()); !slices.Equal(got, []netip.AddrPort{carol, carol}) {
		t.Errorf("sent to %v, want carol's listening port twice", got)
	}
	// Another name from that host is someone else.
	dave := netip.MustParseAddrPort("10.0.0.3:50999")
	n.Receive(dave, []byte("dave:me too"))
	wantEvents(t, n, Joined{Peer: dave, Name: "dave"}, Message{From: dave, Name: "dave", Text: "me too"})
}

// Two nameless configured peers on one host: a datagram from a third port
// could be either's, so it is neither's.
func TestPlainScriptAmbiguousPort(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice", Plain: true})
	for _, a := range []string{"10.0.0.3:9101", "10.0.0.3:9102"} {
		if err := n.Connect(netip.MustParseAddrPort(a)); err != nil {
			t.Fatal(err)
		}
	}
	from := netip.MustParseAddrPort("10.0.0.3:50123")
	n.Receive(from, []byte("carol:hi"))
	wantEvents(t, n, Joined{Peer: from, Name: "carol"}, Message{From: from, Name: "carol", Text: "hi"})
}

// The classic scripts read recvfrom(1024): a longer datagram arrived cut.
// The limit is 1,024 bytes unless the node is told another.
func TestPlainMax(t *testing.T) {
	bob := netip.MustParseAddrPort("10.0.0.2:7475")
	for _, c := range []struct {
		max, want int
	}{{0, 1024}, {20, 20}, {2000, 2000}} {
		n, link := newFakeNode(t, Config{Name: "alice", Plain: true, PlainMax: c.max})
		if err := n.Connect(bob); err != nil {
			t.Fatal(err)
		}
		fits := strings.Repeat("x", c.want-len("alice:"))
		if _, err := n.Send(fits); err != nil {
			t.Errorf("PlainMax %d: Send of %d bytes: %v", c.max, c.want, err)
		}
		if _, err := n.Send(fits + "x"); !errors.Is(err, wire.ErrTooBig) || !strings.Contains(err.Error(), "at most "+strconv.Itoa(c.want)+" bytes") {
			t.Errorf("PlainMax %d: Send of %d bytes: %v, want wire.ErrTooBig saying at most %d", c.max, c.want+1, err, c.want)
		}
		if s := link.Take(); len(s) != 1 || len(s[0].Msg) != c.want {
			t.Errorf("PlainMax %d: %d datagrams sent, want one of %d bytes", c.max, len(s), c.want)
		}
	}
}

// Empty datagrams are dropped and counted; one without a name says so.
func TestPlainEmptyAndNameless(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice", Plain: true})
	bob := netip.MustParseAddrPort("10.0.0.2:7475")
	for _, empty := range []string{"", "\n", "\r\n"} {
		n.Receive(bob, []byte(empty))
	}
	if got := n.Stats().Empty; got != 3 {
		t.Errorf("Stats().Empty = %d, want 3", got)
	}
	if len(n.Peers()) != 0 {
		t.Errorf("an empty datagram made a peer: %+v", n.Peers())
	}
	n.Receive(bob, []byte("hello\n"))
	n.Receive(bob, []byte(":colon first"))
	noName := bob.String() + " (no name)"
	wantEvents(t, n,
		Joined{Peer: bob, Name: bob.String()},
		Message{From: bob, Name: noName, Text: "hello"},
		Message{From: bob, Name: noName, Text: "colon first"},
	)
}
