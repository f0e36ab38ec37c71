package tui

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/link/linktest"
)

// runSession is Run on a pipe for a terminal, as a real program.
type runSession struct {
	keys   *os.File
	stderr *bytes.Buffer
	exit   chan int
}

func startRun(t *testing.T, ctx context.Context, node *chat.Node) *runSession {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &runSession{keys: w, stderr: new(bytes.Buffer), exit: make(chan int, 1)}
	opts := Options{Timeout: time.Second, Input: r, Output: new(bytes.Buffer), Stderr: s.stderr, Env: []string{"TERM=xterm-256color"}}
	go func() { s.exit <- Run(ctx, node, opts) }()
	t.Cleanup(func() {
		w.Close()
		r.Close()
	})
	return s
}

func (s *runSession) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.exit:
		return code
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
		return -1
	}
}

func waitSends(t *testing.T, link *linktest.Link, n int) []fakeChat {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if c := chatsSent(t, link); len(c) >= n {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d messages sent", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunExitsZeroWhenAllIsDelivered(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	join(t, link, bob, "bob")
	s := startRun(t, context.Background(), node)
	s.keys.WriteString("hello\r")
	c := waitSends(t, link, 1)
	if c[0].Text != "hello" {
		t.Fatalf("sent %q", c[0].Text)
	}
	link.H.Delivered(bob, c[0].Ref)
	s.keys.WriteString("/quit\r")
	if code := s.wait(t); code != 0 {
		t.Errorf("exit %d, want 0; stderr: %s", code, s.stderr)
	}
	if !link.Closed() {
		t.Error("Run returned without closing the node")
	}
}

// SIGTERM (ctx) leaves too; what was not delivered is said on stderr once
// the screen is back, and makes the exit code 1.
func TestRunReportsWhatWasNotDelivered(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	join(t, link, bob, "bob")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startRun(t, ctx, node)
	s.keys.WriteString("into the void\r")
	waitSends(t, link, 1)
	cancel()
	if code := s.wait(t); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if want := "udpchat: not delivered before leaving: 1 message to bob (10.0.0.2:7475)\n"; !strings.Contains(s.stderr.String(), want) {
		t.Errorf("stderr %q, want %q", s.stderr, want)
	}
	if !link.Closed() {
		t.Error("Run returned without closing the node")
	}
}

// A message a relay holds in its recipient's mailbox is not lost: leaving
// does not wait for it, says the relay holds it, and exits 0.
func TestRunLeavesWhatTheRelayHolds(t *testing.T) {
	node, link := chattest.PeopleNode(t, "alice", "10.0.0.1:7475")
	join(t, link, bob, "bob")
	s := startRun(t, context.Background(), node)
	s.keys.WriteString("into the mailbox\r")
	waitSends(t, link, 1)
	link.H.PeerClosed(bob)
	mail := node.ToHold(0, time.Hour)
	if len(mail) != 1 {
		t.Fatalf("to hold: %+v, want the message", mail)
	}
	if err := node.MarkHeld(mail[0]); err != nil {
		t.Fatal(err)
	}
	s.keys.WriteString("/quit\r")
	if code := s.wait(t); code != 0 {
		t.Errorf("exit %d, want 0; stderr: %s", code, s.stderr)
	}
	if want := "udpchat: held by the relay until they come back: 1 message to bob (10.0.0.2:7475)\n"; !strings.Contains(s.stderr.String(), want) {
		t.Errorf("stderr %q, want %q", s.stderr, want)
	}
}
