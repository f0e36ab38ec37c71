package safefile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/udpchat/udpchat/internal/safefile"
)

func TestReplaceLeavesTheNewFileAndNothingElse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "known_peers")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safefile.Replace(path, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new\n" {
		t.Fatalf("after Replace the file holds %q (%v), want %q", got, err, "new\n")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("the dir holds %v (%v): a temporary file was left behind", entries, err)
	}
}

func TestReplaceIntoAMissingDirFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "name")
	if err := safefile.Replace(path, []byte("alice\n"), 0o600); err == nil {
		t.Fatal("Replace into a missing directory succeeded")
	}
}

func TestLocksExcludeEachOther(t *testing.T) {
	path := filepath.Join(t.TempDir(), "udpchat.lock")
	unlock, err := safefile.LockPath(path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if held, err := safefile.TryLock(other); err != nil || !held {
		t.Fatalf("TryLock while LockPath holds the lock: held=%v err=%v, want held", held, err)
	}
	unlock()
	if held, err := safefile.TryLock(other); err != nil || held {
		t.Fatalf("TryLock after unlock: held=%v err=%v, want the lock", held, err)
	}
	// Now other holds it, and no one else gets it.
	third, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if held, err := safefile.TryLock(third); err != nil || !held {
		t.Fatalf("a second TryLock: held=%v err=%v, want held", held, err)
	}
}

func TestCreateNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.key")
	if err := safefile.Create(path, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := safefile.Create(path, []byte("second\n"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("a second Create: %v, want fs.ErrExist", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "first\n" {
		t.Fatalf("after two Creates the file holds %q (%v), want the first", got, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
		t.Fatalf("the dir holds %v (%v): a temporary file was left behind", entries, err)
	}
}
