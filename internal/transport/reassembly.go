package transport

import (
	"errors"

	"github.com/udpchat/udpchat/internal/wire"
)

// Receive window: how far ahead of the next message to deliver a sender may
// be. Both sides rely on these numbers (protocol constants): a sender never
// has more undelivered messages, or bytes of them, in flight, so a receiver
// that refuses chunks past them loses nothing that will not be resent.
//
// The byte window is what binds in practice; the message window only caps
// the bookkeeping. Each message held costs its length plus perMessageCost
// (what holding it costs beyond its bytes), so that many tiny messages
// cannot hold more memory than a few big ones.
const (
	recvWindowMessages = 16384
	recvWindowBytes    = 1 << 20 // must be at least windowCost(wire.MaxMessageLen)
	perMessageCost     = 128
)

// windowCost is what a message of msgLen bytes counts against the receive
// window.
func windowCost(msgLen int) int { return msgLen + perMessageCost }

// The largest message must fit the byte window (a negative array length
// here fails the build).
var _ [recvWindowBytes - (wire.MaxMessageLen + perMessageCost)]struct{}

var (
	errOverWindow = errors.New("chunk beyond the receive window")
	errMismatch   = errors.New("chunk disagrees with earlier chunks of its message")
)

// notConsumed wraps an error from deliver for a message the reassembly
// could not keep (no room in the window): it must come again.
type notConsumed struct{ err error }

func (e notConsumed) Error() string { return "message not consumed: " + e.err.Error() }
func (e notConsumed) Unwrap() error { return e.err }

// reassembly turns chunks of one session into whole messages, delivered in
// sequence order, each exactly once. Its memory is bounded by the receive
// window.
//
// A message the handler cannot take (its disk is full, say) is kept, whole,
// and offered again by retry, on the peer's timer: its chunks were
// acknowledged once held, so the sender will not send them again, and
// nothing after it is delivered before it.
type reassembly struct {
	next     uint64 // the sequence number of the next message to deliver
	partial  map[uint64]*partialMessage
	buffered int // window cost of the messages in partial
	// refused is the error of the last delivery of message next, nil
	// once one succeeds: while it is set, next waits whole in partial
	// for retry.
	refused error
}

type partialMessage struct {
	data    []byte
	have    chunkSet // chunks received
	missing int
}

// add takes one chunk. It calls deliver for each message that becomes
// deliverable, in order, until one fails; the one that failed is kept for
// retry (see stalled). A chunk of a message already delivered, or one
// already held, is accepted and ignored. A refused chunk (errOverWindow,
// errMismatch), or one whose message failed and could not be kept
// (notConsumed), must not be acknowledged: the sender will send it again.
func (r *reassembly) add(c *wire.ChunkFrame, deliver func([]byte) error) error {
	if c.Seq < r.next {
		return nil
	}
	if c.Seq-r.next >= recvWindowMessages {
		return errOverWindow
	}
	m := r.partial[c.Seq]
	if m == nil {
		if c.Seq == r.next && uint64(len(c.Data)) == c.MsgLen {
			// The common case, a whole message in order: no copy,
			// unless it has to wait for retry.
			if err := deliver(c.Data); err != nil {
				return r.keep(c, err)
			}
			r.next++
			r.deliverReady(deliver)
			return nil
		}
		if r.buffered+windowCost(int(c.MsgLen)) > recvWindowBytes {
			return errOverWindow
		}
		m = newPartial(int(c.MsgLen))
		if r.partial == nil {
			r.partial = make(map[uint64]*partialMessage)
		}
		r.partial[c.Seq] = m
		r.buffered += windowCost(int(c.MsgLen))
	} else if uint64(len(m.data)) != c.MsgLen {
		return errMismatch
	}
	if i := int(c.Offset / wire.ChunkSize); !m.have.has(i) {
		m.have.add(i)
		m.missing--
		copy(m.data[c.Offset:], c.Data)
	}
	if r.refused == nil {
		// While a delivery is refused, only retry tries again: a
		// stream of chunks must not be a stream of failed writes.
		r.deliverReady(deliver)
	}
	return nil
}

// keep holds the whole message in c, whose delivery failed with err, for
// retry; without room for it, the chunk must come again (notConsumed).
func (r *reassembly) keep(c *wire.ChunkFrame, err error) error {
	if r.buffered+windowCost(len(c.Data)) > recvWindowBytes {
		return notConsumed{err}
	}
	m := newPartial(len(c.Data))
	copy(m.data, c.Data)
	m.have.add(0)
	m.missing = 0
	if r.partial == nil {
		r.partial = make(map[uint64]*partialMessage)
	}
	r.partial[c.Seq] = m
	r.buffered += windowCost(len(c.Data))
	r.refused = err
	return nil
}

// stalled reports whether a whole message waits because the handler
// refused it, and with what error.
func (r *reassembly) stalled() error { return r.refused }

// retry offers the messages that are ready again, the refused one first.
// It reports whether the refused one was taken.
func (r *reassembly) retry(deliver func([]byte) error) bool {
	r.deliverReady(deliver)
	return r.refused == nil
}

// deliverReady delivers the messages that are whole, in order, until one
// is refused, which stays (see stalled).
func (r *reassembly) deliverReady(deliver func([]byte) error) {
	for {
		m := r.partial[r.next]
		if m == nil || m.missing > 0 {
			return
		}
		if err := deliver(m.data); err != nil {
			r.refused = err
			return
		}
		r.refused = nil
		delete(r.partial, r.next)
		r.buffered -= windowCost(len(m.data))
		r.next++
		freePartial(m)
	}
}

func (r *reassembly) reset() {
	for _, m := range r.partial {
		freePartial(m)
	}
	*r = reassembly{}
}
