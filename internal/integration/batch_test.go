package integration_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
)

// batchCounter is a socket that batches, watched: the most datagrams one of
// its batch calls moved each way.
type batchCounter struct {
	udp.BatchConn
	mostRead, mostWritten atomic.Int64
}

func (c *batchCounter) ReadBatch(ms []udp.Message) (int, error) {
	n, err := c.BatchConn.ReadBatch(ms)
	raise(&c.mostRead, n)
	return n, err
}

func (c *batchCounter) WriteBatch(ms []udp.Message) (int, error) {
	n, err := c.BatchConn.WriteBatch(ms)
	raise(&c.mostWritten, n)
	return n, err
}

func raise(v *atomic.Int64, n int) {
	for old := v.Load(); int64(n) > old && !v.CompareAndSwap(old, int64(n)); old = v.Load() {
	}
}

// TestTransportOverSecureSockets: the stack udpchat runs, the transport over
// secure conns over UDP sockets (here on loopback), delivers 2,000 messages
// each way exactly once and in order; and where the socket moves several
// datagrams a system call (recvmmsg and sendmmsg, on Linux), the secure layer
// passes the transport's batches through to it, both ways.
func TestTransportOverSecureSockets(t *testing.T) {
	var counters []*batchCounter
	listen := func() udp.Conn {
		c := securetest.ListenLoopback(t, loopback(0, 0, 1))
		bc, ok := c.(udp.BatchConn)
		if !ok {
			return c
		}
		counter := &batchCounter{BatchConn: bc}
		counters = append(counters, counter)
		return counter
	}
	a := newChatter(t, listen(), secure.Config{Static: securetest.MustKey(t)})
	b := newChatter(t, listen(), secure.Config{Static: securetest.MustKey(t)})
	defer a.close()
	defer b.close()
	exchange(t, a, b, 2000, time.Minute)
	for _, s := range []secure.Stats{a.sec.Stats(), b.sec.Stats()} {
		if s.Drops[secure.DropAuth] != 0 || s.Drops[secure.DropReplay] != 0 || s.Drops[secure.DropOversize] != 0 {
			t.Errorf("drops on clean loopback: %v", s.Drops)
		}
	}
	for i, c := range counters {
		if c.mostRead.Load() < 2 || c.mostWritten.Load() < 2 {
			t.Errorf("socket %d: at most %d datagrams a batch read, %d a batch write: the secure layer does not batch",
				i, c.mostRead.Load(), c.mostWritten.Load())
		}
	}
}
