package udp_test

import (
	"testing"

	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// loopback opens a socket on 127.0.0.1, closed at the end of the test.
func loopback(t testing.TB) udp.Conn {
	t.Helper()
	s, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The per-datagram path must not allocate.
func TestSocketAllocs(t *testing.T) {
	udptest.CheckWriteReadAllocs(t, "socket", loopback(t), loopback(t))
}

func BenchmarkSocket(b *testing.B) {
	udptest.BenchWriteRead(b, loopback(b), loopback(b))
}
