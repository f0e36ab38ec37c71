package udptest

import (
	"testing"

	"github.com/udpchat/udpchat/internal/udp"
)

// CheckWriteReadAllocs fails the test unless writing a datagram from a to b
// and reading it there allocates nothing: at thousands of datagrams a
// second, garbage is latency. what names the conns in the log and errors.
func CheckWriteReadAllocs(t *testing.T, what string, a, b udp.Conn) {
	t.Helper()
	msg := make([]byte, 1200)
	buf := make([]byte, 2048)
	to := b.LocalAddr()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := a.WriteTo(msg, to); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%s write+read: %v allocs", what, allocs)
	if allocs != 0 {
		t.Errorf("%s write+read: %v allocs, want 0", what, allocs)
	}
}

// BenchWriteRead measures writing a 1200-byte datagram from src to dst and
// reading it there.
func BenchWriteRead(b *testing.B, src, dst udp.Conn) {
	msg := make([]byte, 1200)
	buf := make([]byte, 2048)
	to := dst.LocalAddr()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.WriteTo(msg, to); err != nil {
			b.Fatal(err)
		}
		if _, _, err := dst.ReadFrom(buf); err != nil {
			b.Fatal(err)
		}
	}
}
