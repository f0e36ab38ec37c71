package transport

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

func (e *Endpoint) drop(reason DropReason, from netip.AddrPort, err error) {
	e.count.drops[reason].Add(1)
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug("drop", "reason", reason.String(), "from", from, "err", err)
	}
}

// handle processes one datagram from the socket. b is only valid during the
// call.
func (e *Endpoint) handle(b []byte, from netip.AddrPort, now time.Time) {
	e.count.datagramsIn.Add(1)
	e.count.bytesIn.Add(uint64(len(b)))
	h, frames, err := wire.ParseHeader(b)
	if err != nil {
		e.drop(DropReason(wire.DropOf(err)), from, err)
		return
	}
	if h.DstEpoch == 0 && len(b) < wire.MinInitialLen {
		// A first contact must be padded: we answer it before knowing the
		// sender, and never with more than it sent.
		e.drop(DropMalformed, from, nil)
		return
	}
	p := e.peer(from, now)
	if p == nil {
		return
	}
	switch {
	case h.SrcEpoch == p.remoteEpoch:
		if p.closed {
			// Only a CLOSE we already took, resent because our ACK was
			// lost, gets an answer: the ACK again.
			if h.DstEpoch == p.localEpoch && hasClose(frames) {
				p.received.add(h.PacketNumber)
				p.ackNow = true
			} else {
				e.drop(DropStale, from, nil)
			}
			return
		}
	case h.SrcEpoch > p.remoteEpoch || p.unreachable:
		// A new incarnation; or, from a peer gone silent, an older-looking
		// one, which is a restart with its clock set back.
		p.startSession(h.SrcEpoch, e.cfg.MaxPacket, e.cfg.MaxPathPacket, now)
		e.h.PeerUp(p.addr)
	default:
		e.drop(DropStale, from, nil)
		return
	}
	p.lastHeard = now
	if p.unreachable {
		p.unreachable = false
		e.h.PeerReachable(p.addr)
	}
	if h.DstEpoch != p.localEpoch {
		// The peer does not know our current epoch yet: answer, so that it
		// does, but act on none of the frames, which were meant for another
		// session (or for none: one we forgot).
		p.pingNeeded = true
		if h.DstEpoch != 0 {
			e.drop(DropOtherEpoch, from, nil)
		}
		return
	}
	e.handleFrames(p, h.PacketNumber, frames, now)
}

// hasClose reports whether a packet's frames include a CLOSE.
func hasClose(frames []byte) bool {
	var f wire.Frame
	for len(frames) > 0 {
		n, err := wire.ParseFrame(frames, &f)
		if err != nil {
			return false
		}
		if f.Type == wire.FrameClose {
			return true
		}
		frames = frames[n:]
	}
	return false
}

// handleFrames acts on the frames of a packet of the current session and
// schedules its acknowledgement. A packet with a malformed frame, or a chunk
// that cannot be taken now, is not acknowledged, so the sender sends its
// chunks again.
func (e *Endpoint) handleFrames(p *peer, pn uint64, frames []byte, now time.Time) {
	eliciting, closing := false, false
	f := &e.frame
	for len(frames) > 0 {
		n, err := wire.ParseFrame(frames, f)
		if err != nil {
			e.drop(DropReason(wire.DropOf(err)), p.addr, err)
			return
		}
		frames = frames[n:]
		switch f.Type {
		case wire.FramePing:
			eliciting = true
		case wire.FrameClose:
			eliciting, closing = true, true
		case wire.FrameAck:
			if !p.onAck(&f.Ack, now) {
				e.drop(DropBogusAck, p.addr, nil)
				return
			}
		case wire.FrameChunk:
			eliciting = true
			if err := p.reasm.add(&f.Chunk, p.deliver); err != nil {
				reason := DropOverWindow
				switch {
				case errors.Is(err, errMismatch):
					reason = DropMalformed
				case errors.As(err, new(notConsumed)):
					reason = DropNotConsumed
				}
				e.drop(reason, p.addr, err)
				return
			}
			if err := p.reasm.stalled(); err != nil && p.retryAt.IsZero() {
				e.log.Debug("message refused by the handler: kept, to offer again", "peer", p.addr, "err", err)
				p.refused(now)
			}
			p.stats.BytesIn += uint64(len(f.Chunk.Data))
		}
	}
	duplicate := p.received.add(pn)
	if !eliciting {
		return
	}
	p.ackPending++
	largest, _ := p.received.largest()
	if pn == largest {
		p.largestRecvAt = now
	}
	switch {
	case duplicate || pn != largest || p.received.recentGap() || p.ackPending >= 2 || closing:
		p.ackNow = true
	case p.ackDeadline.IsZero():
		p.ackDeadline = now.Add(ackDelay)
	}
	if closing {
		e.sync(now)
		e.flush(p, now) // the ACK goes now: we will not answer this session again
		p.closed = true
		e.h.PeerClosed(p.addr)
	}
}
