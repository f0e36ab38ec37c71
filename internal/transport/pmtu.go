package transport

import "time"

// Path MTU discovery, per peer, in the manner of RFC 8899 (DPLPMTUD):
// packets start at the base size every path carries (Config.MaxPacket) and
// grow to what this path carries, as found by probes — a PING padded to the
// size tried, which the peer acknowledges if it arrived. The search is a
// binary one between the largest size confirmed and the smallest that
// failed, up to Config.MaxPathPacket, as quic-go's is. A probe carries no
// data and stays out of the congestion controller: losing one says the
// size is too big, not that the path is congested, so it neither shrinks
// the window nor sends anything again. The socket sets Don't Fragment
// (internal/udp), so a probe that arrives arrived whole.
//
// A path can shrink under a session (a route changes, a tunnel appears):
// packets of the grown size then vanish while small ones still arrive, a
// black hole (RFC 8899 section 4.3). After blackHoleLosses such packets
// lost in a row, with none of that size acknowledged between, packets go
// back to the base size and the search starts again after
// searchAfterBlackHole.
//
// An older peer, which takes no datagram over the base size, simply never
// acknowledges a probe: the search ends at the base size, with no rule of
// the wire broken (docs/PROTOCOL.md, section 5).
type pathMTU struct {
	base, ceiling int // packet sizes: always carried; the most tried
	current       int // the largest size confirmed: packets are built up to it

	// The search: lo is confirmed, hi is the smallest size known to fail
	// (ceiling+1 at first); done once they are within searchPrecision.
	lo, hi int
	// probing is the size of the probe in flight, 0 if none.
	probing int
	// searchAt is when the next probe may go: now while searching, later
	// once the search is done or after a black hole.
	searchAt time.Time
	// bigLost counts packets over the base size declared lost since one
	// over the base size was acknowledged.
	bigLost int

	probesLost uint64
	blackHoles uint64
}

const (
	// searchPrecision: a search ends once the largest size confirmed is
	// within this many bytes of the smallest that failed (quic-go's 20).
	searchPrecision = 20
	// researchAfter is how long a finished search stands before the path
	// is tried again for more (RFC 8899's PMTU_RAISE_TIMER, 600 s).
	researchAfter = 10 * time.Minute
	// blackHoleLosses is how many packets over the base size lost in a row
	// make a black hole. A path that loses 30 % of what it carries loses
	// six in a row about once in 1,400 packets, and only costs a search
	// then; a real black hole is found after about three probe timeouts.
	blackHoleLosses = 6
	// searchAfterBlackHole is how long packets stay at the base size after
	// a black hole before the search starts again.
	searchAfterBlackHole = 30 * time.Second
)

// reset starts a session's discovery: packets of the base size, a search
// from now.
func (d *pathMTU) reset(base, ceiling int, now time.Time) {
	*d = pathMTU{base: base, ceiling: ceiling, probesLost: d.probesLost, blackHoles: d.blackHoles}
	d.restart(now)
}

// restart goes back to the base size and searches from at.
func (d *pathMTU) restart(at time.Time) {
	d.current, d.lo, d.hi = d.base, d.base, d.ceiling+1
	d.probing, d.bigLost = 0, 0
	d.searchAt = at
}

// searching reports whether there is a size left to try.
func (d *pathMTU) searching() bool { return d.hi-d.lo > searchPrecision }

// probeDue reports whether a probe should go now.
func (d *pathMTU) probeDue(now time.Time) bool {
	return d.probing == 0 && d.ceiling > d.base && !now.Before(d.searchAt)
}

// probeDeadline is when a probe is next due, or zero if one is in flight
// or discovery is off.
func (d *pathMTU) probeDeadline() time.Time {
	if d.probing != 0 || d.ceiling <= d.base {
		return time.Time{}
	}
	return d.searchAt
}

// nextProbe is the size of the probe to send now, which it records as in
// flight. A finished search that is due starts again from the size
// confirmed.
func (d *pathMTU) nextProbe() int {
	if !d.searching() {
		d.lo, d.hi = d.current, d.ceiling+1
	}
	d.probing = (d.lo + d.hi) / 2
	return d.probing
}

// onProbeAcked: the path carries size; packets grow to it at once.
func (d *pathMTU) onProbeAcked(size int, now time.Time) {
	if size == d.probing {
		d.probing = 0
	}
	if size <= d.lo {
		return // a probe from before a restart
	}
	d.lo, d.current, d.bigLost = size, size, 0
	d.finish(now)
}

// onProbeLost: the path (or this time, the luck) does not carry size.
func (d *pathMTU) onProbeLost(size int, now time.Time) {
	if size == d.probing {
		d.probing = 0
	}
	d.probesLost++
	if size > d.lo && size < d.hi {
		d.hi = size
	}
	d.finish(now)
}

// finish schedules the next search once this one is done.
func (d *pathMTU) finish(now time.Time) {
	if d.searching() {
		d.searchAt = now
	} else {
		d.searchAt = now.Add(researchAfter)
	}
}

// onAcked notes an acknowledged data packet of size bytes.
func (d *pathMTU) onAcked(size int) {
	if size > d.base {
		d.bigLost = 0
	}
}

// onLost notes a data packet of size bytes declared lost, and reports
// whether that made a black hole: packets are back at the base size.
func (d *pathMTU) onLost(size int, now time.Time) bool {
	if size <= d.base || d.current == d.base {
		return false
	}
	d.bigLost++
	if d.bigLost < blackHoleLosses {
		return false
	}
	d.blackHoles++
	d.restart(now.Add(searchAfterBlackHole))
	return true
}
