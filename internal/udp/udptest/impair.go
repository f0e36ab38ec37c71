package udptest

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/udpchat/udpchat/internal/udp"
)

// defaultReorderDelay is how long a reordered datagram is held when
// Impairment.ReorderDelay is 0: long enough that the datagrams written right
// after it overtake it, short enough not to look like loss.
const defaultReorderDelay = time.Millisecond

// Impairment says how an Impaired conn mistreats the datagrams written
// through it: the faults UDP allows (loss, duplication, reordering, delay)
// and a path MTU, so tests can show the layers above survive them. The zero
// value passes everything through untouched.
//
// Whether a datagram is dropped, duplicated or reordered, and its jitter,
// depend only on Seed and how many datagrams were written before it (each
// write draws the same number of random values, whatever the settings), so a
// failing run replays with the same Seed (under synctest, exactly), and
// turning one knob (say, adding Duplicate) keeps the pattern of the others.
type Impairment struct {
	Loss         float64       // probability a datagram is dropped
	Duplicate    float64       // probability a datagram is sent twice (each copy delayed independently)
	Reorder      float64       // probability a datagram (copy) is held back by ReorderDelay, so later ones overtake it
	ReorderDelay time.Duration // how long a reordered datagram is held; 0 means 1ms
	Delay        time.Duration // added to every datagram
	Jitter       time.Duration // uniform random extra delay in [0, Jitter), per datagram copy
	MTU          int           // datagrams longer than this many bytes are dropped; 0 means no limit
	Seed         uint64        // seeds the PCG generator; 0 is a seed like any other

	// Observe, if set, is called with every datagram written, before any
	// impairment (so dropped ones too), on the writing goroutine: tests use
	// it to record traffic. It may be called concurrently, must not block
	// for long, and must not retain or modify b (copy it).
	Observe func(b []byte, to netip.AddrPort)
}

// ImpairStats counts what an Impaired conn did, by datagram copy. Once Close
// has returned, Sent + Dropped = datagrams written + Duplicated.
type ImpairStats struct {
	Sent       uint64 // handed to the inner conn without error (duplicates included)
	Dropped    uint64 // lost to Loss or MTU, held when Close came, or refused by the inner conn
	Duplicated uint64 // datagrams sent twice
	Reordered  uint64 // copies held back by ReorderDelay
	Delayed    uint64 // copies held for any time (Delay, Jitter or Reorder) rather than sent at once
}

// Impaired is a udp.Conn that impairs what is written through it (egress) and
// passes reads through untouched; wrap both ends of a pair to impair both
// directions.
//
// Held datagrams wait in a queue ordered by due time, then by write order,
// behind a single time.AfterFunc timer (so under testing/synctest they follow
// the bubble's virtual clock), and one goroutine at a time sends them. Equal
// delays therefore keep the write order, and a seed replays exactly: only
// Reorder and Jitter reorder. (A timer per datagram would not do: timers
// that fire together run their functions in no particular order.)
type Impaired struct {
	inner        udp.Conn
	cfg          Impairment
	reorderDelay time.Duration

	mu       sync.Mutex // guards the fields below
	rng      *rand.Rand
	held     heldQueue
	seq      uint64         // counts held datagrams, to break ties in due time
	timer    *time.Timer    // runs release; made on first use, in the caller's bubble
	draining bool           // release is sending; it re-arms the timer when done
	batch    []heldDatagram // release's scratch space, kept to save allocations
	closed   bool

	// inflight counts release calls scheduled or running. Close waits for
	// it, so no goroutine of this conn outlives Close and none writes to the
	// inner conn after Close.
	inflight sync.WaitGroup

	sent, dropped, duplicated, reordered, delayed atomic.Uint64
}

var _ udp.Conn = (*Impaired)(nil)

// drawsPerWrite is how many random values every WriteTo draws: loss,
// duplicate, then reorder and jitter for each of the two possible copies.
const drawsPerWrite = 6

// Impair wraps c. The Impaired conn owns c: closing it closes c.
//
// Impair panics if cfg is out of range (a probability outside [0, 1], a
// negative duration or MTU): that is a typo in a test (Loss: 30 for 30%),
// better caught at once than run as something else.
func Impair(c udp.Conn, cfg Impairment) *Impaired {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", cfg.Loss}, {"Duplicate", cfg.Duplicate}, {"Reorder", cfg.Reorder}} {
		if !(p.v >= 0 && p.v <= 1) { // also catches NaN
			panic(fmt.Sprintf("udptest.Impair: %s %v is not a probability in [0, 1]", p.name, p.v))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ReorderDelay", cfg.ReorderDelay}, {"Delay", cfg.Delay}, {"Jitter", cfg.Jitter}} {
		if d.v < 0 {
			panic(fmt.Sprintf("udptest.Impair: %s %v is negative", d.name, d.v))
		}
	}
	if cfg.MTU < 0 {
		panic(fmt.Sprintf("udptest.Impair: MTU %d is negative", cfg.MTU))
	}
	rd := cfg.ReorderDelay
	if rd == 0 {
		rd = defaultReorderDelay
	}
	return &Impaired{
		inner:        c,
		cfg:          cfg,
		reorderDelay: rd,
		// The second PCG word is fixed so that Seed alone names a run.
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x75647063686174)), // "udpchat"
	}
}

// ReadFrom reads from the inner conn, unimpaired.
func (c *Impaired) ReadFrom(b []byte) (int, netip.AddrPort, error) { return c.inner.ReadFrom(b) }

// LocalAddr is the inner conn's.
func (c *Impaired) LocalAddr() netip.AddrPort { return c.inner.LocalAddr() }

// WriteTo sends b to addr through the impairment. A datagram dropped or held
// counts as written (len(b), nil), as UDP reports a datagram lost on the
// way; a datagram sent at once returns the inner conn's result. b may be
// reused as soon as WriteTo returns (held datagrams are copies). After Close
// it returns an error wrapping net.ErrClosed.
func (c *Impaired) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	var u [drawsPerWrite]float64
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, fmt.Errorf("impaired: write to %s: %w", addr, net.ErrClosed)
	}
	for i := range u {
		u[i] = c.rng.Float64()
	}
	c.mu.Unlock()

	if c.cfg.Observe != nil {
		c.cfg.Observe(b, addr)
	}
	if c.cfg.MTU > 0 && len(b) > c.cfg.MTU {
		c.dropped.Add(1)
		return len(b), nil
	}
	if u[0] < c.cfg.Loss {
		c.dropped.Add(1)
		return len(b), nil
	}
	copies := 1
	if u[1] < c.cfg.Duplicate {
		copies = 2
		c.duplicated.Add(1)
	}
	n, err := len(b), error(nil)
	for i := range copies {
		var d time.Duration
		if u[2+2*i] < c.cfg.Reorder {
			d += c.reorderDelay
			c.reordered.Add(1)
		}
		d += c.cfg.Delay + jitter(u[3+2*i], c.cfg.Jitter)
		if d > 0 {
			c.hold(b, addr, d)
			continue
		}
		m, werr := c.inner.WriteTo(b, addr)
		if werr == nil {
			c.sent.Add(1)
		} else {
			c.dropped.Add(1)
		}
		if i == 0 {
			n, err = m, werr
		}
	}
	return n, err
}

// jitter maps a uniform u in [0, 1) to a duration in [0, span).
func jitter(u float64, span time.Duration) time.Duration {
	if span <= 0 {
		return 0
	}
	// float64 rounding could reach span itself for huge spans.
	return min(time.Duration(math.Floor(u*float64(span))), span-1)
}

// hold queues a copy of b, to be sent after d.
func (c *Impaired) hold(b []byte, addr netip.AddrPort, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed { // Close came between WriteTo's check and here
		c.dropped.Add(1)
		return
	}
	c.delayed.Add(1)
	c.seq++
	due := time.Now().Add(d)
	c.held.push(heldDatagram{b: bytes.Clone(b), to: addr, due: due, seq: c.seq})
	// The timer is set for the earliest held datagram: move it if this one
	// is now the earliest. A running release sets it when it finishes.
	if !c.draining && c.held[0].seq == c.seq {
		c.arm(due)
	}
}

// arm sets the timer to run release at due. c.mu must be held.
func (c *Impaired) arm(due time.Time) {
	d := time.Until(due)
	if c.timer == nil {
		c.inflight.Add(1)
		c.timer = time.AfterFunc(d, c.release)
		return
	}
	if !c.timer.Reset(d) {
		c.inflight.Add(1) // it had fired or been stopped: one more call is scheduled
	}
}

// release, the timer's function, sends every held datagram that is due, in
// order, then sets the timer for the next one.
func (c *Impaired) release() {
	defer c.inflight.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.draining {
		return
	}
	c.draining = true
	for !c.closed {
		now := time.Now()
		batch := c.batch[:0]
		for len(c.held) > 0 && !c.held[0].due.After(now) {
			batch = append(batch, c.held.pop())
		}
		c.batch = batch
		if len(batch) == 0 {
			break
		}
		// Unlocked: the inner conn may be slow, and WriteTo and Close must
		// not wait for it.
		c.mu.Unlock()
		for i := range batch {
			if _, err := c.inner.WriteTo(batch[i].b, batch[i].to); err != nil {
				c.dropped.Add(1) // no caller left to tell
			} else {
				c.sent.Add(1)
			}
			batch[i] = heldDatagram{} // let the copy go
		}
		c.mu.Lock()
	}
	c.draining = false
	if !c.closed && len(c.held) > 0 {
		c.arm(c.held[0].due)
	}
}

// Stats returns the counters so far. Each is read atomically, but not all at
// one instant; after Close they are final.
func (c *Impaired) Stats() ImpairStats {
	return ImpairStats{
		Sent:       c.sent.Load(),
		Dropped:    c.dropped.Load(),
		Duplicated: c.duplicated.Load(),
		Reordered:  c.reordered.Load(),
		Delayed:    c.delayed.Load(),
	}
}

// Close discards the datagrams still held (counted as Dropped), waits for
// any being sent at that moment, then closes the inner conn, which unblocks
// ReadFrom. No goroutine of this conn outlives Close. Closing twice returns
// an error wrapping net.ErrClosed.
func (c *Impaired) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("impaired: close: %w", net.ErrClosed)
	}
	c.closed = true
	if c.timer != nil && c.timer.Stop() {
		c.inflight.Done() // the scheduled release will not run
	} // else a release is running or about to, and will see closed
	c.dropped.Add(uint64(len(c.held)))
	c.held = nil
	c.mu.Unlock()
	c.inflight.Wait()
	return c.inner.Close()
}

// heldDatagram is a copy of a datagram waiting to be sent.
type heldDatagram struct {
	b   []byte
	to  netip.AddrPort
	due time.Time
	seq uint64 // write order among held datagrams
}

func (h *heldDatagram) before(o *heldDatagram) bool {
	if !h.due.Equal(o.due) {
		return h.due.Before(o.due)
	}
	return h.seq < o.seq
}

// heldQueue is a binary min-heap by (due, seq). (container/heap would box
// each element in an interface, one more allocation per held datagram.)
type heldQueue []heldDatagram

func (q *heldQueue) push(h heldDatagram) {
	*q = append(*q, h)
	s := *q
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].before(&s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (q *heldQueue) pop() heldDatagram {
	s := *q
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = heldDatagram{}
	s = s[:last]
	for i := 0; ; {
		m := i
		if l := 2*i + 1; l < len(s) && s[l].before(&s[m]) {
			m = l
		}
		if r := 2*i + 2; r < len(s) && s[r].before(&s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*q = s
	return top
}
