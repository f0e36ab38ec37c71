package main

// Durability, end to end: real udpchat processes, each with its own data
// dir, killed with SIGKILL at random points. Nothing a sender was told it
// had accepted (its "sent" event, which follows the outbox write) is lost,
// nothing is shown twice, and the order holds, across the crashes of
// either side. Every wait is bounded and for something the processes say;
// no test sleeps to let something happen.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/udpchat/udpchat/internal/testenv"
)

// streamTimeout bounds the waits of the 2,000-message tests, which write
// three commits a message across two processes, under -race on a busy
// machine.
const streamTimeout = 3 * time.Minute

// chatAt starts udpchat in line mode on listen (a fixed address, so that a
// restart comes back where its peer knows it) with data dir dir.
func chatAt(t *testing.T, dir, listen, name string, args ...string) *proc {
	t.Helper()
	return udpchat(t, append([]string{"--data-dir", dir, "-l", listen, "-n", name}, args...)...)
}

// privateDir returns a new empty dir of mode 0700, as udpchat makes a data
// dir: t.TempDir's are 0755 (less the umask), which udpchat uses with a
// warning on stderr (see warnOpenDataDir) that tests of stderr do not want.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loopback returns a free 127.0.0.1 address.
func loopback(t *testing.T) string { return "127.0.0.1:" + freeUDPPort(t) }

// kill9 kills p with SIGKILL, as a crash or a power cut would stop it, and
// waits until it is gone and its output is in.
func (p *proc) kill9(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not die of SIGKILL within %v", p.cmd.Path, waitTimeout)
	}
}

// jsonEvents returns the --json events of type typ on s so far.
func jsonEvents(t *testing.T, s *stream, typ string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for _, l := range s.lines() {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		if ev["type"] == typ {
			evs = append(evs, ev)
		}
	}
	return evs
}

// texts are the "text" fields of evs.
func texts(evs []map[string]any) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i], _ = ev["text"].(string)
	}
	return out
}

// numbered returns n message texts, m0000 on: numbered, so an index says
// where each belongs.
func numbered(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("m%04d", i)
	}
	return lines
}

var shownLine = regexp.MustCompile(`^alice: m(\d{4})$`)

// indexes parses the lines a receiver printed for alice's numbered
// messages; any other line fails the test.
func indexes(t *testing.T, who string, lines []string) []int {
	t.Helper()
	out := make([]int, len(lines))
	for i, l := range lines {
		m := shownLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("%s printed %q, not one of alice's messages", who, l)
		}
		out[i], _ = strconv.Atoi(m[1])
	}
	return out
}

// increasing reports the first place where idx is not strictly increasing
// (a message shown twice, or out of order), or -1.
func increasing(idx []int) int {
	for i := 1; i < len(idx); i++ {
		if idx[i] <= idx[i-1] {
			return i
		}
	}
	return -1
}

// history runs udpchat history with args and returns its stdout lines,
// failing unless it exits 0.
func history(t *testing.T, args ...string) []string {
	t.Helper()
	h := udpchat(t, append([]string{"history"}, args...)...)
	if code := h.exit(t); code != 0 {
		t.Fatalf("udpchat history %q exited %d; stderr:\n%s", args, code, h.stderr)
	}
	return h.stdout.lines()
}

// historyTexts is the text of every message in the history of dir, oldest
// first.
func historyTexts(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	var out []string
	for _, m := range historyRows(t, dir, args...) {
		out = append(out, m.Text)
	}
	return out
}

// historyRow is a message as history --json lists it: what the tests look at.
type historyRow struct{ ID, Text string }

// historyRows is every message in the history of dir, oldest first.
func historyRows(t *testing.T, dir string, args ...string) []historyRow {
	t.Helper()
	var out []historyRow
	for _, l := range history(t, append([]string{"--data-dir", dir, "--json", "--limit", "0"}, args...)...) {
		var m historyRow
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("history --json line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// (1) The sender is killed after it accepted its input and before (all of)
// it was delivered; restarted with no input, it delivers every accepted
// message exactly once, in order, and exits 0. In odd runs the receiver is
// up from the start, so some messages are delivered before the kill (and
// some of those, delivered but not yet marked so, go again and must be
// recognised); in even runs it is down until the sender has been killed.
func TestCrashSenderDeliversWhatItAccepted(t *testing.T) {
	testenv.SkipInShort(t, "crash")
	const n = 40
	for run := range 4 {
		bobFirst := run%2 == 1
		// How many "sent" events alice has printed when she is killed;
		// the first run waits for all of them.
		killAfter := n
		if run > 0 {
			killAfter = 1 + rand.IntN(n)
		}
		t.Run(fmt.Sprintf("run=%d,bobFirst=%v,killAfter=%d", run, bobFirst, killAfter), func(t *testing.T) {
			aliceDir, bobDir := t.TempDir(), t.TempDir()
			aliceAddr, bobAddr := loopback(t), loopback(t)
			var bob *proc
			startBob := func() {
				bob = chatAt(t, bobDir, bobAddr, "bob")
				bob.listening(t)
			}
			if bobFirst {
				startBob()
			}
			alice := chatAt(t, aliceDir, aliceAddr, "alice", "--json", "-p", bobAddr)
			alice.listening(t)
			alice.say(t, numbered(n)...)
			alice.stdout.waitFor(t, fmt.Sprintf("%d sent events", killAfter), func() bool {
				return len(jsonEvents(t, alice.stdout, "sent")) >= killAfter
			})
			alice.kill9(t)
			accepted := texts(jsonEvents(t, alice.stdout, "sent"))
			delivered := len(jsonEvents(t, alice.stdout, "delivered"))
			t.Logf("alice killed having accepted %d messages, %d of them delivered", len(accepted), delivered)

			if !bobFirst {
				startBob()
			}
			alice2 := chatAt(t, aliceDir, aliceAddr, "alice", "--json", "-p", bobAddr, "--timeout", "1m")
			alice2.wantExit(t, 0) // empty input: exit 0 once everything pending is delivered
			resent := texts(jsonEvents(t, alice2.stdout, "sent"))
			if i := increasing(indexesOf(resent)); i >= 0 {
				t.Errorf("the restarted alice sent again %q: out of order at %d", resent, i)
			}

			bob.stdout.waitFor(t, "every accepted message at bob", func() bool {
				shown := bob.stdout.lines()
				for _, a := range accepted {
					if !slices.Contains(shown, "alice: "+a) {
						return false
					}
				}
				return true
			})
			bob.wantExit(t, 0)
			got := indexes(t, "bob", bob.stdout.lines())
			if i := increasing(got); i >= 0 {
				t.Errorf("bob showed %v: shown twice or out of order at %d", got, i)
			}
			if len(got) > n {
				t.Errorf("bob showed %d messages of %d", len(got), n)
			}
			if pending := history(t, "--data-dir", aliceDir, "--pending"); len(pending) != 0 {
				t.Errorf("alice's outbox after she exited 0: %q", pending)
			}
			t.Logf("bob showed %d messages: the %d accepted, and %d more that were stored but not yet reported when alice died",
				len(got), len(accepted), len(got)-len(accepted))
		})
	}
}

func indexesOf(texts []string) []int {
	out := make([]int, len(texts))
	for i, s := range texts {
		out[i], _ = strconv.Atoi(strings.TrimPrefix(s, "m"))
	}
	return out
}

// (2) The receiver is killed in the middle of a 2,000-message stream and
// restarted on its data dir: the stream completes, the sender exits 0, and
// every message is printed at least once across the two runs, in order in
// each, with none skipped; the history has all 2,000 exactly once.
//
// Printing is not part of the store's transaction, so a message can be
// stored (and acknowledged) and the receiver die before its line reaches
// stdout, or after, before it recorded that it did. The restarted receiver
// prints first what it had stored and not marked shown: a message the
// first run printed may come again, with the same ID, so a --json consumer
// that must not see one twice drops repeated IDs; and none is lost, which
// once happened to 3 of 12 kills.
func TestCrashReceiverStreamCompletesOnce(t *testing.T) {
	testenv.SkipInShort(t, "crash")
	const n = 2000
	for run := range 3 {
		killAt := 100 + rand.IntN(n-300)
		t.Run(fmt.Sprintf("run=%d,killAt=%d", run, killAt), func(t *testing.T) {
			aliceDir, bobDir := t.TempDir(), t.TempDir()
			aliceAddr, bobAddr := loopback(t), loopback(t)
			bob := chatAt(t, bobDir, bobAddr, "bob", "--json", "-p", aliceAddr)
			bob.listening(t)
			alice := chatAt(t, aliceDir, aliceAddr, "alice", "-p", bobAddr, "--timeout", streamTimeout.String())
			alice.listening(t)
			alice.say(t, numbered(n)...)
			alice.stdin.Close() // alice exits once all is delivered

			bob.stdout.waitWithin(t, streamTimeout, fmt.Sprintf("%d messages at bob", killAt), func() bool {
				return len(jsonEvents(t, bob.stdout, "message")) >= killAt
			})
			bob.kill9(t)
			first := jsonEvents(t, bob.stdout, "message")
			bob2 := chatAt(t, bobDir, bobAddr, "bob", "--json", "-p", aliceAddr)
			if code := alice.exitWithin(t, streamTimeout); code != 0 {
				t.Errorf("alice exited %d, want 0; stderr:\n%s", code, alice.stderr)
			}
			// Delivered means stored at bob; printed follows. Bursts are
			// large (group commit), so the first run may have printed, and
			// marked shown, the whole stream before the kill: then the
			// second has nothing to print.
			last := fmt.Sprintf("m%04d", n-1)
			firstAll := len(first) == n
			if !firstAll {
				bob2.stdout.waitWithin(t, streamTimeout, "the last message at bob", func() bool {
					return slices.Contains(texts(jsonEvents(t, bob2.stdout, "message")), last)
				})
			}
			bob2.wantExit(t, 0)
			second := jsonEvents(t, bob2.stdout, "message")

			// Each run prints in order, skipping nothing.
			firstIdx, secondIdx := indexesOf(texts(first)), indexesOf(texts(second))
			for i, idx := range firstIdx {
				if idx != i {
					t.Fatalf("bob's first run printed m%04d as its message %d: want 0, 1, 2… in order", idx, i)
				}
			}
			if len(secondIdx) == 0 && !firstAll {
				t.Fatalf("bob's second run printed nothing")
			}
			for i := 1; i < len(secondIdx); i++ {
				if secondIdx[i] != secondIdx[i-1]+1 {
					t.Fatalf("bob's second run went from m%04d to m%04d", secondIdx[i-1], secondIdx[i])
				}
			}
			// Across the runs: nothing lost (the second starts at or
			// before where the first stopped), to the end. (A first
			// run that printed everything leaves the second only what it
			// had not yet marked shown, which it may not have finished
			// printing when its input ended.)
			if len(secondIdx) > 0 && secondIdx[0] > len(first) {
				t.Fatalf("m%04d to m%04d were printed by neither run: the first stopped after %d, the second began at m%04d",
					len(first), secondIdx[0]-1, len(first), secondIdx[0])
			}
			if !firstAll && secondIdx[len(secondIdx)-1] != n-1 {
				t.Fatalf("bob's second run ended at m%04d", secondIdx[len(secondIdx)-1])
			}
			// A message printed by both runs has the same ID in both, so
			// a consumer dropping repeated IDs sees each exactly once.
			seen := map[string]bool{}
			var deduped []string
			for _, ev := range append(first, second...) {
				id, _ := ev["id"].(string)
				if id == "" {
					t.Fatalf("a message event without an id: %v", ev)
				}
				if !seen[id] {
					seen[id] = true
					deduped = append(deduped, ev["text"].(string))
				}
			}
			if !slices.Equal(deduped, numbered(n)) {
				t.Fatalf("dropping repeated IDs leaves %d messages, want all %d once in order", len(deduped), n)
			}
			if got, want := historyTexts(t, bobDir), numbered(n); !slices.Equal(got, want) {
				t.Fatalf("bob's history has %d messages, want all %d exactly once in order", len(got), n)
			}
			if firstAll {
				t.Logf("bob printed all %d before the kill at %d; the second run printed %d again (same IDs)", n, killAt, len(second))
				return
			}
			t.Logf("bob killed after printing %d messages; the second run began at m%04d: %d printed again (same IDs), none lost",
				len(first), secondIdx[0], len(first)-secondIdx[0])
		})
	}
}

// (2b) Group commit: the receiver stores a burst in one commit before it
// acknowledges any of it. It is killed at random points of a 3,000-line
// burst (burstLinesVar sets another size), several times, and restarted on its data dir: at each kill, every
// line the sender was told was delivered is in the receiver's history, and
// at the end the history has all of them exactly once, in order.
func TestCrashReceiverMidBurst(t *testing.T) {
	testenv.SkipInShort(t, "crash")
	n, kills := burstLines(t), 3
	aliceDir, bobDir := t.TempDir(), t.TempDir()
	aliceAddr, bobAddr := loopback(t), loopback(t)
	bob := chatAt(t, bobDir, bobAddr, "bob", "--json", "-p", aliceAddr)
	bob.listening(t)
	alice := chatAt(t, aliceDir, aliceAddr, "alice", "--json", "-p", bobAddr, "--timeout", streamTimeout.String())
	alice.listening(t)
	alice.say(t, numbered(n)...)
	alice.stdin.Close() // alice exits once all is delivered
	all := numbered(n)
	acked := 0
	for k := range kills {
		// While bob receives: once alice has heard of more deliveries
		// since the last kill (not while bob only shows again what it
		// stored before it).
		killAt := acked + 1 + rand.IntN(400)
		alice.stdout.waitWithin(t, streamTimeout, fmt.Sprintf("%d delivered", killAt), func() bool {
			return len(jsonEvents(t, alice.stdout, "delivered")) >= killAt
		})
		bob.kill9(t)
		acked = len(jsonEvents(t, alice.stdout, "delivered"))
		stored := historyTexts(t, bobDir)
		if i := slices.IndexFunc(all[:acked], func(s string) bool { return !slices.Contains(stored, s) }); i >= 0 {
			t.Fatalf("kill %d: alice was told m%04d was delivered; bob's history does not have it", k, i)
		}
		if !slices.Equal(stored, all[:len(stored)]) {
			t.Fatalf("kill %d: bob's history of %d messages is not alice's first %d once each, in order", k, len(stored), len(stored))
		}
		t.Logf("kill %d: bob killed once alice had heard %d delivered; by then %d, and bob had stored %d", k, killAt, acked, len(stored))
		bob = chatAt(t, bobDir, bobAddr, "bob", "--json", "-p", aliceAddr)
	}
	// Delivered means stored at bob: once alice is done, so is bob's
	// history (what it shows, and shows again, TestCrashReceiverStream…
	// checks).
	if code := alice.exitWithin(t, streamTimeout); code != 0 {
		t.Errorf("alice exited %d, want 0; stderr:\n%s", code, alice.stderr)
	}
	bob.wantExit(t, 0)
	if got := historyTexts(t, bobDir); !slices.Equal(got, all) {
		t.Fatalf("bob's history has %d messages, want all %d exactly once in order", len(got), n)
	}
	if pending := history(t, "--data-dir", aliceDir, "--pending"); len(pending) != 0 {
		t.Errorf("alice's outbox after she exited 0: %d pending", len(pending))
	}
}

// burstLinesVar sets the size of the mid-burst crash tests' burst, 3,000
// lines unless it says otherwise: 100,000 is the size, a
// benchmark-sized run of a few minutes (too long for every go test, under
// -race on two cores).
const burstLinesVar = "UDPCHAT_CRASH_BURST_LINES"

// burstLines is the size of the mid-burst crash tests' burst.
func burstLines(t *testing.T) int {
	v := os.Getenv(burstLinesVar)
	if v == "" {
		return 3000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 10 {
		t.Fatalf("%s=%q: want a number of lines, at least 10", burstLinesVar, v)
	}
	return n
}

// (2c) Group commit, the sender's side: alice is killed at random points
// of a 3,000-line burst, several times, and restarted on her data dir
// with the lines her outbox does not have yet as her input. At each kill
// her outbox holds what she reported sent, and bob's history what she
// heard delivered, each a prefix of the burst once each; at the end bob's
// history has every line exactly once, in order (the restarted alice sent
// her outbox's pending lines again, and bob, which had some, stored none
// twice), and her outbox is empty.
func TestCrashSenderMidBurst(t *testing.T) {
	testenv.SkipInShort(t, "crash")
	n, kills := burstLines(t), 3
	all := numbered(n)
	aliceDir, bobDir := t.TempDir(), t.TempDir()
	aliceAddr, bobAddr := loopback(t), loopback(t)
	bob := chatAt(t, bobDir, bobAddr, "bob", "-p", aliceAddr)
	bob.listening(t)
	startAlice := func(stored int) *proc {
		alice := chatAt(t, aliceDir, aliceAddr, "alice", "--json", "-p", bobAddr, "--timeout", streamTimeout.String())
		alice.listening(t)
		alice.say(t, all[stored:]...)
		alice.stdin.Close() // she exits once all is delivered
		return alice
	}
	stored, atBob := 0, 0 // lines in alice's history, and in bob's
	for k := range kills {
		if atBob == n {
			t.Logf("bob has every line after %d kills", k)
			break
		}
		alice := startAlice(stored)
		// While she delivers: once she has heard of some deliveries in
		// this run, before all of those still to come.
		killAt := 1 + rand.IntN(max(1, (n-atBob)/2))
		alice.stdout.waitWithin(t, streamTimeout, fmt.Sprintf("%d delivered", killAt), func() bool {
			return len(jsonEvents(t, alice.stdout, "delivered")) >= killAt
		})
		alice.kill9(t)
		accepted := texts(jsonEvents(t, alice.stdout, "sent"))
		delivered := jsonEvents(t, alice.stdout, "delivered")
		outbox := historyTexts(t, aliceDir)
		if !slices.Equal(outbox, all[:len(outbox)]) {
			t.Fatalf("kill %d: alice's history of %d lines is not the burst's first %d once each, in order", k, len(outbox), len(outbox))
		}
		if i := slices.IndexFunc(accepted, func(s string) bool { return !slices.Contains(outbox, s) }); i >= 0 {
			t.Fatalf("kill %d: alice reported %s sent; her history does not have it", k, accepted[i])
		}
		rows := historyRows(t, bobDir)
		shown := make([]string, len(rows))
		ids := make(map[string]bool)
		for i, m := range rows {
			shown[i] = m.Text
			ids[m.ID] = true
		}
		if !slices.Equal(shown, all[:len(shown)]) {
			t.Fatalf("kill %d: bob's history of %d lines is not the burst's first %d once each, in order", k, len(shown), len(shown))
		}
		for _, ev := range delivered {
			if !ids[ev["id"].(string)] {
				t.Fatalf("kill %d: alice heard message %s was delivered; bob's history does not have it", k, ev["id"])
			}
		}
		t.Logf("kill %d: alice killed once she had heard %d delivered: %d lines in her history, %d sent and %d delivered events this run, %d lines at bob",
			k, killAt, len(outbox), len(accepted), len(delivered), len(shown))
		stored, atBob = len(outbox), len(shown)
	}
	alice := startAlice(stored)
	if code := alice.exitWithin(t, streamTimeout); code != 0 {
		t.Fatalf("alice exited %d, want 0; stderr:\n%s", code, alice.stderr)
	}
	bob.wantExit(t, 0)
	if got := historyTexts(t, bobDir); !slices.Equal(got, all) {
		t.Fatalf("bob's history has %d lines, want all %d exactly once in order", len(got), n)
	}
	if pending := history(t, "--data-dir", aliceDir, "--pending"); len(pending) != 0 {
		t.Errorf("alice's outbox after she exited 0: %d pending", len(pending))
	}
}

// (3) Messages sent while the peer is down wait, are listed as pending by
// history while the sender runs, and are delivered in order when the peer
// comes up: whether it greets the sender (-p) or the sender's contact
// attempts find it.
func TestOfflinePeerGetsWhatWaited(t *testing.T) {
	const n = 20
	for _, bobKnowsAlice := range []bool{true, false} {
		t.Run(fmt.Sprintf("bobKnowsAlice=%v", bobKnowsAlice), func(t *testing.T) {
			aliceDir, bobDir := t.TempDir(), t.TempDir()
			aliceAddr, bobAddr := loopback(t), loopback(t)
			alice := chatAt(t, aliceDir, aliceAddr, "alice", "--json", "-p", bobAddr, "--timeout", "1m")
			alice.listening(t)
			alice.say(t, numbered(n)...)
			alice.stdout.waitFor(t, "every sent event", func() bool { return len(jsonEvents(t, alice.stdout, "sent")) == n })

			pending := history(t, "--data-dir", aliceDir, "--pending")
			if len(pending) != n || !strings.Contains(pending[0], "[pending ") || !strings.HasSuffix(pending[n-1], "alice: m0019") {
				t.Errorf("history --pending beside the running chat: %q", pending)
			}

			args := []string{}
			if bobKnowsAlice {
				args = append(args, "-p", aliceAddr)
			}
			bob := chatAt(t, bobDir, bobAddr, "bob", args...)
			bob.listening(t)
			wantAllDelivered(t, alice, bob, aliceDir, n)
		})
	}
}

// wantAllDelivered waits until alice (--json, data dir aliceDir) has had n
// lines delivered and bob has shown them, and checks that both exit 0, bob
// showed alice's n numbered lines once each, in order, and alice's outbox
// is empty.
func wantAllDelivered(t *testing.T, alice, bob *proc, aliceDir string, n int) {
	t.Helper()
	alice.stdout.waitFor(t, "every delivered event", func() bool { return len(jsonEvents(t, alice.stdout, "delivered")) == n })
	bob.stdout.waitFor(t, "every message at bob", func() bool { return len(bob.stdout.lines()) >= n })
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)
	want := make([]string, n)
	for i, s := range numbered(n) {
		want[i] = "alice: " + s
	}
	if got := bob.stdout.lines(); !slices.Equal(got, want) {
		t.Errorf("bob showed %q, want alice's %d once each, in order", got, n)
	}
	if pending := history(t, "--data-dir", aliceDir, "--pending"); len(pending) != 0 {
		t.Errorf("alice's outbox after delivery: %q", pending)
	}
}

// (4) history --search finds what was said, in both directions, and only
// that, while both chats run.
func TestHistorySearchWhileChatting(t *testing.T) {
	aliceDir, bobDir := t.TempDir(), t.TempDir()
	aliceAddr, bobAddr := loopback(t), loopback(t)
	alice := chatAt(t, aliceDir, aliceAddr, "alice", "-p", bobAddr)
	alice.listening(t)
	bob := chatAt(t, bobDir, bobAddr, "bob", "-p", aliceAddr)
	bob.listening(t)
	said := []struct{ who, text string }{
		{"alice", "the quick brown fox"},
		{"bob", "a lazy dog sleeps"},
		{"alice", "fox-trot at the Café"},
		{"bob", "unrelated words entirely"},
		{"bob", "\x1b[31mred\x1b[0m fox"},
		{"alice", "foxes are not dogs"},
	}
	count := map[string]int{}
	for _, s := range said {
		from, to := alice, bob
		if s.who == "bob" {
			from, to = bob, alice
		}
		from.say(t, s.text)
		count[s.who]++
		want := count[s.who]
		to.stdout.waitFor(t, "the message", func() bool { return len(to.stdout.lines()) == want })
	}

	line := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  (->|<-) (\S+)  (.*)$`)
	parse := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			m := line.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("history line %q is not TIME  ARROW PEER  NAME: TEXT", l)
			}
			out = append(out, m[1]+" "+m[2]+" "+m[3])
		}
		return out
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--search", "fox"}, []string{
			"<- " + aliceAddr + " alice: the quick brown fox",
			"<- " + aliceAddr + " alice: fox-trot at the Café",
			`-> ` + aliceAddr + ` bob: \x1b[31mred\x1b[0m fox`,
			"<- " + aliceAddr + " alice: foxes are not dogs",
		}},
		{[]string{"--search", "cafe FOX"}, []string{"<- " + aliceAddr + " alice: fox-trot at the Café"}},
		{[]string{"--search", "dog"}, []string{"-> " + aliceAddr + " bob: a lazy dog sleeps", "<- " + aliceAddr + " alice: foxes are not dogs"}},
		{[]string{"--search", "zebra"}, nil},
		{[]string{"--search", "fox", "--peer", bobAddr}, nil},
		{[]string{"--search", "fox", "--peer", aliceAddr, "--limit", "1"}, []string{"<- " + aliceAddr + " alice: foxes are not dogs"}},
		{[]string{"--search", "dog", "--peer", "alice"}, []string{"-> " + aliceAddr + " bob: a lazy dog sleeps", "<- " + aliceAddr + " alice: foxes are not dogs"}},
		{[]string{"--search", "sleeps", "--since", "1h"}, []string{"-> " + aliceAddr + " bob: a lazy dog sleeps"}},
		{[]string{"--search", "sleeps", "--since", time.Now().Add(time.Hour).Format(time.RFC3339)}, nil},
	} {
		got := parse(history(t, append([]string{"--data-dir", bobDir}, tc.args...)...))
		if !slices.Equal(got, tc.want) {
			t.Errorf("history %q:\n%s\nwant:\n%s", tc.args, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
	// The sender's side, and --json.
	if got := historyTexts(t, aliceDir, "--search", "fox"); !slices.Equal(got, []string{
		"the quick brown fox", "fox-trot at the Café", "\x1b[31mred\x1b[0m fox", "foxes are not dogs",
	}) {
		t.Errorf("alice's history --json --search fox: %q", got)
	}
	if got := historyTexts(t, aliceDir, "--peer", "bob", "--search", "fox"); !slices.Equal(got, []string{
		"the quick brown fox", "fox-trot at the Café", "\x1b[31mred\x1b[0m fox", "foxes are not dogs",
	}) {
		t.Errorf("alice's history --json --peer bob --search fox: %q", got)
	}
	// bob's own name is on what he sent, and no peer's.
	if h := udpchat(t, "history", "--data-dir", bobDir, "--peer", "bob"); h.exit(t) != 1 || h.stdout.String() != "" ||
		h.stderr.String() != "udpchat: no peer named \"bob\" in the history or the known peers\n" {
		t.Errorf("bob's history --peer bob: exit %d, stdout %q, stderr %q; want 1, nothing, no peer named bob", h.exit(t), h.stdout, h.stderr)
	}
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)
}

// (5) A database made by the oldest schema, by its own SQL, is upgraded by
// udpchat and keeps every row; history refuses it until then rather than
// misread it.
func TestOldestSchemaIsUpgraded(t *testing.T) {
	dir := t.TempDir()
	schema1, err := os.ReadFile(filepath.Join("..", "..", "internal", "store", "migrations", "0001_messages.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "udpchat.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(schema1) + "\nPRAGMA user_version = 1;"); err != nil {
		t.Fatal(err)
	}
	const rows = 30
	var want []string
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range rows {
		dir, state, text := i%2, 3, fmt.Sprintf("old %02d zebra%d", i, i%3)
		if dir == 0 {
			state = 1 // delivered: a pending row would be sent at the start below
		}
		_, err := db.Exec(`INSERT INTO messages (peer, id, direction, kind, name, text, at, state, delivered_at) VALUES (?, ?, ?, 2, ?, ?, ?, ?, ?)`,
			"192.0.2.1:7475", []byte(fmt.Sprintf("id-%013d", i)), dir, "someone", text, at.Add(time.Duration(i)*time.Minute).UnixNano(), state,
			sql.NullInt64{Int64: at.UnixNano(), Valid: dir == 0})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, text)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	h := udpchat(t, "history", "--data-dir", dir)
	if code := h.exit(t); code != 1 {
		t.Errorf("history of a schema 1 database exited %d, want 1", code)
	}
	if lines := h.stderr.lines(); len(lines) != 1 || !strings.Contains(lines[0], "schema 1") || !strings.Contains(lines[0], filepath.Join(dir, "udpchat.db")) {
		t.Errorf("history of a schema 1 database said %q, want one line naming the file and its schema", h.stderr)
	}

	chatAt(t, dir, anyPort, "me").wantExit(t, 0) // upgrades it
	if got := historyTexts(t, dir); !slices.Equal(got, want) {
		t.Errorf("after the upgrade, history has %q, want %q", got, want)
	}
	if got := historyTexts(t, dir, "--search", "zebra1"); len(got) != 10 {
		t.Errorf("search of the upgraded rows found %d, want 10: %q", len(got), got)
	}
}

// (6) One data dir, one udpchat: a second gets one line naming the dir, and
// exits 1. history and send work beside the first. A damaged database or
// one from a newer udpchat gets one line naming the file, exit 1.
func TestDataDirErrors(t *testing.T) {
	dir := privateDir(t)
	alice := chatAt(t, dir, anyPort, "alice")
	aliceAddr := alice.listening(t)

	second := chatAt(t, dir, anyPort, "alice2")
	if code := second.exit(t); code != 1 {
		t.Errorf("a second udpchat on the data dir exited %d, want 1", code)
	}
	want := fmt.Sprintf("udpchat: another udpchat (pid %d) is using %s; stop it or use another --data-dir", alice.cmd.Process.Pid, dir)
	if lines := second.stderr.lines(); len(lines) != 1 || lines[0] != want {
		t.Errorf("the second udpchat said %q, want %q", second.stderr, want)
	}
	history(t, "--data-dir", dir)
	send := udpchat(t, "send", "--data-dir", dir, "-p", aliceAddr, "-n", "bob", "beside")
	if code := send.exit(t); code != 0 {
		t.Errorf("send beside a chat on its data dir exited %d; stderr:\n%s", code, send.stderr)
	}
	alice.stdout.waitLine(t, "^bob: beside$")
	alice.wantExit(t, 0)

	corrupt := privateDir(t)
	path := filepath.Join(corrupt, "udpchat.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("this is no database\n", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	newer := privateDir(t)
	chatAt(t, newer, anyPort, "me").wantExit(t, 0)
	db, err := sql.Open("sqlite", filepath.Join(newer, "udpchat.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"corrupt", corrupt, regexp.QuoteMeta(path) + ` is not a udpchat database or is damaged .*: to see what is wrong, run sqlite3 ` + regexp.QuoteMeta(path) + ` 'PRAGMA integrity_check'; restore it from a backup, or move it aside .*`},
		{"newer", newer, regexp.QuoteMeta(filepath.Join(newer, "udpchat.db")) + ` was written by a newer udpchat \(schema 999, this one knows \d+\): upgrade udpchat.*`},
	} {
		for _, args := range [][]string{{"--data-dir", tc.dir, "-l", anyPort}, {"history", "--data-dir", tc.dir}} {
			p := udpchat(t, args...)
			if code := p.exit(t); code != 1 {
				t.Errorf("%s: %q exited %d, want 1", tc.name, args, code)
			}
			if lines := p.stderr.lines(); len(lines) != 1 || !regexp.MustCompile("^udpchat: "+tc.want+"$").MatchString(lines[0]) {
				t.Errorf("%s: %q said %q, want one line matching %q", tc.name, args, p.stderr, tc.want)
			}
		}
	}
}

// history --cancel takes a message out of the outbox: the next start does
// not send it, and history shows it cancelled.
func TestCancelPending(t *testing.T) {
	dir := t.TempDir()
	aliceAddr, bobAddr := loopback(t), loopback(t)
	alice := chatAt(t, dir, aliceAddr, "alice", "--json", "-p", bobAddr, "--timeout", "200ms")
	alice.listening(t)
	alice.say(t, "doomed", "kept")
	alice.stdout.waitFor(t, "two sent events", func() bool { return len(jsonEvents(t, alice.stdout, "sent")) == 2 })
	alice.wantExit(t, 1) // nobody at bobAddr: not delivered within the timeout
	pending := history(t, "--data-dir", dir, "--pending")
	if len(pending) != 2 {
		t.Fatalf("history --pending: %q", pending)
	}
	id := regexp.MustCompile(`\[pending ([0-9a-f]{8})\]  alice: doomed$`).FindStringSubmatch(pending[0])
	if id == nil {
		t.Fatalf("history --pending: %q", pending)
	}
	out := history(t, "--data-dir", dir, "--cancel", id[1])
	if len(out) != 1 || !strings.HasPrefix(out[0], "cancelled "+id[1]) {
		t.Errorf("--cancel said %q", out)
	}
	if again := udpchat(t, "history", "--data-dir", dir, "--cancel", id[1]); again.exit(t) != 1 {
		t.Errorf("a second --cancel of the same message succeeded")
	}
	got := history(t, "--data-dir", dir)
	if len(got) != 2 || !strings.Contains(got[0], "[cancelled "+id[1]+"]  alice: doomed") || !strings.Contains(got[1], "[pending ") {
		t.Errorf("history after --cancel: %q", got)
	}

	bob := chatAt(t, t.TempDir(), bobAddr, "bob")
	bob.listening(t)
	alice2 := chatAt(t, dir, aliceAddr, "alice", "--json", "--timeout", "1m")
	alice2.wantExit(t, 0)
	if sent := texts(jsonEvents(t, alice2.stdout, "sent")); !slices.Equal(sent, []string{"kept"}) {
		t.Errorf("the restarted alice sent %q, want only the message not cancelled", sent)
	}
	bob.stdout.waitLine(t, "^alice: kept$")
	bob.wantExit(t, 0)
	if got := bob.stdout.lines(); !slices.Equal(got, []string{"alice: kept"}) {
		t.Errorf("bob showed %q", got)
	}
}
