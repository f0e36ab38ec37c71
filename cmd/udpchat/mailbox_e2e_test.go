package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/relay/relaypath"
)

// TestMailboxDeliversWhileTheSenderIsGone: alice sends bob three lines
// while he is offline; they go to his mailbox at the relay (held), and
// alice quits, exit 0 with a note that the relay holds them. Bob starts
// later and gets them, once; alice's next start gets his receipts: they
// are delivered, and her outbox is empty. Bob stays up meanwhile: her
// outbox, which had them held, does not mail them again.
func TestMailboxDeliversWhileTheSenderIsGone(t *testing.T) {
	t.Setenv(noPunchEnv, "1")
	relayAddr := startRelay(t)
	aliceDir, bobDir := privateDir(t), privateDir(t)
	meetDirectly(t, aliceDir, bobDir)

	alice := chatAt(t, aliceDir, loopback(t), "alice", "--json", "--relay", relayAddr, "-p", "bob", "--timeout", "5s")
	alice.listening(t)
	lines := []string{"one", "two", "three"}
	alice.say(t, lines...)
	alice.stdout.waitFor(t, "three held", func() bool { return len(jsonEvents(t, alice.stdout, "held")) == 3 })
	alice.wantExit(t, 0)
	if !strings.Contains(alice.stderr.String(), "held by the relay until they come back: 3 messages") {
		t.Errorf("alice's stderr does not say the relay holds her messages:\n%s", alice.stderr)
	}
	if pending := history(t, "--data-dir", aliceDir, "--pending"); len(pending) != 3 || !strings.Contains(pending[0], "[pending, held by the relay ") {
		t.Errorf("alice's outbox while bob is away: %q, want her three messages, held by the relay", pending)
	}

	bob := chatAt(t, bobDir, loopback(t), "bob", "--json", "--relay", relayAddr)
	bob.listening(t)
	bob.stdout.waitFor(t, "alice's three messages", func() bool { return len(jsonEvents(t, bob.stdout, "message")) == 3 })

	alice = chatAt(t, aliceDir, loopback(t), "alice", "--json", "--relay", relayAddr)
	alice.listening(t)
	alice.stdout.waitFor(t, "three delivered", func() bool { return len(jsonEvents(t, alice.stdout, "delivered")) == 3 })
	alice.wantExit(t, 0)
	if pending := history(t, "--data-dir", aliceDir, "--pending"); len(pending) != 0 {
		t.Errorf("alice's outbox after bob's receipts: %q, want empty", pending)
	}
	bob.wantExit(t, 0)
	var got []string
	for _, m := range jsonEvents(t, bob.stdout, "message") {
		got = append(got, m["text"].(string))
	}
	if !slices.Equal(got, lines) {
		t.Errorf("bob got %q, want %q once each", got, lines)
	}
	if h := historyTexts(t, bobDir); !slices.Equal(h[len(h)-3:], lines) {
		t.Errorf("bob's history ends %q, want %q", h, lines)
	}
}

// TestMailboxHeldEndsTheWait: alice pipes one line to bob, who is away,
// with an hour's --timeout: once the relay holds it there is nothing left
// to wait for, so she exits 0 at once, saying so (not an hour later).
// Bob, starting later, is shown her message under her name, and not that
// she joined: mail is not a session.
func TestMailboxHeldEndsTheWait(t *testing.T) {
	t.Setenv(noPunchEnv, "1")
	relayAddr := startRelay(t)
	aliceDir, bobDir := privateDir(t), privateDir(t)
	meetDirectly(t, aliceDir, bobDir)

	alice := chatAt(t, aliceDir, loopback(t), "alice", "--relay", relayAddr, "-p", "bob", "--timeout", "1h")
	alice.listening(t)
	alice.say(t, "are you there")
	alice.wantExit(t, 0)
	if !strings.Contains(alice.stderr.String(), "held by the relay until they come back: 1 message to bob (") {
		t.Errorf("alice's stderr does not say the relay holds her message:\n%s", alice.stderr)
	}

	bob := chatAt(t, bobDir, loopback(t), "bob", "--relay", relayAddr)
	bob.listening(t)
	bob.stdout.waitLine(t, `^alice: are you there$`)
	bob.wantExit(t, 0)
	if strings.Contains(bob.stdout.String(), "joined") {
		t.Errorf("bob's output says alice joined, from her mail alone:\n%s", bob.stdout)
	}
}

// TestSendHoldsInTheRememberedRelay: alice's data dir remembers a relay;
// udpchat send to bob, who is away, waits its --timeout, then leaves the
// message in his mailbox and exits 0, saying the relay holds it. Bob gets
// it when he next starts with the relay.
func TestSendHoldsInTheRememberedRelay(t *testing.T) {
	t.Setenv(noPunchEnv, "1")
	relayAddr := startRelay(t)
	aliceDir, bobDir := privateDir(t), privateDir(t)
	meetDirectly(t, aliceDir, bobDir)
	if err := relaypath.Save(aliceDir, []relaypath.Spec{{Host: relayAddr}}); err != nil {
		t.Fatal(err)
	}

	send := udpchat(t, "send", "--data-dir", aliceDir, "-l", "127.0.0.1:0", "-p", "bob", "--timeout", "1s", "left for you")
	if code := send.exit(t); code != 0 {
		t.Fatalf("send exited %d, want 0; stderr:\n%s", code, send.stderr)
	}
	if !strings.Contains(send.stderr.String(), "held by the relay until they come back: 1 message to bob (") {
		t.Errorf("send's stderr does not say the relay holds the message:\n%s", send.stderr)
	}

	bob := chatAt(t, bobDir, loopback(t), "bob", "--relay", relayAddr)
	bob.listening(t)
	bob.stdout.waitLine(t, `^alice: left for you$`)
	bob.wantExit(t, 0)
}

// TestMailboxForAStaleHandle: bob was registered with the relay and
// crashed (SIGKILL) just before, so the relay still has him when alice
// starts: --peer bob resolves to his relay handle, where no one answers.
// Her line still goes to his mailbox: she exits 0, saying the relay holds
// it for bob (by name, not by handle). Bob, starting later, gets it once.
func TestMailboxForAStaleHandle(t *testing.T) {
	t.Setenv(noPunchEnv, "1")
	relay, relayAddr := startRelayProc(t, "--verbose") // logs bob's registration
	aliceDir, bobDir := privateDir(t), privateDir(t)
	meetDirectly(t, aliceDir, bobDir)
	bob := chatAt(t, bobDir, loopback(t), "bob", "--relay", relayAddr)
	bob.listening(t)
	relay.stderr.waitFor(t, "bob registered", func() bool {
		return strings.Contains(relay.stderr.String(), `"msg":"relay: client registered"`)
	})
	bob.kill9(t)

	alice := chatAt(t, aliceDir, loopback(t), "alice", "--relay", relayAddr, "-p", "bob", "--timeout", "10s")
	alice.listening(t)
	alice.say(t, "are you there")
	alice.stdin.Close()
	if code := alice.exit(t); code != 0 {
		t.Fatalf("alice exited %d, want 0; stderr:\n%s", code, alice.stderr)
	}
	if !strings.Contains(alice.stderr.String(), "held by the relay until they come back: 1 message to bob (") {
		t.Errorf("alice's stderr does not say the relay holds her message for bob:\n%s", alice.stderr)
	}

	bob = chatAt(t, bobDir, loopback(t), "bob", "--relay", relayAddr)
	bob.listening(t)
	bob.stdout.waitLine(t, `^alice: are you there$`)
	bob.wantExit(t, 0)
	if n := strings.Count(bob.stdout.String(), "alice: are you there"); n != 1 {
		t.Errorf("bob was shown alice's line %d times, want once:\n%s", n, bob.stdout)
	}
}
