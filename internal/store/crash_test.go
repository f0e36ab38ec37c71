package store

import (
	"bufio"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/udpchat/udpchat/internal/testenv"
)

// TestCrash kills a process storing incoming messages with SIGKILL at
// random points: every message whose AddIncoming had returned (which is
// when a receiver acknowledges it) is there after a restart, the database
// opens cleanly each time, and storing the killed stream again adds
// nothing twice.
func TestCrash(t *testing.T) {
	testenv.SkipInShort(t, "crash")
	ctx := t.Context()
	dir := t.TempDir()
	var acked [][16]byte
	for run := range 4 {
		killAfter := 1 + rand.IntN(1500)
		cmd := child(t, "crash", dir, childRunEnv+"="+string(rune('0'+run)))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		n := 0
		for lines.Scan() {
			b, err := hex.DecodeString(lines.Text())
			if err != nil || len(b) != 16 {
				cmd.Process.Kill()
				t.Fatalf("child printed %q", lines.Text())
			}
			acked = append(acked, [16]byte(b))
			if n++; n == killAfter {
				cmd.Process.Kill() // SIGKILL; what it printed before is still in the pipe
			}
		}
		if err := cmd.Wait(); err == nil {
			t.Fatalf("run %d: the child finished before it was killed", run)
		}
		t.Logf("run %d: killed after %d acknowledged messages (%d read)", run, killAfter, n)

		s := openT(t, dir)
		stored, err := s.History(ctx, Query{Limit: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		have := make(map[[16]byte]bool, len(stored))
		for _, m := range stored {
			if have[m.ID] {
				t.Errorf("run %d: %x stored twice", run, m.ID)
			}
			have[m.ID] = true
		}
		for _, id := range acked {
			if !have[id] {
				t.Errorf("run %d: %x was acknowledged but is lost", run, id)
			}
		}
		// The sender retransmits what it saw no ack for and what it did:
		// nothing acknowledged is new again.
		for _, id := range acked[len(acked)-n:] {
			if isNew, err := s.AddIncoming(ctx, testMessage("alice", id, "retransmitted")); err != nil || isNew {
				t.Fatalf("run %d: retransmission of %x: isNew %v, %v", run, id, isNew, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
