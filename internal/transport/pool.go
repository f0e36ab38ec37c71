package transport

import (
	"math/bits"
	"sync"

	"github.com/udpchat/udpchat/internal/wire"
)

// Messages on their way out (outMessage) and messages being reassembled
// (partialMessage) are recycled, so that a steady stream of messages does
// not allocate. Each is pooled with its buffer, by size class: a power of
// two from 128 bytes up, the last class exactly wire.MaxMessageLen. A
// buffer is about twice the message it holds at most, so what the receive
// window counts (message lengths) bounds what reassembly holds to about 2×.

const minClassShift = 7 // the smallest class: 128 bytes

var numClasses = sizeClass(wire.MaxMessageLen) + 1

// sizeClass is the class of a buffer for n bytes.
func sizeClass(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// classSize is the capacity of a class's buffers.
func classSize(c int) int { return min(1<<(c+minClassShift), wire.MaxMessageLen) }

var (
	outPools     = make([]sync.Pool, numClasses)
	partialPools = make([]sync.Pool, numClasses)
)

// newOutMessage returns a message of n bytes, its data to be filled in, with
// everything else zero.
func newOutMessage(n int) *outMessage {
	c := sizeClass(n)
	m, _ := outPools[c].Get().(*outMessage)
	if m == nil {
		m = &outMessage{data: make([]byte, classSize(c))}
	}
	m.data = m.data[:n]
	return m
}

// freeOutMessage recycles m. Nothing may use it afterwards: chunkRefs name
// messages by sequence number, not by pointer, for that reason.
func freeOutMessage(m *outMessage) {
	data := m.data[:0]
	*m = outMessage{data: data}
	outPools[sizeClass(cap(data))].Put(m)
}

// newPartial returns a partial message of n bytes with no chunk yet.
func newPartial(n int) *partialMessage {
	c := sizeClass(n)
	m, _ := partialPools[c].Get().(*partialMessage)
	if m == nil {
		m = &partialMessage{data: make([]byte, classSize(c))}
	}
	m.data = m.data[:n]
	m.missing = (n + wire.ChunkSize - 1) / wire.ChunkSize
	return m
}

// freePartial recycles m once its message is delivered or dropped. Handlers
// get a message only for the length of the Receive call, so none holds it.
func freePartial(m *partialMessage) {
	data := m.data[:0]
	*m = partialMessage{data: data}
	partialPools[sizeClass(cap(data))].Put(m)
}

// ring is a FIFO queue in a circular buffer: once it has grown to its
// working size, pushing and popping do not allocate (reslicing a slice from
// the front, as a queue, would: its capacity runs out at the back). Past
// ringKeep it shrinks when mostly empty, so a big burst's memory is not kept.
// ringKeep is the size up to which a ring never shrinks: bursts of that
// many messages come and go without allocating (32 KiB of pointers).
const ringKeep = 4096

type ring[T any] struct {
	buf  []T // length 0 or a power of two
	head int
	n    int
}

func (r *ring[T]) len() int { return r.n }

// at is the i-th element from the front. An index past the end panics, as
// a slice's would: masking it into the buffer would return another element.
func (r *ring[T]) at(i int) T {
	if uint(i) >= uint(r.n) {
		panic("transport: ring index out of range")
	}
	return r.buf[(r.head+i)&(len(r.buf)-1)]
}

// set replaces the i-th element from the front.
func (r *ring[T]) set(i int, v T) {
	if uint(i) >= uint(r.n) {
		panic("transport: ring index out of range")
	}
	r.buf[(r.head+i)&(len(r.buf)-1)] = v
}

func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		r.resize(max(16, 2*len(r.buf)))
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

// pop removes and returns the front element; the ring must not be empty.
func (r *ring[T]) pop() T {
	v := r.buf[r.head]
	var zero T
	r.buf[r.head] = zero
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	if len(r.buf) > ringKeep && r.n < len(r.buf)/8 {
		r.resize(len(r.buf) / 2)
	}
	return v
}

func (r *ring[T]) resize(size int) {
	buf := make([]T, size)
	for i := range r.n {
		buf[i] = r.buf[(r.head+i)&(len(r.buf)-1)]
	}
	r.buf, r.head = buf, 0
}

// reset empties the ring, keeping its buffer.
func (r *ring[T]) reset() {
	clear(r.buf)
	r.head, r.n = 0, 0
}
