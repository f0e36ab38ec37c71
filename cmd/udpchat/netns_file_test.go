//go:build linux

package main

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// fileLossPercent is what each lab host drops of its outgoing UDP while a
// file goes across.
const fileLossPercent = 5

// TestSendFileOverKernelLoss sends a 12 MiB file between two real udpchat
// processes over a kernel path that loses 5% of UDP each way (the lab of
// TestKernelLossNamespaces): send exits 0 and the file arrives whole.
func TestSendFileOverKernelLoss(t *testing.T) {
	requireRootNetns(t, "ip", "nft")
	ctx, cancel := context.WithTimeout(t.Context(), labDeadline)
	defer cancel()
	lab := newLossLab(ctx, t)
	lab.dropUDP(ctx, t, fileLossPercent)

	downloads := t.TempDir()
	bobAt := netip.AddrPortFrom(lab.b.addr, chatPort).String()
	bob := start(t, "ip", "netns", "exec", lab.b.ns, udpchatBinary, "-l", bobAt, "-n", "bob", "--json",
		"--no-discovery", "--data-dir", t.TempDir(), "--accept-files", "--downloads", downloads)
	bob.listening(t)
	path, sum := fileOf(t, t.TempDir(), "dataset.tar.gz", 12<<20)
	begun := time.Now()
	send := start(t, "ip", "netns", "exec", lab.a.ns, udpchatBinary, "send", "-p", bobAt, "-n", "alice",
		"--data-dir", t.TempDir(), "--timeout", "60s", "--file", path)
	if code := send.exitWithin(t, labDeadline); code != 0 {
		t.Fatalf("send --file over %d%% loss exited %d; stderr:\n%s", fileLossPercent, code, send.stderr)
	}
	t.Logf("12 MiB over %d%% loss each way in %v", fileLossPercent, time.Since(begun).Round(time.Millisecond))
	done := jsonLine(t, bob.stdout, "file_done")
	if done["path"] != filepath.Join(downloads, "dataset.tar.gz") {
		t.Errorf("file_done %v", done)
	}
	wantSameFile(t, filepath.Join(downloads, "dataset.tar.gz"), sum)
}
