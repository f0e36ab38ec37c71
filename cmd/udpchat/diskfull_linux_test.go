package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireRoot skips the test unless it runs as root (to mount a tmpfs)
// or, with UDPCHAT_REQUIRE_ALL=1 as in .ci/run, fails it.
func requireRoot(t *testing.T, what string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	why := what + " needs root"
	if os.Getenv("UDPCHAT_REQUIRE_ALL") == "1" {
		t.Fatal(why + " (required: UDPCHAT_REQUIRE_ALL=1)")
	}
	t.Skip(why + " (UDPCHAT_REQUIRE_ALL=1 makes this a failure)")
}

// fullFor is how long TestDiskFullThenRoom keeps bob's disk full.
const fullFor = 6 * time.Second

// TestDiskFullThenRoom: bob's data dir is on a 1 MiB tmpfs that a
// ballast file fills after alice's first three lines; alice pipes 297
// more. bob says once that his disk is full and acknowledges nothing he
// could not store; the ballast goes and the tmpfs grows to 20 MB, and then,
// with nothing more from alice, bob stores and shows every line, says once
// that storing works again, and alice exits 0. Delivery once stayed at
// 5 of 300 for good in this setting run by hand (bob with --log, 3 s
// between alice's two bursts); under this test it resumed, if slowly, so
// it checks the whole path and the two notices, while the stall itself is
// reproduced by transport's TestDeliveryResumesWhenTheDiskHasRoom.
func TestDiskFullThenRoom(t *testing.T) {
	requireRoot(t, "mounting a tmpfs")
	mnt := t.TempDir()
	// Room for a new store, with a contact, and the first lines (about
	// 230 KiB with its write-ahead log, more when a checkpoint comes
	// late: 256 KiB was sometimes full before the third line); the
	// ballast takes whatever is left, so the size only has to be enough.
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", mnt, err)
	}
	// Registered before the processes start, so it runs after they are
	// killed.
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	bobDir := filepath.Join(mnt, "bob")
	if err := os.Mkdir(bobDir, 0o700); err != nil {
		t.Fatal(err)
	}
	aliceAddr, bobAddr := loopback(t), loopback(t)
	bob := chatAt(t, bobDir, bobAddr, "bob")
	bob.listening(t)
	alice := chatAt(t, privateDir(t), aliceAddr, "alice", "-p", bobAddr, "--timeout", "2m")
	alice.listening(t)
	const total, first = 300, 3
	lines := numbered(total)
	alice.say(t, lines[:first]...)
	bob.stdout.waitFor(t, "the first lines at bob", func() bool { return len(bob.stdout.lines()) == first })

	ballast := filepath.Join(mnt, "ballast")
	fill(t, ballast)
	// In one write, as a pipe delivers a burst: alice packs several
	// messages a packet.
	if _, err := io.WriteString(alice.stdin, strings.Join(lines[first:], "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	alice.stdin.Close()
	full := bob.stderr.waitLine(t, `is not stored, so not yet accepted \(it will come again\): .* is full`)
	// The disk stays full for a while, as a real one does until someone
	// frees space: long enough for alice to have sent everything, and
	// for every retransmission timer to have backed off.
	time.Sleep(fullFor)
	if got := len(bob.stdout.lines()); got != first {
		t.Fatalf("bob showed %d lines on a full disk, want %d", got, first)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_REMOUNT, "size=20m"); err != nil {
		t.Fatalf("grow the tmpfs: %v", err)
	}
	room := time.Now()

	if code := alice.exitWithin(t, 2*time.Minute); code != 0 {
		t.Errorf("alice exited %d, want 0; stderr:\n%s", code, alice.stderr)
	}
	bob.stdout.waitFor(t, "every line at bob", func() bool { return len(bob.stdout.lines()) == total })
	t.Logf("bob had every line %v after his disk had room", time.Since(room).Round(time.Millisecond))
	bob.wantExit(t, 0)
	want := make([]string, total)
	for i, l := range lines {
		want[i] = "alice: " + l
	}
	if got := bob.stdout.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("bob showed %d lines, want alice's %d once in order", len(got), total)
	}
	stderr := bob.stderr.String()
	if n := strings.Count(stderr, "is not stored"); n != 1 {
		t.Errorf("bob said %d times that his disk is full, want once (%q); stderr:\n%s", n, full, stderr)
	}
	if n := strings.Count(stderr, "udpchat: the history can be written again"); n != 1 {
		t.Errorf("bob said %d times that storing works again, want once; stderr:\n%s", n, stderr)
	}
}

// fill writes the file at path until its file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 1024)
	for written := 0; ; written += len(block) {
		if written > 1<<30 {
			t.Fatalf("wrote 1 GiB to %s and it is not full", path)
		}
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}
