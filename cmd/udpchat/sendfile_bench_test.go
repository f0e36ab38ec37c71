package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchFileSize is what the file benchmarks move: enough that starting the
// processes and the handshake weigh little.
const benchFileSize = 64 << 20

// BenchmarkSendFile: udpchat send --file of 64 MiB to a chat on loopback
// that takes it (encrypted, verified, fsynced, linked into place), from
// the start of send to its exit 0, hashing the file included.
func BenchmarkSendFile(b *testing.B) {
	src := b.TempDir()
	path := filepath.Join(src, "bench.bin")
	writeRandom(b, path, benchFileSize)
	downloads := b.TempDir()
	bob := udpchat(b, "-l", anyPort, "-n", "bob", "--json", "--no-discovery", "--accept-files", "--downloads", downloads)
	addr := bob.listening(b)
	alice := b.TempDir() // one identity: bob refuses another key under the same name
	sendFileLoop(b, downloads, func() *proc {
		return udpchat(b, "send", "-p", addr, "-n", "alice", "--data-dir", alice, "--file", path)
	})
}

// sendFileLoop times send (a send --file of a benchFileSize file that
// lands in downloads) b.N times.
func sendFileLoop(b *testing.B, downloads string, send func() *proc) {
	b.SetBytes(benchFileSize)
	b.ResetTimer()
	for b.Loop() {
		s := send()
		if code := s.exitWithin(b, 10*time.Minute); code != 0 {
			b.Fatalf("send --file exited %d: %s", code, s.stderr)
		}
		b.StopTimer()
		os.Remove(filepath.Join(downloads, "bench.bin")) // else the next is there already
		b.StartTimer()
	}
}

// BenchmarkTCPCopy is the baseline: the same file over a TCP connection on
// loopback into a file (no encryption, no hashing, no fsync).
func BenchmarkTCPCopy(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.bin")
	writeRandom(b, path, benchFileSize)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	tcpCopyLoop(b, ln, path, func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) })
}

// tcpCopyLoop times b.N copies of the file at path over a connection that
// dial opens to ln, into a file.
func tcpCopyLoop(b *testing.B, ln net.Listener, path string, dial func() (net.Conn, error)) {
	dst := filepath.Join(b.TempDir(), "copy.bin")
	b.SetBytes(benchFileSize)
	b.ResetTimer()
	for b.Loop() {
		done := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			f, err := os.Create(dst)
			if err == nil {
				_, err = io.Copy(f, c)
				f.Close()
			}
			done <- err
		}()
		c, err := dial()
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(c, f)
		f.Close()
		c.Close()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

func writeRandom(b *testing.B, path string, size int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rnd, _ := os.Open("/dev/urandom")
	defer rnd.Close()
	if _, err := io.CopyN(f, rnd, int64(size)); err != nil {
		b.Fatal(err)
	}
}
