package transport

import (
	"math"
	"time"
)

// congestionControl is what a peer asks of its congestion controller
// (RFC 9002 section 7): whether a packet may go, and what became of those
// that went. Sizes are bytes of ack-eliciting packets. The peer holds one,
// made by newController: a second controller implements this interface,
// newController returns it, and the peer does not change.
type congestionControl interface {
	// canSend reports whether a full packet more may go out, with extra
	// bytes allowed beyond the window.
	canSend(extra int) bool
	// onSent counts a packet of size bytes as in flight.
	onSent(size int)
	// onAcked takes an acknowledged packet sent at sentAt out of flight;
	// srtt is the smoothed round-trip time.
	onAcked(size int, sentAt, now time.Time, srtt time.Duration)
	// onLost takes a lost packet sent at sentAt out of flight.
	onLost(size int, sentAt, now time.Time)
	// reset starts afresh, for a new session, with packets of the base
	// size.
	reset()
	// setMaxPacket tells the controller the largest packet the path now
	// carries (path MTU discovery): windows count such packets.
	setMaxPacket(size int)
	// cwnd and bytesInFlight are the window and the flight, in bytes, for
	// PeerStats.
	cwnd() int
	bytesInFlight() int
}

// newController makes a peer's congestion controller: the one place that
// names the algorithm.
func newController() congestionControl { return newCubic() }

var _ congestionControl = (*cubic)(nil)

// Congestion control is CUBIC (RFC 9438) in RFC 9002's framework, counting
// bytes of ack-eliciting packets in flight: slow start, then the cubic
// window growth with its Reno-friendly floor; on loss, once per round trip
// (for losses of packets sent after the last reduction), the window is
// multiplied by 0.7. The window does not grow while the sender does not use
// it (RFC 9002 section 7.8).
//
// On a short path (a LAN, loopback) the cubic curve is flat for seconds and
// the Reno-friendly estimate is what grows the window: CUBIC there is
// additive increase of 0.53 packets a round trip, multiplicative decrease
// to 0.7, which takes the same share of a lossy path as Reno does.
//
// Windows count packets of the largest size the path carries (mss), which
// starts at the base (basePacket) and grows with path MTU discovery; the
// initial window stays what it was at the base size.
const (
	initialWindow = 10 * basePacket
	minimumWindow = 2 * basePacket
	basePacket    = 1200

	cubicBeta = 0.7 // RFC 9438 section 4.6
	cubicC    = 0.4 // RFC 9438 section 5: segments / second³
	// cubicAlpha is the Reno-friendly additive increase, in packets a round
	// trip, that matches Reno's share at cubicBeta (RFC 9438 section 4.3).
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
	// maxBurst is how far below the window the flight may be while the
	// window still counts as used (RFC 9002 section 7.8; quic-go's 3), in
	// packets.
	maxBurst = 3
)

type cubic struct {
	mss           int // bytes: the largest packet the path carries
	window        int
	ssthresh      int
	inFlight      int
	recoveryStart time.Time // packets sent before it do not shrink the window again

	// The congestion avoidance epoch (RFC 9438 section 4): it starts at the
	// first ACK after a reduction, and the cubic curve is measured from it.
	epochStart time.Time
	k          float64 // seconds from epochStart until the curve is back at wMax
	wMax       float64 // bytes: the window just before the last reduction
	wEst       float64 // bytes: the Reno-friendly estimate
	cwndPrior  float64 // bytes: the window at the last reduction
}

func newCubic() *cubic {
	c := new(cubic)
	c.reset()
	return c
}

func (c *cubic) reset() {
	*c = cubic{mss: basePacket, window: initialWindow, ssthresh: math.MaxInt}
}

// setMaxPacket makes size the packet the window counts, and raises the
// window to the minimum of two such packets (RFC 9002 section 7.2), so
// that a full packet can always go.
func (c *cubic) setMaxPacket(size int) {
	c.mss = size
	c.window = max(c.window, c.minWindow())
}

func (c *cubic) minWindow() int { return max(minimumWindow, 2*c.mss) }

func (c *cubic) cwnd() int          { return c.window }
func (c *cubic) bytesInFlight() int { return c.inFlight }

// canSend reports whether a full packet more may go out, with extra bytes
// allowed beyond the window.
func (c *cubic) canSend(extra int) bool { return c.inFlight+c.mss <= c.window+extra }

func (c *cubic) onSent(size int) { c.inFlight += size }

// limited reports whether the window was in use when priorInFlight bytes
// were in flight; if not, it must not grow (RFC 9002 section 7.8).
func (c *cubic) limited(priorInFlight int) bool {
	if c.window < c.ssthresh && priorInFlight > c.window/2 {
		return true // slow start may double what it uses
	}
	return priorInFlight+maxBurst*c.mss >= c.window
}

// onAcked takes an acknowledged packet sent at sentAt out of flight and
// grows the window; srtt is the smoothed round-trip time.
func (c *cubic) onAcked(size int, sentAt, now time.Time, srtt time.Duration) {
	prior := c.inFlight
	c.inFlight -= size
	if !sentAt.After(c.recoveryStart) {
		return // acknowledged from before the last reduction
	}
	if !c.limited(prior) {
		// The application, not the window, held the flight back: the
		// curve restarts from the window as it is when it is used again.
		c.epochStart = time.Time{}
		return
	}
	if c.window < c.ssthresh {
		c.window += size
		return
	}
	w := float64(c.window)
	if c.epochStart.IsZero() {
		c.epochStart = now
		c.wEst = w
		if c.wMax > w {
			c.k = math.Cbrt((c.wMax - w) / float64(c.mss) / cubicC)
		} else {
			c.k, c.wMax = 0, w
		}
	}
	alpha := cubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1 // RFC 9438 section 4.3: past the old window, grow as Reno
	}
	c.wEst += alpha * float64(c.mss) * float64(size) / w
	t := now.Sub(c.epochStart).Seconds()
	if c.wCubic(t) < c.wEst {
		c.window = max(c.window, int(c.wEst)) // the Reno-friendly region
		return
	}
	// The concave or convex region: towards the curve's value one round
	// trip ahead, at most half the window more (RFC 9438 section 4.4).
	target := min(max(c.wCubic(t+srtt.Seconds()), w), 1.5*w)
	c.window += int((target - w) * float64(size) / w)
}

// wCubic is the cubic curve, in bytes, t seconds into the epoch.
func (c *cubic) wCubic(t float64) float64 {
	d := t - c.k
	return c.wMax + cubicC*d*d*d*float64(c.mss)
}

// onLost takes a lost packet out of flight and, once per round trip,
// reduces the window.
func (c *cubic) onLost(size int, sentAt, now time.Time) {
	c.inFlight -= size
	if !sentAt.After(c.recoveryStart) {
		return
	}
	c.recoveryStart = now
	w := float64(c.window)
	// Fast convergence (RFC 9438 section 4.7): a window that did not get
	// back to the last maximum leaves room for newer flows.
	if w < c.wMax {
		c.wMax = w * (1 + cubicBeta) / 2
	} else {
		c.wMax = w
	}
	c.cwndPrior = w
	c.epochStart = time.Time{}
	c.ssthresh = max(int(w*cubicBeta), c.minWindow())
	c.window = c.ssthresh
}
