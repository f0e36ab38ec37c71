// Package ratelimit is a token bucket per source address, in a table of
// bounded size that cleans itself, so that one address sending handshakes as
// fast as it can gets its share and no more, and a flood from many addresses
// cannot grow memory without bound.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// Limiter allows each source up to Burst events at once and Rate per second
// after that. Sources are IPv4 addresses, and IPv6 /64 prefixes (what one
// host usually has to itself). Time is passed in, so tests need no clock.
//
// A source whose bucket has filled up again is forgotten: it is no different
// from one never seen. When the table is full and nothing can be forgotten,
// Allow refuses new sources (fail closed: the caller falls back to its
// stricter path, e.g. cookies).
type Limiter struct {
	cost      int64 // nanoseconds of credit one event costs: 1e9 / rate
	capacity  int64 // most credit a bucket holds: cost × burst
	maxSource int
	// key is the source an address counts under: Source, or for
	// NewPerAddress the address itself.
	key func(netip.Addr) netip.Prefix

	mu        sync.Mutex // guards the fields below
	table     map[netip.Prefix]*bucket
	lastSweep time.Time
}

type bucket struct {
	credit int64 // nanoseconds
	last   time.Time
}

// New returns a limiter allowing rate events a second after a burst of burst,
// per source, remembering at most maxSources sources. It panics on a
// non-positive argument.
func New(rate float64, burst, maxSources int) *Limiter {
	if !(rate > 0) || burst <= 0 || maxSources <= 0 {
		panic("ratelimit.New: rate, burst and maxSources must be positive")
	}
	cost := int64(float64(time.Second) / rate)
	return &Limiter{
		cost:      cost,
		capacity:  cost * int64(burst),
		maxSource: maxSources,
		key:       Source,
		table:     make(map[netip.Prefix]*bucket),
	}
}

// NewPerAddress is New for sources that are single addresses, IPv6 ones
// too. On a LAN that is what one host is: every host on a link has an
// address in the same fe80::/64, so limiting by /64 there would make the
// whole link one source.
func NewPerAddress(rate float64, burst, maxSources int) *Limiter {
	l := New(rate, burst, maxSources)
	l.key = func(a netip.Addr) netip.Prefix {
		a = a.Unmap().WithZone("")
		return netip.PrefixFrom(a, a.BitLen())
	}
	return l
}

// Source is the key an address is limited under.
func Source(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// Allow reports whether one more event from addr may go ahead at now, and if
// so charges it.
func (l *Limiter) Allow(addr netip.Addr, now time.Time) bool {
	key := l.key(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.table[key]
	if b == nil {
		if len(l.table) >= l.maxSource {
			l.sweepLocked(now)
			if len(l.table) >= l.maxSource {
				return false
			}
		}
		l.table[key] = &bucket{credit: l.capacity - l.cost, last: now}
		return true
	}
	if d := now.Sub(b.last); d > 0 {
		b.credit = min(b.credit+int64(d), l.capacity)
		b.last = now
	}
	if b.credit < l.cost {
		return false
	}
	b.credit -= l.cost
	return true
}

// Sweep forgets the sources whose buckets are full again. Callers run it
// now and then (Allow also runs it when the table is full); it does the work
// at most once per bucket refill time.
func (l *Limiter) Sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
}

func (l *Limiter) sweepLocked(now time.Time) {
	refill := time.Duration(l.capacity)
	if !l.lastSweep.IsZero() && now.Sub(l.lastSweep) < refill/4 {
		return // a flood of new sources must not make every Allow a full scan
	}
	l.lastSweep = now
	for k, b := range l.table {
		if b.credit+int64(now.Sub(b.last)) >= l.capacity {
			delete(l.table, k)
		}
	}
}

// Len is how many sources the table holds now.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.table)
}
