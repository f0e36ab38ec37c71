package line

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/plain"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// waitTimeout bounds every wait in these tests; none should come near it.
const waitTimeout = 5 * time.Second

// lines is an io.Writer that keeps what is written to it as lines, and lets
// a test wait for one.
type lines struct {
	mu      sync.Mutex
	partial []byte
	all     []string
	changed chan struct{} // closed and replaced on each new line
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.all = append(l.all, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

func (l *lines) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all)
}

// waitFor waits until a line equal to want has been written.
func (l *lines) waitFor(t *testing.T, want string) {
	t.Helper()
	l.waitMatch(t, regexp.MustCompile("^"+regexp.QuoteMeta(want)+"$"))
}

// waitMatch waits until a line matching re has been written.
func (l *lines) waitMatch(t *testing.T, re *regexp.Regexp) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		l.mu.Lock()
		found := slices.ContainsFunc(l.all, re.MatchString)
		changed := l.changed
		l.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no line matching %q within %v; have %q", re, waitTimeout, l.snapshot())
		}
	}
}

// session is one Run, fed through a pipe.
type session struct {
	node   *chat.Node
	stdin  *io.PipeWriter
	stdout *lines
	stderr *lines
	cancel context.CancelFunc
	exit   chan int
}

// run starts Run on node and stops it at the end of the test.
func run(t *testing.T, node *chat.Node, opts Options) *session {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{node: node, stdin: pw, stdout: newLines(), stderr: newLines(), cancel: cancel, exit: make(chan int, 1)}
	go func() { s.exit <- Run(ctx, node, pr, s.stdout, s.stderr, opts) }()
	t.Cleanup(func() {
		cancel()
		s.wait(t)
		pr.Close() // ends the reader goroutine if it is still in Read
	})
	return s
}

// send writes input lines.
func (s *session) send(t *testing.T, text ...string) {
	t.Helper()
	for _, line := range text {
		if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
			t.Fatalf("writing %q: %v", line, err)
		}
	}
}

// wait returns Run's exit code, once it has returned.
func (s *session) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.exit:
		s.exit <- code // for the next caller
		return code
	case <-time.After(waitTimeout):
		t.Fatalf("Run did not return within %v", waitTimeout)
		return -1
	}
}

// eof ends the input and returns the exit code.
func (s *session) eof(t *testing.T) int {
	t.Helper()
	s.stdin.Close()
	return s.wait(t)
}

// plainNode starts a node named name on a plain link at addr on mn.
func plainNode(t *testing.T, mn *udptest.MemNetwork, addr, name string) *chat.Node {
	t.Helper()
	conn, err := mn.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	n, err := chat.New(chat.Config{Name: name, Plain: true}, func(h chat.Handler) (chat.Link, error) {
		return plain.New(conn, h), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n // Run closes it
}

// fakeLink stands in for the reliable transport: what the node sends waits
// in sends until the test, or a relay, plays the network's part.
type fakeLink struct {
	addr     netip.AddrPort
	h        chat.Handler
	sends    chan fakeSend
	lastRef  uint64 // the node calls Send under its lock
	closed   chan struct{}
	holdAcks atomic.Bool // the relay delivers but does not acknowledge
}

type fakeSend struct {
	peer netip.AddrPort
	msg  []byte
	ref  uint64
}

func (l *fakeLink) Connect(netip.AddrPort) error { return nil }
func (l *fakeLink) Send(peer netip.AddrPort, msg []byte) (uint64, error) {
	l.lastRef++
	l.sends <- fakeSend{peer, bytes.Clone(msg), l.lastRef}
	return l.lastRef, nil
}
func (l *fakeLink) Close(context.Context) error { close(l.closed); return nil }
func (l *fakeLink) LocalAddr() netip.AddrPort   { return l.addr }

// fakeNode returns a reliable-mode node on a fakeLink at addr.
func fakeNode(t *testing.T, name, addr string) (*chat.Node, *fakeLink) {
	t.Helper()
	return fakeNodeWith(t, chat.Config{Name: name}, addr)
}

// fakeNodeWith is fakeNode with cfg (a store, say).
func fakeNodeWith(t *testing.T, cfg chat.Config, addr string) (*chat.Node, *fakeLink) {
	t.Helper()
	link := &fakeLink{
		addr:   netip.MustParseAddrPort(addr),
		sends:  make(chan fakeSend, 100),
		closed: make(chan struct{}),
	}
	n, err := chat.New(cfg, func(h chat.Handler) (chat.Link, error) {
		link.h = h
		return link, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, link
}

// relay is a perfect network between two fakeLinks, run by one goroutine
// so that each node's Handler is called one call at a time, as by a real
// link. Sends to any other address are lost.
type relay struct {
	calls chan func() // run on the relay's goroutine
}

func startRelay(t *testing.T, a, b *fakeLink) *relay {
	r := &relay{calls: make(chan func())}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		up := make(map[*fakeLink]bool)
		for {
			var s fakeSend
			var from, to *fakeLink
			select {
			case s = <-a.sends:
				from, to = a, b
			case s = <-b.sends:
				from, to = b, a
			case f := <-r.calls:
				f()
				continue
			case <-stop:
				return
			}
			if s.peer != to.addr {
				continue
			}
			if !up[to] { // the first packet starts the session, as in transport
				up[to] = true
				to.h.PeerUp(from.addr)
			}
			to.h.Receive(from.addr, s.msg)
			if !from.holdAcks.Load() {
				from.h.Delivered(s.peer, s.ref)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return r
}

// do runs f on the relay's goroutine, as a link calls its Handler, and
// returns when f has.
func (r *relay) do(f func()) {
	done := make(chan struct{})
	r.calls <- func() { f(); close(done) }
	<-done
}

// nextEvent returns n's next event other than Sent and Delivered.
func nextEvent(t *testing.T, n *chat.Node) chat.Event {
	t.Helper()
	for {
		select {
		case ev := <-n.Events():
			switch ev.(type) {
			case chat.Sent, chat.Delivered:
				continue
			}
			return ev
		case <-time.After(waitTimeout):
			t.Fatal("no event")
			return nil
		}
	}
}

// closeAtEnd closes a node that no Run closes, at the end of the test.
func closeAtEnd(t *testing.T, n *chat.Node) {
	t.Cleanup(func() { n.Close(context.Background()) })
}
