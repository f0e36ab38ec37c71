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
