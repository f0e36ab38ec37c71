package main

import (
	"regexp"
	"strings"
	"testing"
)

// Trust on first use, end to end: alice meets bob; later an impostor with
// another key takes bob's address and name, and another claims his name
// from elsewhere. alice is warned, with both fingerprints and the command
// that accepts the new key, and sees nothing they say — until she runs that
// command, after which the first impostor's waiting message arrives.
func TestImpostorIsRefusedUntilTrusted(t *testing.T) {
	aliceDir, bobDir := t.TempDir(), t.TempDir()
	alice := udpchat(t, "-l", anyPort, "-n", "alice", "--data-dir", aliceDir)
	aliceAddr := alice.listening(t)
	bobAddr := "127.0.0.1:" + freeUDPPort(t)
	bob := udpchat(t, "-l", bobAddr, "-n", "bob", "-p", aliceAddr, "--data-dir", bobDir)
	bob.say(t, "hello from the real bob", "bye")
	alice.stdout.waitLine(t, `^bob: hello from the real bob$`)
	bob.wantExit(t, 0)
	alice.stderr.waitLine(t, `^\* bob left$`)
	bobFP := strings.TrimSpace(runOK(t, "id", "--data-dir", bobDir))

	// mallory: her own key, bob's address and name.
	mallory := udpchat(t, "-l", bobAddr, "-n", "bob", "-p", aliceAddr, "--timeout", "60s")
	mallory.say(t, "it is me, bob: send the keys")
	warning := alice.stderr.waitLine(t, `^udpchat: WARNING: `+regexp.QuoteMeta(bobAddr)+
		` \(bob\) presented a different identity key than before.* Known `+regexp.QuoteMeta(bobFP)+
		`, presented (BLAKE2s:\S+)\. .*run: udpchat trust `+regexp.QuoteMeta(bobAddr)+` (BLAKE2s:\S+)$`)
	if warning[1] != warning[2] {
		t.Fatalf("the warning names %s but suggests trusting %s", warning[1], warning[2])
	}
	malloryFP := warning[1]

	// eve: her own key and address, bob's name.
	eve := udpchat(t, "-l", anyPort, "-n", "bob", "-p", aliceAddr, "--timeout", "1s")
	eveAddr := eve.listening(t)
	eve.say(t, "bob here, on a new laptop")
	alice.stderr.waitLine(t, `^udpchat: WARNING: bob presented a different identity key than before.* Known `+
		regexp.QuoteMeta(bobFP)+`, presented BLAKE2s:`)
	eve.wantExit(t, 1) // her message was never delivered; she says goodbye as she goes

	if got := alice.stdout.lines(); len(got) != 2 {
		t.Fatalf("alice was shown what impostors said: %q", got)
	}

	// alice checks with bob, who really did get a new key: she accepts it.
	runOK(t, "trust", "--data-dir", aliceDir, bobAddr, malloryFP)
	alice.stdout.waitLine(t, `^bob: it is me, bob: send the keys$`)
	mallory.wantExit(t, 0) // delivered after all
	for _, l := range alice.stdout.lines() {
		if strings.Contains(l, "new laptop") {
			t.Errorf("alice was shown eve's message: %q", l)
		}
	}
	// eve never joined, so alice is not told she left either (eve said
	// goodbye before alice ran udpchat trust and got mallory's message).
	for _, l := range alice.stderr.lines() {
		if strings.Contains(l, eveAddr) {
			t.Errorf("alice was told of eve's coming or going: %q", l)
		}
	}
}

// runOK runs the binary to completion and returns its stdout, failing the
// test unless it exits 0.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	p := udpchat(t, args...)
	p.wantExit(t, 0)
	return p.stdout.String()
}

// The impostor of issue 16, item 1: the client knows "server" at one
// address; an impostor under that name listens at another, and the client
// is pointed there. The client's check of the impostor's name came only
// with its hello, after SECRET had gone: the impostor printed it and the
// client's history marked it delivered. Now SECRET waits, as for a peer
// that does not answer, and the impostor never sees it.
func TestNothingGoesToAnImpostor(t *testing.T) {
	clientDir := privateDir(t)
	server := udpchat(t, "-l", anyPort, "-n", "server", "--data-dir", privateDir(t))
	serverAddr := server.listening(t)
	first := udpchat(t, "-l", anyPort, "-n", "client", "-p", serverAddr, "--data-dir", clientDir)
	first.say(t, "hello server")
	server.stdout.waitLine(t, `^client: hello server$`)
	first.wantExit(t, 0)

	impostor := udpchat(t, "-l", anyPort, "-n", "server", "--data-dir", privateDir(t))
	impostorAddr := impostor.listening(t)
	client := udpchat(t, "-l", anyPort, "-n", "client", "-p", impostorAddr, "--data-dir", clientDir, "--timeout", "2s")
	client.say(t, "SECRET")
	client.stderr.waitLine(t, `^udpchat: WARNING: server presented a different identity key than before`)
	client.wantExit(t, 1)
	client.stderr.waitLine(t, `not delivered`)
	impostor.stdin.Close()
	impostor.exit(t)
	if out := impostor.stdout.String(); strings.Contains(out, "SECRET") {
		t.Errorf("the impostor was sent SECRET: %q", out)
	}
	pending := runOK(t, "history", "--pending", "--data-dir", clientDir)
	if !strings.Contains(pending, "SECRET") {
		t.Errorf("SECRET is not pending in the client's outbox:\n%s", pending)
	}
	server.wantExit(t, 0)
}

// When bob refuses our key, udpchat send says so, rather than asking
// whether udpchat runs there (issue 16, item 14): bob tells us, in a
// refusal sealed in our session (docs/PROTOCOL.md S4.6). Refused by name
// (send from a port of its own, under the name alice whose key bob
// knows), and by address (from alice's own address: there is no session).
// Either way bob is named by his address alone: bob sends his name only to
// a peer that has introduced itself under a name he accepts (issue 16,
// item 10), which a refused key never does.
func TestSendSaysThePeerRefusedOurKey(t *testing.T) {
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "--data-dir", privateDir(t))
	bobAddr := bob.listening(t)
	aliceAddr := "127.0.0.1:" + freeUDPPort(t)
	runOK(t, "send", "-l", aliceAddr, "-p", bobAddr, "-n", "alice", "--data-dir", privateDir(t), "hello bob")
	bob.stdout.waitLine(t, `^alice: hello bob$`)

	for _, tc := range []struct{ name, listen, who string }{
		{"by name", anyPort, ""},
		{"by address", aliceAddr, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newKey := privateDir(t)
			fp := strings.TrimSpace(runOK(t, "id", "--data-dir", newKey))
			wantFailure(t, []string{"send", "-l", tc.listen, "-p", bobAddr, "-n", "alice", "--data-dir", newKey, "--timeout", "3s", "it is me"}, 1,
				`^udpchat: not delivered within 3s: `+tc.who+regexp.QuoteMeta(bobAddr)+
					` refused this key: it knows another key for this address or this name\. If yours is new, ask its owner to compare it with what udpchat id prints here \(`+
					regexp.QuoteMeta(fp)+`\) and accept it with udpchat trust$`)
		})
	}
	if out := bob.stdout.String(); strings.Contains(out, "it is me") {
		t.Errorf("bob was shown a message under a refused key: %q", out)
	}
	bob.wantExit(t, 0)
}

// A name stays bound to the key that used it (issue 16, item 10): after
// bob becomes robert, a newcomer with another key, at another address,
// cannot take the name bob.
func TestOldNameStaysWithItsKey(t *testing.T) {
	alice := udpchat(t, "-l", anyPort, "-n", "alice", "--data-dir", privateDir(t))
	aliceAddr := alice.listening(t)
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "-p", aliceAddr, "--data-dir", privateDir(t))
	bob.say(t, "hi")
	alice.stdout.waitLine(t, `^bob: hi$`)
	bob.say(t, "/nick robert")
	alice.stderr.waitLine(t, `^\* bob is now known as robert$`)

	eve := udpchat(t, "-l", anyPort, "-n", "bob", "-p", aliceAddr, "--data-dir", privateDir(t), "--timeout", "1s")
	eve.say(t, "bob here, new laptop")
	alice.stderr.waitLine(t, `^udpchat: WARNING: bob presented a different identity key than before`)
	eve.wantExit(t, 1)
	bob.say(t, "still me")
	alice.stdout.waitLine(t, `^robert: still me$`)
	for _, l := range alice.stdout.lines() {
		if strings.Contains(l, "new laptop") {
			t.Errorf("alice was shown what the newcomer said as bob: %q", l)
		}
	}
	bob.wantExit(t, 0)
	alice.wantExit(t, 0)
}
