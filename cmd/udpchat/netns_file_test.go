//go:build linux

package main

import (
	"context"
	"net"
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

// BenchmarkSendFileOverKernelLoss is BenchmarkSendFile between the two
// namespaces of the lab, each dropping 5 % of the UDP it sends.
func BenchmarkSendFileOverKernelLoss(b *testing.B) {
	requireRootNetns(b, "ip", "nft")
	ctx := b.Context()
	lab := newLossLab(ctx, b)
	lab.dropUDP(ctx, b, fileLossPercent)
	path := filepath.Join(b.TempDir(), "bench.bin")
	writeRandom(b, path, benchFileSize)
	downloads := b.TempDir()
	bobAt := netip.AddrPortFrom(lab.b.addr, chatPort).String()
	bob := start(b, "ip", "netns", "exec", lab.b.ns, udpchatBinary, "-l", bobAt, "-n", "bob", "--json",
		"--no-discovery", "--data-dir", b.TempDir(), "--accept-files", "--downloads", downloads)
	bob.listening(b)
	alice := b.TempDir()
	sendFileLoop(b, downloads, func() *proc {
		return start(b, "ip", "netns", "exec", lab.a.ns, udpchatBinary, "send", "-p", bobAt, "-n", "alice",
			"--data-dir", alice, "--timeout", "60s", "--file", path)
	})
}

// BenchmarkTCPCopyOverKernelLoss is BenchmarkTCPCopy between the two
// namespaces of the lab, each dropping 5 % of the TCP segments it sends:
// the baseline of BenchmarkSendFileOverKernelLoss.
func BenchmarkTCPCopyOverKernelLoss(b *testing.B) {
	requireRootNetns(b, "ip", "nft")
	ctx := b.Context()
	lab := newLossLab(ctx, b)
	lab.drop(ctx, b, "tcp", fileLossPercent)
	path := filepath.Join(b.TempDir(), "bench.bin")
	writeRandom(b, path, benchFileSize)
	at := netip.AddrPortFrom(lab.b.addr, chatPort).String()
	var ln net.Listener
	if err := inNamespace(lab.b.ns, func() (err error) { ln, err = net.Listen("tcp", at); return err }); err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	tcpCopyLoop(b, ln, path, func() (c net.Conn, err error) {
		err = inNamespace(lab.a.ns, func() error { c, err = net.Dial("tcp", at); return err })
		return c, err
	})
}
