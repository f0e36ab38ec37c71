package secure

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// A Conn is a udp.BatchConn, so that the transport above it moves its
// datagrams as it does over a bare socket: many a system call, when the
// inner conn can (recvmmsg and sendmmsg, through its own BatchConn). Over one
// that cannot, a batch read reads one datagram and a batch write writes each
// packet as WriteTo does. Either way every datagram is taken exactly as
// ReadFrom and WriteTo take it: the same checks, drops, counters and
// handshake replies, one datagram after the other.
var _ udp.BatchConn = (*Conn)(nil)

// readBatch caps the datagrams one ReadBatch reads from the inner conn (the
// transport asks for 32). writeChunk is how many sealed datagrams WriteBatch
// sends a write: fewer than the transport's 64 a batch, so that the peer
// (on loopback, the other core) starts on the first while the rest are
// sealed, and the chunk (~19 KB) stays in the cache between sealing and
// sending; in interleaved runs this moved more messages a second than
// sealing all 64 first. With GSO a chunk to one peer goes as one run;
// chunks of 64, one sendmsg a batch, measured the same within the noise.
const (
	readBatch  = 32
	writeChunk = 16
)

// rxBatch is where a batch read puts the inner conn's datagrams, before
// opening them into the caller's buffers: a datagram is larger than the
// packet it carries, so the caller's buffers may not hold it, and handshake
// messages are never the caller's. Each buffer is one byte over the largest
// datagram, so that an oversized one shows.
type rxBatch struct {
	ms   [readBatch]udp.Message
	bufs [readBatch][wire.MaxPathDatagram + 1]byte
}

// txBatch is the datagrams a batch write has sealed, for one write of the
// inner conn. They are sealed end to end into buf, so that a run of them to
// one peer is one buffer, which the socket can hand the system whole (GSO:
// see udp.Socket.WriteBatch).
type txBatch struct {
	ms   []udp.Message // sealed so far; Buf in buf
	used int           // bytes of buf they take
	buf  [writeChunk * wire.MaxPathDatagram]byte
	room [writeChunk]udp.Message // ms's backing array
}

// The batches are pooled across Conns, as the transport's are across
// endpoints: making a Conn (a handshake benchmark makes thousands) does not
// make them anew.
var (
	rxBatches = sync.Pool{New: func() any {
		b := new(rxBatch)
		for i := range b.ms {
			b.ms[i].Buf = b.bufs[i][:]
		}
		return b
	}}
	txBatches = sync.Pool{New: func() any {
		b := new(txBatch)
		b.ms = b.room[:0]
		return b
	}}
)

// next is the empty buffer the next datagram is sealed into, right after
// the last, with room for the largest.
func (t *txBatch) next() []byte { return t.buf[t.used : t.used : t.used+wire.MaxPathDatagram] }

// add appends datagram b, sealed into next, for addr.
func (t *txBatch) add(b []byte, addr netip.AddrPort) {
	t.ms = append(t.ms, udp.Message{Buf: b, Addr: addr})
	t.used += len(b)
}

func (t *txBatch) full() bool { return len(t.ms) == writeChunk }

// ReadBatch reads the datagrams waiting on the inner conn, up to len(ms)
// (at most readBatch), in one call if the inner conn batches, and returns
// the packets they carried, decrypted, in ms: at least one, waiting for
// more datagrams while none carried one. Each datagram is taken as ReadFrom
// takes it.
func (c *Conn) ReadBatch(ms []udp.Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	rx := rxBatches.Get().(*rxBatch)
	defer rxBatches.Put(rx)
	in := rx.ms[:min(len(ms), readBatch)]
	for {
		n, err := c.readInner(in)
		if err != nil {
			return 0, c.closedErr("read", err)
		}
		if k := c.openAll(in[:n], ms); k > 0 {
			return k, nil
		}
	}
}

// readInner reads into in: a batch if the inner conn batches, else one.
func (c *Conn) readInner(in []udp.Message) (int, error) {
	if c.bc != nil {
		return c.bc.ReadBatch(in)
	}
	var err error
	if in[0].N, in[0].Addr, err = c.inner.ReadFrom(in[0].Buf); err != nil {
		return 0, err
	}
	return 1, nil
}

// WriteBatch seals each packet as WriteTo does, or queues it for a
// handshake, and sends the sealed datagrams in as few writes of the inner
// conn as it can. It returns how many packets it took (sent or queued); a
// packet refused (too big, the peer table full, the system refusing it) is
// skipped, and the first error is returned after the rest have gone.
func (c *Conn) WriteBatch(ms []udp.Message) (int, error) {
	if c.closed.Load() {
		return 0, fmt.Errorf("secure: write: %w", net.ErrClosed)
	}
	now := time.Now()
	c.maybeSweep(now)
	var tx *txBatch
	if c.bc != nil {
		tx = txBatches.Get().(*txBatch)
		defer txBatches.Put(tx)
	}
	took := 0
	var first error
	note := func(err error) {
		if first == nil {
			first = err
		}
	}
	for i := range ms {
		if err := c.send(ms[i].Buf, ms[i].Addr, now, tx); err != nil {
			note(err)
		} else {
			took++
		}
		if tx != nil && (tx.full() || i == len(ms)-1) {
			lost, err := c.writeOut(tx)
			took -= lost
			if err != nil {
				note(err)
			}
		}
	}
	return took, first
}

// writeOut sends what tx holds with one WriteBatch of the inner conn and
// empties it; it returns how many datagrams did not go, and why.
func (c *Conn) writeOut(tx *txBatch) (int, error) {
	if len(tx.ms) == 0 {
		return 0, nil
	}
	n, err := c.bc.WriteBatch(tx.ms)
	lost := len(tx.ms) - n
	clear(tx.ms)
	tx.ms, tx.used = tx.ms[:0], 0
	if err != nil {
		return lost, c.closedErr("write", err)
	}
	return lost, nil
}
