package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/relay/relaypath"
	"github.com/udpchat/udpchat/internal/relaycluster/natstest"
)

// startRelay runs udpchat relay on loopback and returns its address.
func startRelay(t *testing.T) string {
	t.Helper()
	_, addr := startRelayProc(t)
	return addr
}

// startRelayProc runs udpchat relay on loopback, with args, and returns it
// and its address.
func startRelayProc(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	srv := udpchat(t, append([]string{"relay", "--listen", "127.0.0.1:0", "--data-dir", privateDir(t)}, args...)...)
	return srv, srv.stderr.waitLine(t, `"msg":"relay listening","addr":"([^"]+)"`)[1]
}

// meetDirectly has alice and bob chat once at their addresses, so each
// knows the other's key, and quit.
func meetDirectly(t *testing.T, aliceDir, bobDir string) {
	t.Helper()
	aliceAddr := loopback(t)
	alice := chatAt(t, aliceDir, aliceAddr, "alice")
	alice.listening(t)
	bob := chatAt(t, bobDir, loopback(t), "bob", "-p", aliceAddr)
	bob.listening(t)
	bob.say(t, "hello")
	alice.stdout.waitLine(t, `^bob: hello$`)
	alice.say(t, "hi")
	bob.stdout.waitLine(t, `^alice: hi$`)
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)
}

// relayedPair starts a relay on loopback, and alice and bob, who know each
// other's keys, with --relay and --json: bob, then alice with --peer bob.
func relayedPair(t *testing.T) (alice, bob *proc, relayAddr, bobDir string) {
	t.Helper()
	relayAddr = startRelay(t)
	aliceDir, bobDir := privateDir(t), privateDir(t)
	meetDirectly(t, aliceDir, bobDir)
	bob = chatAt(t, bobDir, loopback(t), "bob", "--json", "--relay", relayAddr)
	bob.listening(t)
	alice = chatAt(t, aliceDir, loopback(t), "alice", "--json", "--relay", relayAddr, "-p", "bob")
	alice.listening(t)
	return alice, bob, relayAddr, bobDir
}

// TestRelayCarriesAChatByName: alice and bob know each other's keys from
// an earlier chat; now at new addresses, with --relay and no punching,
// alice reaches bob by his name: the relay carries the session both ways,
// messages longer than one packet among them, and the peers' joined events
// say "relayed via" the relay. The relay is remembered in the data dir,
// its key as learned on first use.
func TestRelayCarriesAChatByName(t *testing.T) {
	t.Setenv(noPunchEnv, "1")
	alice, bob, relayAddr, bobDir := relayedPair(t)
	long := strings.Repeat("x", 3000)
	alice.say(t, "through the relay", long)
	bob.stdout.waitFor(t, "alice's two messages", func() bool { return len(jsonEvents(t, bob.stdout, "message")) == 2 })
	bob.say(t, "back the same way")
	alice.stdout.waitFor(t, "bob's answer", func() bool { return len(jsonEvents(t, alice.stdout, "message")) == 1 })
	alice.stdout.waitFor(t, "both delivered", func() bool { return len(jsonEvents(t, alice.stdout, "delivered")) == 2 })
	texts := []string{}
	for _, m := range jsonEvents(t, bob.stdout, "message") {
		texts = append(texts, m["text"].(string))
	}
	if !slices.Equal(texts, []string{"through the relay", long}) {
		t.Errorf("bob got %.60q, want alice's two messages", texts)
	}
	for who, p := range map[string]*proc{"alice": alice, "bob": bob} {
		j := jsonLine(t, p.stdout, "joined")
		if j["path"] != "relayed via "+relayAddr {
			t.Errorf("%s's joined event %v: want the path relayed via %s", who, j, relayAddr)
		}
	}
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)

	saved, err := os.ReadFile(bobDir + "/" + relaypath.File)
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(saved)), "@"+relayAddr) {
		t.Fatalf("bob's data dir remembers the relay as %q (%v), want KEY@%s", saved, err, relayAddr)
	}
}

// TestRelayPunchesToDirect: the same, punching allowed: on one machine
// every candidate answers, so the path moves to direct at once, and the
// chat goes on.
func TestRelayPunchesToDirect(t *testing.T) {
	alice, bob, _, _ := relayedPair(t)
	alice.say(t, "first")
	bob.stdout.waitFor(t, "alice's message", func() bool { return len(jsonEvents(t, bob.stdout, "message")) == 1 })
	movedTo(t, alice, "direct (LAN)", 1)
	for i := range 5 {
		alice.say(t, fmt.Sprint("direct ", i))
	}
	bob.stdout.waitFor(t, "every message", func() bool { return len(jsonEvents(t, bob.stdout, "message")) == 6 })
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)
}

// pathCount is how many times p's peer has been on the path given: when
// it joined (if the path was chosen by then) and at each move since
// ("joined" and "moved" events).
func pathCount(p *proc, path string) int {
	n := 0
	for _, l := range p.stdout.lines() {
		var ev struct{ Type, Path string }
		if json.Unmarshal([]byte(l), &ev) == nil && (ev.Type == "joined" || ev.Type == "moved") && ev.Path == path {
			n++
		}
	}
	return n
}

// movedTo waits until p's peer has been on the path given nth times (from
// 1): see pathCount.
func movedTo(t *testing.T, p *proc, path string, nth int) {
	t.Helper()
	p.stdout.waitFor(t, fmt.Sprintf("the path %s for the %d. time", path, nth), func() bool { return pathCount(p, path) >= nth })
}

// TestRelayFailover: alice and bob both name two standalone relays,
// --relay A,B; they register with A, the first, and chat through it (no
// punching). A dies (SIGKILL) with alice's lines streaming; both move on to
// B within seconds (B logs each one registering), and the chat goes on
// through B: every line arrives once, in order. Both relays are
// remembered, each with its key as learned on first use.
func TestRelayFailover(t *testing.T) {
	relayA, addrA := startRelayProc(t)
	relayB, addrB := startRelayProc(t, "--verbose")
	relays := addrA + "," + addrB
	aliceDir, bobDir := failoverChat(t, relayA, relayB, relays, relays)
	for who, dir := range map[string]string{"alice": aliceDir, "bob": bobDir} {
		saved, err := os.ReadFile(dir + "/" + relaypath.File)
		specs, perr := relaypath.ParseList(strings.TrimSpace(string(saved)))
		if err != nil || perr != nil || len(specs) != 2 || specs[0].Host != addrA || specs[1].Host != addrB || specs[0].Key.IsZero() || specs[1].Key.IsZero() {
			t.Errorf("%s's data dir remembers the relays as %q (%v, %v), want KEY@%s,KEY@%s", who, saved, err, perr, addrA, addrB)
		}
	}
}

// TestRelayClusterFailover: relays A and B in a cluster (one NATS server
// in the test's process); alice names A,B and bob B,A, so the chat crosses
// from one relay to the other. A dies mid-stream; alice moves on to B, the
// registry follows her there, and every line arrives once, in order.
func TestRelayClusterFailover(t *testing.T) {
	ns := natstest.Start(t)
	relayA, addrA := startRelayProc(t, "--nats", ns.ClientURL())
	relayB, addrB := startRelayProc(t, "--nats", ns.ClientURL(), "--verbose")
	failoverChat(t, relayA, relayB, addrA+","+addrB, addrB+","+addrA)
}

// failoverChat has alice and bob, who know each other's keys, chat with
// --relay aliceRelays and bobRelays (no punching): alice streams lines to
// bob, and relay a, the first of alice's, is killed (SIGKILL) once a few
// have arrived. Both must then be registered with relay b, which runs with
// --verbose and so logs each client's first registration; every line
// arrives once, in order. It returns their data dirs.
func failoverChat(t *testing.T, a, b *proc, aliceRelays, bobRelays string) (aliceDir, bobDir string) {
	t.Helper()
	t.Setenv(noPunchEnv, "1")
	aliceDir, bobDir = privateDir(t), privateDir(t)
	meetDirectly(t, aliceDir, bobDir)
	bob := chatAt(t, bobDir, loopback(t), "bob", "--json", "--relay", bobRelays)
	bob.listening(t)
	alice := chatAt(t, aliceDir, loopback(t), "alice", "--json", "--relay", aliceRelays, "-p", "bob")
	alice.listening(t)

	const half = 20
	var want []string
	for i := range 2 * half {
		want = append(want, fmt.Sprint("line ", i))
	}
	received := func() []string {
		var texts []string
		for _, m := range jsonEvents(t, bob.stdout, "message") {
			texts = append(texts, m["text"].(string))
		}
		return texts
	}
	alice.say(t, want[:half]...)
	bob.stdout.waitFor(t, "a few of alice's lines", func() bool { return len(received()) >= 3 })
	bobFirst, _, _ := strings.Cut(bobRelays, ",")
	if j := jsonLine(t, bob.stdout, "joined"); j["path"] != "relayed via "+bobFirst {
		t.Errorf("bob's joined event %v: want the path relayed via %s, his first relay", j, bobFirst)
	}
	a.kill9(t)
	killed := time.Now()
	alice.say(t, want[half:]...)
	b.stderr.waitFor(t, "alice and bob registered with the relay left", func() bool {
		return strings.Count(b.stderr.String(), `"msg":"relay: client registered"`) >= 2
	})
	t.Logf("both registered with the relay left %v after the other died", time.Since(killed).Round(100*time.Millisecond))
	bob.stdout.waitFor(t, "every line", func() bool { return len(received()) >= len(want) })
	alice.stdout.waitFor(t, "every line delivered", func() bool { return len(jsonEvents(t, alice.stdout, "delivered")) >= len(want) })
	if got := received(); !slices.Equal(got, want) {
		t.Errorf("bob got %q,\nwant %q", got, want)
	}
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)
	return aliceDir, bobDir
}
