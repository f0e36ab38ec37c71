//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/testenv"
)

const (
	// lossPercent is the share of UDP each lab host drops on the way out.
	lossPercent = 30
	// lossProbeCount datagrams measure each direction's loss: at 30% the
	// measurement's standard deviation is 1%, so 20–40% is a wide margin.
	lossProbeCount = 2000
	// chatLines numbered lines, then one of chatBigLine bytes, each way.
	chatLines   = 200
	chatBigLine = 200 << 10
	// labDeadline bounds the whole test, build included.
	labDeadline = 3 * time.Minute
)

// TestKernelLossNamespaces runs two real udpchat processes in line mode over
// a real kernel path that loses 30% of UDP each way (two network namespaces,
// a veth pair, nft), and checks that everything each side typed arrives on
// the other exactly once, in order, byte for byte, and both exit 0.
func TestKernelLossNamespaces(t *testing.T) {
	requireRootNetns(t, "ip", "nft")
	ctx, cancel := context.WithTimeoutCause(t.Context(), labDeadline,
		fmt.Errorf("the test's %v deadline passed", labDeadline))
	defer cancel()

	lab := newLossLab(ctx, t)
	lab.dropUDP(ctx, t, lossPercent)
	if !t.Run("nft drops 30% each way", func(t *testing.T) { checkLabLoss(ctx, t, lab) }) {
		t.Fatal("the lab does not lose what it should, so udpchat is not run over it")
	}
	t.Run("udpchat delivers everything", func(t *testing.T) { checkChatOverLoss(ctx, t, lab) })
}

// requireRootNetns skips the test unless it can build network namespaces
// (root, and tools on PATH) or, with UDPCHAT_REQUIRE_ALL=1 as in .ci/run,
// fails it.
func requireRootNetns(t testing.TB, tools ...string) {
	t.Helper()
	testenv.SkipInShort(t, "network namespace")
	testenv.RequireRoot(t, "network namespaces", tools...)
}

// checkLabLoss measures each direction's loss and checks it is what the
// rule says, and that nothing but the rule loses datagrams.
func checkLabLoss(ctx context.Context, t *testing.T, lab *lossLab) {
	for _, h := range lab.hosts() {
		from, to := h, lab.peerOf(h)
		r, err := probeOneWayLoss(ctx, from, to, lossProbeCount)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s → %s: sent %d, dropped by nft %d (sendto: EPERM), received %d: one-way loss %.1f%%",
			from.addr, to.addr, r.sent, r.refused, r.received, 100*r.loss())
		if lost := r.sent - r.refused - r.received; lost != 0 {
			t.Errorf("%s → %s: %d datagrams lost besides the %d nft dropped", from.addr, to.addr, lost, r.refused)
		}
		if l := r.loss(); l < 0.20 || l > 0.40 {
			t.Errorf("%s → %s: one-way loss %.1f%%, want 20–40%% from a %d%% rule", from.addr, to.addr, 100*l, lossPercent)
		}
	}
}

// checkChatOverLoss is the real check: alice and bob each type their
// script, then end their input, over the lossy lab.
func checkChatOverLoss(ctx context.Context, t *testing.T, lab *lossLab) {
	bin := netnsUdpchatBinary(ctx, t)
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	aliceSays, bobSays := chatScript("alice"), chatScript("bob")
	alice := startChat(ctx, t, bin, "alice", lab.a, lab.b, aliceSays, len(bobSays))
	bob := startChat(ctx, t, bin, "bob", lab.b, lab.a, bobSays, len(aliceSays))

	// A side that fails leaves the other no one to talk to: end it now
	// rather than at the deadline.
	exited := make(chan *chatProcess)
	for _, p := range []*chatProcess{alice, bob} {
		go func() {
			p.wait()
			exited <- p
		}()
	}
	for range 2 {
		if p := <-exited; p.wait() != nil {
			stop(fmt.Errorf("its peer %s failed", p.name))
		}
	}

	checkChatSide(ctx, t, alice, lab.a, "bob", bobSays)
	checkChatSide(ctx, t, bob, lab.b, "alice", aliceSays)
}

// checkChatSide checks the exited p by the CLI contract: exit 0 (all it
// sent was delivered), stdout exactly the peer's lines as "NAME: TEXT", and
// the listening line on stderr.
func checkChatSide(ctx context.Context, t *testing.T, p *chatProcess, host labHost, peerName string, peerSaid []string) {
	t.Helper()
	if err := p.wait(); err != nil {
		why := "want exit 0: everything delivered"
		if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() < 0 && ctx.Err() != nil {
			why = fmt.Sprintf("killed by the test: %v", context.Cause(ctx))
		}
		t.Errorf("%s: %v (%s); stderr:\n%s", p.name, err, why, p.stderrTail())
	}

	want := make([]string, len(peerSaid))
	for i, text := range peerSaid {
		want[i] = peerName + ": " + text
	}
	got, partial := p.stdout.result()
	if diff := transcriptDiff(got, want); diff != "" {
		t.Errorf("%s's stdout: %s", p.name, diff)
	}
	if partial != "" {
		t.Errorf("%s's stdout ends in an unterminated line %s", p.name, shorten(partial))
	}

	listening := fmt.Sprintf("udpchat: listening on %s as %s", netip.AddrPortFrom(host.addr, chatPort), p.name)
	if errLines, _ := p.stderr.result(); !slices.Contains(errLines, listening) {
		t.Errorf("%s's stderr lacks the line %q; stderr:\n%s", p.name, listening, p.stderrTail())
	}
}

// chatScript is what one side types: chatLines numbered lines, then one
// line of chatBigLine bytes. Every line is distinct, so a transcript can be
// checked for missing, repeated and reordered lines, and the non-ASCII text
// checks that bytes pass unchanged.
func chatScript(name string) []string {
	lines := make([]string, 0, chatLines+1)
	for i := 1; i <= chatLines; i++ {
		lines = append(lines, fmt.Sprintf("%s-%04d grüße ✓ %s", name, i, strings.Repeat("·", i%40)))
	}
	var big strings.Builder
	for k := 0; big.Len() < chatBigLine; k++ {
		fmt.Fprintf(&big, "%s-big-%06d ", name, k)
	}
	return append(lines, big.String()[:chatBigLine-1]+".")
}

// transcriptDiff describes how got differs from want, whose lines are all
// distinct, or returns "" if they are equal.
func transcriptDiff(got, want []string) string {
	if slices.Equal(got, want) {
		return ""
	}
	index := make(map[string]int, len(want))
	for i, w := range want {
		index[w] = i
	}
	times := make([]int, len(want))
	unexpected, backwards, last := 0, 0, -1
	for _, g := range got {
		i, ok := index[g]
		if !ok {
			unexpected++
			continue
		}
		times[i]++
		if i < last {
			backwards++
		}
		last = i
	}
	missing, repeated := 0, 0
	for _, n := range times {
		switch {
		case n == 0:
			missing++
		case n > 1:
			repeated += n - 1
		}
	}
	first := 0
	for first < min(len(got), len(want)) && got[first] == want[first] {
		first++
	}
	gotLine, wantLine := "(end)", "(end)"
	if first < len(got) {
		gotLine = shorten(got[first])
	}
	if first < len(want) {
		wantLine = shorten(want[first])
	}
	return fmt.Sprintf("%d lines, want %d: %d missing, %d repeated, %d out of order, %d unexpected; "+
		"first difference at line %d: got %s, want %s",
		len(got), len(want), missing, repeated, backwards, unexpected, first+1, gotLine, wantLine)
}
