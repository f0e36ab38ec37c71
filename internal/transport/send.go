package transport

import (
	"context"
	"log/slog"
	"time"

	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// flush sends what peer p is due: a contact PING before we know it, then
// packets packing an ACK, a CLOSE, lost chunks and new chunks, as long as
// the congestion window, the peer's receive window and the queue allow.
func (e *Endpoint) flush(p *peer, now time.Time) {
	if p.remoteEpoch == 0 {
		if p.wantContact && !p.closeWanted && !now.Before(p.contactDue) {
			e.sendContact(p, now)
		}
		return
	}
	if !p.closed && !p.closeWanted && p.pmtu.probeDue(now) && p.canSend() {
		e.sendProbe(p, now)
	}
	for {
		b := wire.AppendHeader(e.packetBuf(p.pmtu.current), wire.Header{
			SrcEpoch: p.localEpoch, DstEpoch: p.remoteEpoch, PacketNumber: p.nextPN,
		})
		withAck := false
		// A CLOSE always carries an ACK: it may be the last packet the peer
		// gets from us, and the peer must learn from it what we consumed.
		if p.ackNow || p.ackPending > 0 || p.closePending {
			var a wire.AckFrame
			p.received.fill(&a)
			if a.NumRanges > 0 {
				a.Delivered = p.synced
				a.DelayMicros = uint64(max(now.Sub(p.largestRecvAt), 0) / time.Microsecond)
				b = a.Append(b)
				withAck = true
			}
		}
		sp := p.newSentPacket()
		eliciting, full := false, false
		if !p.closed && (p.probes > 0 || p.canSend()) {
			b, eliciting, full = e.appendEliciting(p, b, sp)
		}
		// An ACK alone goes when it is due, or when it left no room for a
		// chunk that is waiting.
		if !eliciting && !(withAck && (p.ackNow || full)) {
			p.recycle(sp)
			return
		}
		e.write(p, b)
		if withAck {
			p.ackNow = false
			p.ackPending = 0
			p.ackDeadline = time.Time{}
		}
		if !eliciting {
			p.recycle(sp)
			continue
		}
		sp.pn, sp.sentAt, sp.size = p.nextPN-1, now, len(b)
		p.sent = append(p.sent, sp)
		p.cc.onSent(len(b))
		p.lastElicit = now
		p.pingNeeded = false
		if p.probes > 0 {
			p.probes--
		}
	}
}

// appendEliciting adds the ack-eliciting frames that fit: CLOSE, lost
// chunks, new chunks, else a PING if one is needed. It records in sp what
// will need acknowledging, and reports whether it added anything and
// whether a waiting chunk did not fit.
func (e *Endpoint) appendEliciting(p *peer, b []byte, sp *sentPacket) (_ []byte, eliciting, full bool) {
	if p.closePending {
		b = append(b, wire.FrameClose)
		sp.hasClose = true
		p.closePending = false
	}
	for p.lost.len() > 0 {
		c := p.lost.at(0)
		m := p.msg(c.seq)
		if m == nil || m.acked.has(c.index) {
			p.lost.pop()
			continue
		}
		f := m.chunk(c.index)
		if len(b)+f.Len() > p.maxPacket() {
			return b, len(sp.chunks) > 0 || sp.hasClose, true
		}
		b = f.Append(b)
		sp.chunks = append(sp.chunks, c)
		p.lost.pop()
		p.stats.Retransmits++
	}
	for p.sendIdx < p.queue.len() {
		m := p.queue.at(p.sendIdx)
		if m.nextChunk == 0 {
			if m.seq-p.delivered >= recvWindowMessages || p.startedBytes+windowCost(len(m.data)) > recvWindowBytes {
				break // the peer could not hold it yet
			}
		}
		f := m.chunk(m.nextChunk)
		if len(b)+f.Len() > p.maxPacket() {
			return b, len(sp.chunks) > 0 || sp.hasClose, true
		}
		if m.nextChunk == 0 {
			p.startedBytes += windowCost(len(m.data))
		}
		b = f.Append(b)
		sp.chunks = append(sp.chunks, chunkRef{seq: m.seq, index: m.nextChunk})
		p.stats.BytesOut += uint64(len(f.Data))
		m.nextChunk++
		if m.nextChunk == m.chunks {
			p.sendIdx++
		}
	}
	if len(sp.chunks) > 0 || sp.hasClose {
		return b, true, false
	}
	if p.pingNeeded || p.probes > 0 {
		return appendPaddedPing(b), true, false
	}
	return b, false, false
}

// appendPaddedPing adds a PING and pads the packet to wire.MinInitialLen, so
// that a peer answering it never sends more than it received.
func appendPaddedPing(b []byte) []byte { return appendPingPaddedTo(b, wire.MinInitialLen) }

// appendPingPaddedTo adds a PING and pads the packet to size bytes.
func appendPingPaddedTo(b []byte, size int) []byte {
	b = append(b, wire.FramePing)
	return append(b, make([]byte, max(size-len(b), 0))...) // FramePadding is 0
}

// sendProbe sends a path MTU probe (see pathMTU): a PING padded to the
// size tried, remembered as a probe so that its loss is the search's, not
// the congestion controller's.
func (e *Endpoint) sendProbe(p *peer, now time.Time) {
	size := p.pmtu.nextProbe()
	b := wire.AppendHeader(e.packetBuf(size), wire.Header{
		SrcEpoch: p.localEpoch, DstEpoch: p.remoteEpoch, PacketNumber: p.nextPN,
	})
	b = appendPingPaddedTo(b, size)
	e.write(p, b)
	sp := p.newSentPacket()
	sp.pn, sp.sentAt, sp.size, sp.probe = p.nextPN-1, now, len(b), true
	p.sent = append(p.sent, sp)
	p.lastElicit = now
}

// sendContact sends a PING with no destination epoch, to learn the peer's,
// and schedules the next with exponential backoff.
func (e *Endpoint) sendContact(p *peer, now time.Time) {
	b := wire.AppendHeader(e.packetBuf(wire.MinInitialLen), wire.Header{SrcEpoch: p.localEpoch, PacketNumber: p.nextPN})
	e.write(p, appendPaddedPing(b))
	p.contactDue = now.Add(p.contactDelay)
	p.contactDelay = min(2*p.contactDelay, maxPTO)
}

// packetBuf is the empty buffer, with room for size bytes, the next
// packet is built in: with a batching conn, at the end of the batch
// writeOut sends, which it sends first if the packet would not fit.
func (e *Endpoint) packetBuf(size int) []byte {
	if e.bc == nil {
		if cap(e.sendBuf) < size {
			e.sendBuf = make([]byte, 0, size)
		}
		return e.sendBuf[:0]
	}
	if e.txArena == nil {
		e.txArena = make([]byte, 0, txArenaSize(e.cfg))
	}
	used := len(e.txArena)
	if len(e.tx) == txBatchSize || used+size > cap(e.txArena) {
		e.writeOut()
		used = 0
	}
	return e.txArena[used:used:min(used+size, cap(e.txArena))]
}

// txArenaSize is the room for a batch: txBatchSize packets of the base
// size, or fewer larger ones, and always one of the largest.
func txArenaSize(cfg Config) int { return txBatchSize*cfg.MaxPacket + cfg.MaxPathPacket }

// write sends packet b, built in packetBuf, to p: at once, or with a
// batching conn in the next writeOut, which run calls once it has flushed
// every peer.
func (e *Endpoint) write(p *peer, b []byte) {
	p.nextPN++
	p.stats.PacketsSent++
	e.count.datagramsOut.Add(1)
	e.count.bytesOut.Add(uint64(len(b)))
	if e.bc != nil {
		e.tx = append(e.tx, udp.Message{Buf: b, Addr: p.addr})
		// b was built at the arena's end (packetBuf), within the room asked.
		e.txArena = e.txArena[:min(len(e.txArena)+len(b), cap(e.txArena))]
		return
	}
	if _, err := e.conn.WriteTo(b, p.addr); err != nil {
		e.writeFailed(err)
	}
}

// writeOut sends the packets write has batched, in one system call if
// there are several.
func (e *Endpoint) writeOut() {
	var err error
	switch len(e.tx) {
	case 0:
		return
	case 1:
		_, err = e.conn.WriteTo(e.tx[0].Buf, e.tx[0].Addr)
	default:
		_, err = e.bc.WriteBatch(e.tx)
	}
	clear(e.tx)
	e.tx = e.tx[:0]
	e.txArena = e.txArena[:0]
	if err != nil {
		e.writeFailed(err)
	}
}

func (e *Endpoint) writeFailed(err error) {
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug("write", "err", err)
	}
}
