//go:build unix

package store

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		testPermissionAsNobody(t)
		return
	}
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	for _, d := range []string{dir, filepath.Join(dir, "sub")} {
		_, err := Open(ctx, d)
		if !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("Open(%s): %v, want fs.ErrPermission", d, err)
		}
		if want := "cannot use data dir " + d; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// testPermissionAsNobody runs the permission test as root, whom permissions
// do not stop: a copy of the test binary runs as the user nobody.
func testPermissionAsNobody(t *testing.T) {
	top, err := os.MkdirTemp("", "udpchat-store-perm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	copyExe := filepath.Join(top, "store.test")
	if err := os.WriteFile(copyExe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "data") // root's, 0700
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "sub")} {
		cmd := child(t, "open", d)
		cmd.Path, cmd.Args[0] = copyExe, copyExe
		asNobody(cmd)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child as nobody: %v", err)
		}
		got := strings.TrimSpace(string(out))
		for _, want := range []string{"cannot use data dir " + d, "permission denied", "check its owner and mode"} {
			if !strings.Contains(got, want) {
				t.Errorf("Open(%s) as nobody: %q does not say %q", d, got, want)
			}
		}
	}
}

// asNobody makes cmd run as the user and group nobody (65534).
func asNobody(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
}

// TestDatabaseFilesPrivate: the history is readable by its owner only,
// even in a data dir others may enter and under the common umask 022, with
// which SQLite alone would make udpchat.db 0644.
func TestDatabaseFilesPrivate(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o022))
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, DBName)
	files := []string{db, db + "-wal", db + "-shm"}
	wantPrivate := func(when string) {
		t.Helper()
		for _, p := range files {
			fi, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s: %v", when, err)
			} else if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %04o, want 0600", when, filepath.Base(p), fi.Mode().Perm())
			}
		}
	}

	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Notices(); len(n) != 0 {
		t.Errorf("Notices of a new database: %q", n)
	}
	wantPrivate("after Open")
	for i := range 50 {
		if _, err := s.AddIncoming(ctx, testMessage("a:1", testID(i), "secret")); err != nil {
			t.Fatal(err)
		}
	}
	wantPrivate("after writes")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// What an older udpchat left: everything 0644. (Close removed -wal and
	// -shm; SQLite takes empty ones for a WAL with nothing in it.)
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range files[1:] {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantPrivate("after reopening files others could read")
	if n := s.Notices(); len(n) != len(files) || !strings.Contains(n[0], "had mode 0644") || !strings.Contains(n[0], db) {
		t.Errorf("Notices: %q, want one for each file, saying it had mode 0644", n)
	}
	ms, err := s.History(ctx, Query{Limit: 100})
	if err != nil || len(ms) != 50 {
		t.Errorf("History after reopening: %d messages, %v; want 50", len(ms), err)
	}
	if _, err := s.AddIncoming(ctx, testMessage("a:1", testID(99), "more")); err != nil {
		t.Fatal(err)
	}
	wantPrivate("after more writes")
}
