package transport

import "time"

// Timing constants, from RFC 9002 unless noted.
const (
	initialRTT = 333 * time.Millisecond
	// granularity is the timer granularity the loss timers allow for.
	granularity = time.Millisecond
	// maxAckDelay is how long a receiver may hold an acknowledgement of an
	// ack-eliciting packet. Both sides assume it (a protocol constant): the
	// probe timeout allows for it.
	maxAckDelay = 5 * time.Millisecond
	// ackDelay is how long we do hold one: well under maxAckDelay, so that
	// timer slop never lets the peer's probe timeout fire first.
	ackDelay = time.Millisecond
	// maxPTO caps the exponential backoff of probes, so that a peer coming
	// back after a long absence is noticed within seconds (udpchat's choice).
	maxPTO = 5 * time.Second
)

// rttStats estimates a path's round-trip time as RFC 9002 section 5 does.
type rttStats struct {
	latest   time.Duration
	min      time.Duration
	smoothed time.Duration
	variance time.Duration
	sampled  bool

	// The path's round trip as people mean it: each sample less the time
	// the peer says it held its ACK. RFC 9002 never lets a peer's report
	// take the estimate below the least seen (min above, unadjusted), so
	// in a chat, where every lone packet's ACK is held a millisecond, min
	// and smoothed include the hold: on a LAN, several times the path.
	// These are for people (the UIs); loss recovery uses the ones above.
	pathMin, pathSmoothed time.Duration
}

// update takes a new sample: latest is the time from sending the largest
// newly acknowledged packet to receiving its ACK, ackDelay what the peer
// says it held the ACK for.
func (r *rttStats) update(latest, ackDelay time.Duration) {
	r.latest = latest
	ackDelay = min(ackDelay, maxAckDelay)
	if ackDelay < latest { // else the sample says nothing of the path
		r.updatePath(latest - ackDelay)
	}
	if !r.sampled {
		r.sampled = true
		r.min = latest
		r.smoothed = latest
		r.variance = latest / 2
		return
	}
	r.min = min(r.min, latest)
	adjusted := latest
	if latest >= r.min+ackDelay {
		adjusted = latest - ackDelay
	}
	diff := r.smoothed - adjusted
	if diff < 0 {
		diff = -diff
	}
	r.variance = (3*r.variance + diff) / 4
	r.smoothed = (7*r.smoothed + adjusted) / 8
}

func (r *rttStats) updatePath(path time.Duration) {
	if r.pathMin == 0 {
		r.pathMin, r.pathSmoothed = path, path
		return
	}
	r.pathMin = min(r.pathMin, path)
	r.pathSmoothed = (7*r.pathSmoothed + path) / 8
}

// srtt is the smoothed RTT, or the initial guess before any sample.
func (r *rttStats) srtt() time.Duration {
	if !r.sampled {
		return initialRTT
	}
	return r.smoothed
}

// pto is the probe timeout before backoff (RFC 9002 section 6.2.1).
func (r *rttStats) pto() time.Duration {
	if !r.sampled {
		return initialRTT + max(4*initialRTT/2, granularity) + maxAckDelay
	}
	return r.smoothed + max(4*r.variance, granularity) + maxAckDelay
}

// lossDelay is how long after a later packet was acknowledged an earlier
// one is declared lost (RFC 9002 section 6.1.2: 9/8 of the RTT).
func (r *rttStats) lossDelay() time.Duration {
	return max(9*max(r.srtt(), r.latest)/8, granularity)
}

// tailProbe is how long after the last packet sent a tail loss probe goes
// (RFC 8985 section 7.2: two round trips, and the time a receiver holds a
// lone ACK), with a granularity to spare.
func (r *rttStats) tailProbe() time.Duration {
	return 2*r.srtt() + ackDelay + granularity
}
