package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openRO opens dir read-only, closed when the test ends.
func openRO(t *testing.T, dir string) *MessageDB {
	t.Helper()
	s, err := OpenReadOnly(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestReadOnlyBesideTheWriter reads while another MessageDB holds the data dir
// and keeps writing: each query sees what was committed before it, and the
// reader can write nothing.
func TestReadOnlyBesideTheWriter(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	w := openT(t, dir)
	for i := range 10 {
		if _, err := w.AddIncoming(ctx, testMessage("a:1", testID(i), fmt.Sprintf("before %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	r := openRO(t, dir)
	if got, err := r.History(ctx, Query{}); err != nil || len(got) != 10 {
		t.Fatalf("History beside the writer: %d messages, %v; want 10", len(got), err)
	}
	if err := w.AddOutgoing(ctx, testMessage("a:1", testID(100), "after the reader opened")); err != nil {
		t.Fatal(err)
	}
	if got, err := r.History(ctx, Query{Search: "after"}); err != nil || len(got) != 1 {
		t.Errorf("search for a message written since: %d, %v; want 1", len(got), err)
	}
	if got, err := r.Pending(ctx); err != nil || len(got) != 1 {
		t.Errorf("Pending beside the writer: %d, %v; want 1", len(got), err)
	}
	if got, err := r.PeersNamed(ctx, "name of a:1"); err != nil || len(got) != 1 || got[0] != "a:1" {
		t.Errorf("PeersNamed beside the writer: %q, %v; want [a:1]", got, err)
	}
	if _, err := r.AddIncoming(ctx, testMessage("a:1", testID(200), "from the reader")); err == nil {
		t.Error("a read-only store wrote")
	}
	if err := w.MarkDelivered(ctx, "a:1", testID(100)); err != nil {
		t.Errorf("the writer after the reader's attempt: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("read-only Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("writer's Close: %v", err)
	}
}

// TestReadOnlyTakesNoLock: a reader open does not keep udpchat from
// starting, and reads a database no one else has open (its WAL
// checkpointed and removed).
func TestReadOnlyTakesNoLock(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	w := openT(t, dir)
	if _, err := w.AddIncoming(ctx, testMessage("a:1", testID(1), "hello")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := openRO(t, dir)
	if got, err := r.History(ctx, Query{}); err != nil || len(got) != 1 {
		t.Errorf("History of a closed database: %d, %v; want 1", len(got), err)
	}
	w2 := openT(t, dir) // fails if the reader took the lock
	if _, err := w2.AddIncoming(ctx, testMessage("a:1", testID(2), "again")); err != nil {
		t.Fatal(err)
	}
	if got, err := r.History(ctx, Query{}); err != nil || len(got) != 2 {
		t.Errorf("History after a new writer wrote: %d, %v; want 2", len(got), err)
	}
}

// TestReadOnlyAfterAKill reads a database whose writer was killed with
// SIGKILL, its commits still in the WAL.
func TestReadOnlyAfterAKill(t *testing.T) {
	dir := t.TempDir()
	cmd := child(t, "write-and-hold", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if fi, err := os.Stat(filepath.Join(dir, DBName+"-wal")); err != nil || fi.Size() == 0 {
		t.Logf("no WAL left by the killed writer (%v): the test checks less than it means to", err)
	}
	r := openRO(t, dir)
	got, err := r.History(t.Context(), Query{})
	if err != nil || len(got) != 100 {
		t.Fatalf("History after the writer was killed: %d, %v; want 100", len(got), err)
	}
}

func TestReadOnlyRefuses(t *testing.T) {
	ctx := t.Context()
	t.Run("no database", func(t *testing.T) {
		dir := t.TempDir()
		_, err := OpenReadOnly(ctx, dir)
		if !errors.Is(err, ErrNoHistory) || !strings.Contains(err.Error(), dir) {
			t.Errorf("got %v, want ErrNoHistory naming %s", err, dir)
		}
	})
	t.Run("older schema", func(t *testing.T) {
		dir := t.TempDir()
		old, err := open(ctx, dir, options{schema: 1})
		if err != nil {
			t.Fatal(err)
		}
		old.Close()
		_, err = OpenReadOnly(ctx, dir)
		if !errors.Is(err, ErrOlderSchema) || !strings.Contains(err.Error(), filepath.Join(dir, DBName)) {
			t.Errorf("got %v, want ErrOlderSchema naming the file", err)
		}
		// The reader did not upgrade it behind the user's back.
		if _, err := OpenReadOnly(ctx, dir); !errors.Is(err, ErrOlderSchema) {
			t.Errorf("second OpenReadOnly: %v, want ErrOlderSchema again", err)
		}
	})
	t.Run("newer schema", func(t *testing.T) {
		dir := t.TempDir()
		s := openT(t, dir)
		if _, err := s.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion+1)); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err := OpenReadOnly(ctx, dir)
		if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "newer udpchat") {
			t.Errorf("got %v, want ErrNewerSchema", err)
		}
	})
	t.Run("not a database", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, DBName)
		if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite\n", 500)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenReadOnly(ctx, dir)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("got %v, want ErrCorrupt naming %s", err, path)
		}
	})
}

// TestAddSent: a message sent with no acknowledgement to come is history,
// not outbox.
func TestAddSent(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openT(t, dir)
	m := testMessage("192.0.2.1:7475", testID(1), "plain hello")
	if err := s.AddSent(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSent(ctx, m); !errors.Is(err, ErrDuplicate) {
		t.Errorf("AddSent of the same ID again: %v, want ErrDuplicate", err)
	}
	if p, err := s.Pending(ctx); err != nil || len(p) != 0 {
		t.Errorf("Pending: %d, %v; want none", len(p), err)
	}
	if err := s.Cancel(ctx, m.Peer, m.ID); !errors.Is(err, ErrNotPending) {
		t.Errorf("Cancel of a sent message: %v, want ErrNotPending", err)
	}
	got, err := s.History(ctx, Query{Search: "plain"})
	if err != nil || len(got) != 1 {
		t.Fatalf("History: %d, %v", len(got), err)
	}
	m.State = Sent
	if d := sameMessage(got[0], m); d != "" {
		t.Error(d)
	}
	if Sent.String() != "sent" {
		t.Errorf("Sent.String() = %q", Sent.String())
	}
}
