package line

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/link/linktest"
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

// plainNode starts a node named name on a plain link at addr on mn (Run
// closes it).
func plainNode(t *testing.T, mn *udptest.MemNetwork, addr, name string) *chat.Node {
	t.Helper()
	return chattest.PlainNode(t, mn, addr, name)
}

// fakeNode returns a reliable-mode node on a fake link (linktest.Link) at addr.
func fakeNode(t *testing.T, name, addr string) (*chat.Node, *linktest.Link) {
	t.Helper()
	return chattest.NewNode(t, chat.Config{Name: name}, addr)
}

// relay is a perfect network between two fake links (linktest.Link), run by one
// goroutine so that each node's Handler is called one call at a time, as by
// a real link. Sends to any other address are lost.
type relay struct {
	calls chan func() // run on the relay's goroutine
	links [2]*linktest.Link
	hold  [2]atomic.Bool // links[i]'s peer gets its messages but does not acknowledge them
}

func startRelay(t *testing.T, a, b *linktest.Link) *relay {
	r := &relay{calls: make(chan func()), links: [2]*linktest.Link{a, b}}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		up := make(map[*linktest.Link]bool)
		for {
			var s linktest.Send
			var from, to int
			select {
			case s = <-a.Sends:
				from, to = 0, 1
			case s = <-b.Sends:
				from, to = 1, 0
			case f := <-r.calls:
				f()
				continue
			case <-stop:
				return
			}
			src, dst := r.links[from], r.links[to]
			if s.Peer != dst.Addr {
				continue
			}
			if !up[dst] { // the first packet starts the session, as in transport
				up[dst] = true
				dst.H.PeerUp(src.Addr)
			}
			dst.H.Receive(src.Addr, s.Msg)
			if !r.hold[from].Load() {
				src.H.Delivered(s.Peer, s.Ref)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return r
}

// holdAcks makes the relay deliver what l sends from now on without
// acknowledging it.
func (r *relay) holdAcks(l *linktest.Link) {
	for i := range r.links {
		if r.links[i] == l {
			r.hold[i].Store(true)
		}
	}
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
	return chattest.NextEvent(t, n, chat.Sent{}, chat.Delivered{})
}

// closeAtEnd closes a node that no Run closes, at the end of the test.
func closeAtEnd(t *testing.T, n *chat.Node) {
	t.Cleanup(func() { n.Close(context.Background()) })
}
