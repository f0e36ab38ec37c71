package transport

import (
	"cmp"
	"slices"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// sentPacket remembers an ack-eliciting packet until it is acknowledged or
// declared lost. Packets are never retransmitted as such: their chunks and
// CLOSE are, in new packets with new numbers.
type sentPacket struct {
	pn       uint64
	sentAt   time.Time
	size     int
	hasClose bool
	chunks   []chunkRef
	// probe marks a path MTU probe: a padded PING whose fate is the
	// search's (pathMTU), kept out of the congestion controller and the
	// loss count.
	probe bool
}

func (p *peer) newSentPacket() *sentPacket {
	if n := len(p.free); n > 0 {
		sp := p.free[n-1]
		p.free = p.free[:n-1]
		return sp
	}
	return &sentPacket{}
}

func (p *peer) recycle(sp *sentPacket) {
	clear(sp.chunks)
	*sp = sentPacket{chunks: sp.chunks[:0]}
	p.free = append(p.free, sp)
}

// ptoDeadline is when the probe timer fires, or zero if nothing is in flight.
func (p *peer) ptoDeadline() time.Time {
	if len(p.sent) == 0 {
		return time.Time{}
	}
	if p.tailProbeDue() {
		return p.lastElicit.Add(p.rtt.tailProbe())
	}
	d := p.rtt.pto() << min(p.ptoCount, 16)
	return p.lastElicit.Add(min(d, maxPTO))
}

// tailProbeDue reports whether the probe timer is a tail loss probe's: the
// first of a flight, once the RTT is known. A lost tail (the last packets
// before a pause, or all of a small window) has no later packets whose
// acknowledgement would reveal it; the probe, new data if there is any or
// else a PING, is acknowledged at once if it arrives, and then the packet
// or time threshold declares the tail lost, after about two round trips
// and the receiver's ACK delay rather than a full probe timeout (which
// allows for the 5 ms max_ack_delay). It sends nothing again, so a probe
// that was not needed costs one packet, not a retransmission.
func (p *peer) tailProbeDue() bool {
	return p.ptoCount == 0 && !p.tailProbed && p.rtt.sampled
}

// onPTO arms probes. A tail loss probe is one packet (see tailProbeDue);
// after it, at a probe timeout, the oldest unacknowledged chunks go out
// again in two packets, or a PING if there are none (RFC 9002 section
// 6.2.4). Those chunks are at most what a packet of the base size holds,
// and the packets are of the base size (peer.maxPacket): the probe's work
// is to draw an ACK, which declares what was lost lost; a large packet's
// worth of chunks sent again on a timer that fired late (a busy machine)
// would be that many spurious retransmissions.
func (p *peer) onPTO() {
	if p.tailProbeDue() {
		p.tailProbed = true
		p.probes = 1
		return
	}
	p.ptoCount++
	p.probes = 2
	if p.lost.len() > 0 {
		return
	}
	for _, sp := range p.sent {
		budget := p.pmtu.base - wire.HeaderLen // what one packet of the base size carries
		for _, c := range sp.chunks {
			if m := p.msg(c.seq); m != nil && !m.acked.has(c.index) {
				f := m.chunk(c.index)
				if budget -= f.Len(); budget < 0 && p.lost.len() > 0 {
					break
				}
				p.lost.push(c)
			}
		}
		if p.lost.len() > 0 || sp.hasClose {
			p.closePending = p.closePending || sp.hasClose
			return
		}
	}
	p.pingNeeded = true
}

// sentUpTo is how many packets at the front of p.sent have numbers up to
// pn (p.sent is in packet number order).
func (p *peer) sentUpTo(pn uint64) int {
	n, _ := slices.BinarySearchFunc(p.sent, pn+1, func(sp *sentPacket, pn uint64) int { return cmp.Compare(sp.pn, pn) })
	return n
}

// compactSent removes from p.sent the packets of its first n that were not
// kept (kept of them were moved to the front).
func (p *peer) compactSent(kept, n int) {
	moved := copy(p.sent[kept:], p.sent[n:])
	clear(p.sent[kept+moved:])
	p.sent = p.sent[:kept+moved]
}

// onAck processes an ACK frame. It reports false if the frame acknowledges a
// packet never sent or messages never sent whole: such a packet is dropped.
// Only the packets up to the largest acknowledged are looked at, alongside
// the ranges, so the cost is in what the ACK covers, not in what is in
// flight.
func (p *peer) onAck(a *wire.AckFrame, now time.Time) bool {
	if a.Largest() >= p.nextPN || a.Delivered > p.delivered+uint64(p.sendIdx) {
		return false
	}
	var newestAcked *sentPacket
	n := p.sentUpTo(a.Largest())
	kept := 0
	r := a.NumRanges - 1 // ranges are largest first: walk them upwards
	for _, sp := range p.sent[:n] {
		for a.Ranges[r].Largest < sp.pn {
			r-- // cannot pass range 0, whose Largest is at least sp.pn
		}
		if sp.pn < a.Ranges[r].Smallest {
			p.sent[kept] = sp
			kept++
			continue
		}
		if sp.probe {
			p.pmtu.onProbeAcked(sp.size, now)
			p.cc.setMaxPacket(p.pmtu.current)
		} else {
			p.cc.onAcked(sp.size, sp.sentAt, now, p.rtt.srtt())
			p.pmtu.onAcked(sp.size)
		}
		for _, c := range sp.chunks {
			if m := p.msg(c.seq); m != nil {
				m.acked.add(c.index)
			}
		}
		if sp.hasClose {
			p.closeAcked = true
			p.closePending = false
		}
		if newestAcked != nil {
			p.recycle(newestAcked)
		}
		newestAcked = sp
	}
	p.compactSent(kept, n)
	if newestAcked != nil {
		if newestAcked.pn == a.Largest() {
			p.rtt.update(now.Sub(newestAcked.sentAt), time.Duration(a.DelayMicros)*time.Microsecond)
		}
		p.recycle(newestAcked)
		p.ptoCount = 0
		p.tailProbed = false
	}
	if !p.anyAcked || a.Largest() > p.largestAcked {
		p.largestAcked = a.Largest()
		p.anyAcked = true
	}
	if a.Delivered > p.delivered {
		p.onDelivered(a.Delivered)
	}
	p.detectLosses(now)
	return true
}

// packetThreshold is how many later packets must be acknowledged before an
// earlier one counts as lost (RFC 9002 section 6.1.1).
const packetThreshold = 3

// detectLosses declares lost the in-flight packets that later
// acknowledgements have overtaken by packetThreshold packets or by the loss
// delay, and sets the loss timer for the rest (RFC 9002 section 6.1).
func (p *peer) detectLosses(now time.Time) {
	p.lossTime = time.Time{}
	if !p.anyAcked {
		return
	}
	delay := p.rtt.lossDelay()
	// Only packets up to the largest acknowledged can be lost; after onAck
	// those left are the gaps, usually none.
	n := p.sentUpTo(p.largestAcked)
	kept := 0
	for _, sp := range p.sent[:n] {
		if now.Sub(sp.sentAt) >= delay || p.largestAcked >= sp.pn+packetThreshold {
			p.onLost(sp, now)
			continue
		}
		p.sent[kept] = sp
		kept++
		if t := sp.sentAt.Add(delay); p.lossTime.IsZero() || t.Before(p.lossTime) {
			p.lossTime = t
		}
	}
	p.compactSent(kept, n)
}

func (p *peer) onLost(sp *sentPacket, now time.Time) {
	if sp.probe {
		p.pmtu.onProbeLost(sp.size, now)
		p.recycle(sp)
		return
	}
	p.stats.PacketsLost++
	p.cc.onLost(sp.size, sp.sentAt, now)
	if p.pmtu.onLost(sp.size, now) {
		p.cc.setMaxPacket(p.pmtu.current)
	}
	for _, c := range sp.chunks {
		if p.needsSending(c) {
			p.lost.push(c)
		}
	}
	if sp.hasClose && !p.closeAcked {
		p.closePending = true
	}
	p.recycle(sp)
}
