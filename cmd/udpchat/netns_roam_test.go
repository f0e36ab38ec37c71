//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/testenv"
)

const (
	// roamLines numbered lines alice types: half before she moves, half
	// after. The move comes once bob has printed roamMoveAfter of them,
	// while the rest of the first half are on their way.
	roamLines     = 300
	roamMoveAfter = 100
	// roamWait bounds each wait for the chat: far more than it takes, as
	// the binary may be built with -race and the machine busy.
	roamWait = time.Minute
)

// TestRoamingKeepsTheChat is a laptop that changes networks mid-chat, on
// real processes: alice and bob each run udpchat --line --json in network
// namespaces of their own, joined by a veth pair, both on the default
// listen address (every address, so alice's socket outlives hers). Alice
// types numbered lines to bob; once bob has printed roamMoveAfter of them,
// alice's interface loses its address and gets another (ip addr flush, ip
// addr add), and she types the rest. Bob must print every line once, in
// order, with no warning and no second join (no new trust decision, no new
// peer), and the news that alice moved to her new address; alice must exit
// 0: all delivered.
func TestRoamingKeepsTheChat(t *testing.T) {
	nsA := testenv.NewNamespace(t, "udpc-mv-a")
	nsB := testenv.NewNamespace(t, "udpc-mv-b")
	nsA.IP(t, "link", "add", "mv0", "type", "veth", "peer", "name", "mv1", "netns", nsB.Name)
	nsA.IP(t, "addr", "add", "10.199.78.1/24", "dev", "mv0")
	nsB.IP(t, "addr", "add", "10.199.78.2/24", "dev", "mv1")
	nsA.IP(t, "link", "set", "mv0", "up")
	nsB.IP(t, "link", "set", "mv1", "up")
	waitLinkReady(t.Context(), t, nsA.Name, "mv0")
	waitLinkReady(t.Context(), t, nsB.Name, "mv1")
	aliceAt := netip.MustParseAddrPort("10.199.78.1:7475")
	aliceMoved := netip.MustParseAddrPort("10.199.78.99:7475")
	bobAt := netip.MustParseAddrPort("10.199.78.2:7475")

	chat := func(ns *testenv.Namespace, name string, args ...string) *proc {
		t.Helper()
		return start(t, "ip", append([]string{"netns", "exec", ns.Name, udpchatBinary,
			"--line", "--json", "--no-discovery", "--name", name, "--timeout", roamWait.String(),
			"--data-dir", privateDir(t)}, args...)...)
	}
	says := make([]string, roamLines)
	for i := range says {
		says[i] = fmt.Sprintf("alice-%04d on the move", i+1)
	}

	bob := chat(nsB, "bob")
	bob.listening(t)
	alice := chat(nsA, "alice", "--peer", bobAt.String())
	alice.say(t, says[:roamLines/2]...)
	bob.stdout.waitWithin(t, roamWait, fmt.Sprintf("%d of alice's lines at bob", roamMoveAfter), func() bool {
		return countType(bob.stdout.lines(), "message") >= roamMoveAfter
	})
	nsA.IP(t, "addr", "flush", "dev", "mv0")
	nsA.IP(t, "addr", "add", aliceMoved.Addr().String()+"/24", "dev", "mv0")
	alice.say(t, says[roamLines/2:]...)
	alice.stdin.Close()
	if code := alice.exitWithin(t, roamWait); code != 0 {
		t.Errorf("alice exited %d, want 0: everything delivered; stderr:\n%s", code, alice.stderr)
	}
	bob.wantExit(t, 0)
	if n := countType(alice.stdout.lines(), "error"); n > 0 {
		t.Errorf("alice was warned %d times:\n%s", n, alice.stdout)
	}

	var got []string
	var joined, moved []jsonEvent
	for _, l := range bob.stdout.lines() {
		var ev struct {
			jsonEvent
			From, To, Error string
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("bob's stdout line %q is not JSON: %v", l, err)
		}
		switch ev.Type {
		case "message":
			got = append(got, ev.Text)
		case "joined":
			joined = append(joined, ev.jsonEvent)
		case "moved":
			if ev.From != aliceAt.String() || ev.To != aliceMoved.String() {
				t.Errorf("bob's moved event %s, want alice from %s to %s", l, aliceAt, aliceMoved)
			}
			moved = append(moved, ev.jsonEvent)
		case "error":
			t.Errorf("bob warned: %s", ev.Error)
		}
	}
	if diff := transcriptDiff(got, says); diff != "" {
		t.Errorf("what bob printed: %s", diff)
	}
	if len(joined) != 1 || joined[0].Peer != aliceAt.String() || joined[0].Name != "alice" {
		t.Errorf("bob's joins %+v, want alice's alone, at %s", joined, aliceAt)
	}
	if len(moved) != 1 || moved[0].Peer != aliceAt.String() || moved[0].Name != "alice" {
		t.Errorf("bob's moves %+v, want one: alice, still named by %s", moved, aliceAt)
	}
	if lines := bob.stderr.lines(); len(lines) != 1 {
		t.Errorf("bob's stderr has more than the line that says where he listens:\n%s", bob.stderr)
	}
}

// countType counts the --json lines of events of type typ.
func countType(lines []string, typ string) int {
	n := 0
	prefix := fmt.Sprintf(`{"type":%q,`, typ)
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}
