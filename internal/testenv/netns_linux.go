package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Namespace is a network namespace made for one test.
type Namespace struct{ Name string }

// NewNamespace makes a network namespace, named after prefix and this
// process, with its loopback up, and deletes it when t ends. It is one of
// the slow suites (SkipInShort) and needs root and ip (RequireRoot).
func NewNamespace(t *testing.T, prefix string) *Namespace {
	t.Helper()
	SkipInShort(t, "network namespace")
	RequireRoot(t, "network namespaces", "ip")
	ns := &Namespace{Name: fmt.Sprintf("%s-%d", prefix, os.Getpid())}
	runIP(t, "netns", "add", ns.Name)
	t.Cleanup(func() { runIP(t, "netns", "del", ns.Name) })
	ns.IP(t, "link", "set", "lo", "up")
	return ns
}

// IP runs ip with args in the namespace (ip -n), or fails the test.
func (ns *Namespace) IP(t testing.TB, args ...string) {
	t.Helper()
	runIP(t, append([]string{"-n", ns.Name}, args...)...)
}

func runIP(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Do runs fn in the namespace: the sockets it opens stay in it, wherever
// they are used from later. It enters on a thread of its own, which is
// thrown away if it cannot come back.
func (ns *Namespace) Do(t testing.TB, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer home.Close()
		target, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter %s: %w", ns.Name, err)
			return
		}
		fn()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("leave %s: %w", ns.Name, err) // the thread ends locked: discarded
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
