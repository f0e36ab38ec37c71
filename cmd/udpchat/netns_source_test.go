//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestWildcardAnswersFromContactedAddressNamespace is
// TestWildcardListenAnswersFromContactedAddress across a real link: host a
// has two addresses of each family on its veth, b writes to the second,
// and a's routes would answer from the first. udpchat on a, on the default
// [::], must answer from the one b wrote to, or b's send never hears back.
func TestWildcardAnswersFromContactedAddressNamespace(t *testing.T) {
	requireRootNetns(t, "ip")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	removeStaleLabs(ctx, t)
	pid := os.Getpid()
	a, b := fmt.Sprintf("%sma-%d", labNamePrefix, pid), fmt.Sprintf("%smb-%d", labNamePrefix, pid)
	for _, ns := range []string{a, b} {
		labRun(ctx, t, "ip", "netns", "add", ns)
		t.Cleanup(func() { deleteNamespace(t, ns) })
		labRun(ctx, t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	labRun(ctx, t, "ip", "link", "add", "veth0", "netns", a, "type", "veth", "peer", "name", "veth0", "netns", b)
	// nodad: IPv6 addresses usable at once, not after duplicate detection.
	for ns, addrs := range map[string][]string{a: {"10.199.76.1/24", "10.199.76.3/24"}, b: {"10.199.76.2/24"}} {
		for _, addr := range addrs {
			labRun(ctx, t, "ip", "-n", ns, "addr", "add", addr, "dev", "veth0")
		}
	}
	for ns, addrs := range map[string][]string{a: {"fd00:76::1/64", "fd00:76::a/64"}, b: {"fd00:76::2/64"}} {
		for _, addr := range addrs {
			labRun(ctx, t, "ip", "-n", ns, "addr", "add", addr, "dev", "veth0", "nodad")
		}
	}
	for _, ns := range []string{a, b} {
		labRun(ctx, t, "ip", "-n", ns, "link", "set", "veth0", "up")
	}
	// a's routes to b pick the first address of each family as source:
	// what b wrote to, the second, is what a must answer from.
	labRun(ctx, t, "ip", "-n", a, "route", "replace", "10.199.76.0/24", "dev", "veth0", "src", "10.199.76.1")
	labRun(ctx, t, "ip", "-n", a, "-6", "route", "replace", "fd00:76::/64", "dev", "veth0", "src", "fd00:76::1")
	for _, ns := range []string{a, b} {
		waitLinkReady(ctx, t, ns, "veth0")
	}

	bob := start(t, "ip", "netns", "exec", a, udpchatBinary, "-l", "[::]:9001", "-n", "bob")
	bob.listening(t)
	var want []string
	alice := privateDir(t) // one alice, one key, for both
	for _, second := range []string{"10.199.76.3:9001", "[fd00:76::a]:9001"} {
		text := "hi at " + second
		send := start(t, "ip", "netns", "exec", b, udpchatBinary, "send", "--data-dir", alice, "-p", second, "-n", "alice", "--timeout", "5s", text)
		if code := send.exit(t); code != 0 {
			t.Errorf("send to %s exited %d, want 0; stderr:\n%s", second, code, send.stderr)
		}
		want = append(want, "alice: "+text)
	}
	bob.wantExit(t, 0)
	if got := bob.stdout.lines(); !slices.Equal(got, want) {
		t.Errorf("bob's stdout %q, want %q", got, want)
	}
}
