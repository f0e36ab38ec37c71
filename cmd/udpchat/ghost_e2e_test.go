package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// pendingIn lists the outbox of dir (udpchat history --pending).
func pendingIn(t *testing.T, dir string) []string {
	t.Helper()
	h := udpchat(t, "history", "--pending", "--data-dir", dir)
	if code := h.exit(t); code != 0 {
		t.Fatalf("history --pending exited %d; stderr:\n%s", code, h.stderr)
	}
	return h.stdout.lines()
}

// alicePair starts alice, then bob with --peer alice and bobArgs, each on
// a data dir of its own, and waits until bob has seen alice join.
func alicePair(t *testing.T, bobArgs ...string) (alice, bob *proc, aliceAddr, bobAddr, bobDir string) {
	t.Helper()
	aliceAddr, bobAddr, bobDir = loopback(t), loopback(t), privateDir(t)
	alice = chatAt(t, privateDir(t), aliceAddr, "alice")
	alice.listening(t)
	bob = chatAt(t, bobDir, bobAddr, "bob", append([]string{"-p", aliceAddr}, bobArgs...)...)
	bob.stderr.waitLine(t, `^\* alice joined`)
	return alice, bob, aliceAddr, bobAddr, bobDir
}

// Issue 16, item 11a: a udpchat send from a temporary port must not become
// a recipient of what the chat it wrote to types next.
func TestSendIsNeverARecipient(t *testing.T) {
	alice, bob, _, bobAddr, bobDir := alicePair(t, "--timeout", "5s")
	send := udpchat(t, "send", "-p", bobAddr, "--data-dir", privateDir(t), "--name", "carol", "hi")
	if code := send.exit(t); code != 0 {
		t.Fatalf("send exited %d; stderr:\n%s", code, send.stderr)
	}
	bob.stdout.waitLine(t, `^carol: hi$`)
	bob.say(t, "x")
	alice.stdout.waitLine(t, `^bob: x$`)
	bob.wantExit(t, 0) // nothing waits for send's temporary port
	if p := pendingIn(t, bobDir); len(p) != 0 {
		t.Errorf("bob's outbox after the chat: %q, want empty", p)
	}
	alice.wantExit(t, 0)
}

// Issue 16, item 11b: a /connect to an address where nothing listens is
// reported at the end ("no one answered") and leaves nothing in the outbox:
// a later pipe run to the live peer exits 0 and says nothing about it.
func TestUnansweredConnectLeavesNothingBehind(t *testing.T) {
	dead := loopback(t)
	alice, bob, aliceAddr, bobAddr, bobDir := alicePair(t)
	bob.say(t, "/connect "+dead, "hello")
	alice.stdout.waitLine(t, `^bob: hello$`)
	bob.say(t, "/quit")
	bob.exit(t)
	bob.stderr.waitLine(t, `^udpchat: no one answered at `+regexp.QuoteMeta(dead)+` `)
	if p := pendingIn(t, bobDir); len(p) != 0 {
		t.Errorf("bob's outbox after /connect to a dead address: %q, want empty", p)
	}

	again := chatAt(t, bobDir, bobAddr, "bob", "-p", aliceAddr, "--timeout", "5s")
	again.say(t, "later")
	alice.stdout.waitLine(t, `^bob: later$`)
	again.wantExit(t, 0)
	if err := again.stderr.String(); strings.Contains(err, dead) {
		t.Errorf("the later run speaks of the dead address:\n%s", err)
	}
	alice.wantExit(t, 0)
}

// udpchat history --cancel-peer gives up on everything waiting for a peer
// that answered once and will not again.
func TestHistoryCancelPeer(t *testing.T) {
	alice, bob, aliceAddr, _, bobDir := alicePair(t, "--timeout", "1s")
	alice.wantExit(t, 0)
	bob.stderr.waitLine(t, `^\* alice left`)
	bob.say(t, "one", "two")
	bob.wantExit(t, 1)
	if p := pendingIn(t, bobDir); len(p) != 2 {
		t.Fatalf("bob's outbox: %q, want the two lines for alice", p)
	}
	c := udpchat(t, "history", "--cancel-peer", aliceAddr, "--data-dir", bobDir)
	if code := c.exit(t); code != 0 {
		t.Fatalf("history --cancel-peer exited %d; stderr:\n%s", code, c.stderr)
	}
	if got, want := c.stdout.lines(), []string{"cancelled 2 messages to " + aliceAddr + ": they will not be sent again"}; !slices.Equal(got, want) {
		t.Errorf("history --cancel-peer said %q, want %q", got, want)
	}
	if p := pendingIn(t, bobDir); len(p) != 0 {
		t.Errorf("bob's outbox after --cancel-peer: %q", p)
	}
}
