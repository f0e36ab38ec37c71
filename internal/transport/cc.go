package transport

import "time"

// Congestion control is NewReno as RFC 9002 section 7 and appendix B give it,
// counting bytes of ack-eliciting packets in flight.
const (
	initialWindow = 10 * maxPacket
	minimumWindow = 2 * maxPacket
	maxPacket     = 1200
)

type newReno struct {
	window        int
	ssthresh      int
	inFlight      int
	recoveryStart time.Time // packets sent before it do not shrink the window again
}

func newNewReno() newReno {
	return newReno{window: initialWindow, ssthresh: 1 << 62}
}

// canSend reports whether a full packet more may go out.
func (c *newReno) canSend() bool { return c.inFlight+maxPacket <= c.window }

func (c *newReno) onSent(size int) { c.inFlight += size }

func (c *newReno) onAcked(size int, sentAt time.Time) {
	c.inFlight -= size
	if !sentAt.After(c.recoveryStart) {
		return // acknowledged from before the last reduction
	}
	if c.window < c.ssthresh {
		c.window += size
	} else {
		c.window += maxPacket * size / c.window
	}
}

// onLost takes a lost packet out of flight and, once per round trip, halves
// the window.
func (c *newReno) onLost(size int, sentAt, now time.Time) {
	c.inFlight -= size
	if !sentAt.After(c.recoveryStart) {
		return
	}
	c.recoveryStart = now
	c.ssthresh = max(c.window/2, minimumWindow)
	c.window = c.ssthresh
}
