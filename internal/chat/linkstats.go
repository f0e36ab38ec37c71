package chat

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/udpchat/udpchat/internal/transport"
)

// PeerStats are the numbers a link keeps about one peer: the ones that show
// the transport at work (/stats in the terminal UI). They are a copy of the
// link's, so that a UI need not know the transport.
type PeerStats struct {
	Addr netip.AddrPort
	// RTT is the smoothed round-trip time of the path, MinRTT the least
	// seen, both without the time the peer held its acknowledgements (up
	// to a millisecond for a lone message); both are zero until a first
	// sample.
	RTT, MinRTT time.Duration
	// PacketsSent counts datagrams sent, PacketsLost those declared lost,
	// Retransmits the chunks sent again.
	PacketsSent, PacketsLost, Retransmits uint64
	// MessagesIn counts messages received, MessagesOut messages delivered.
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
	// Queued counts messages not yet delivered; InFlight and Window are the
	// bytes unacknowledged and the congestion window.
	Queued, InFlight, Window int
	// Sessions counts the incarnations of the peer seen (a restart is one
	// more).
	Sessions uint64
}

// LossRate is the share of packets sent that were declared lost, from 0 to 1.
func (s PeerStats) LossRate() float64 {
	if s.PacketsSent == 0 {
		return 0
	}
	return float64(s.PacketsLost) / float64(s.PacketsSent)
}

// ErrNoStats is returned by PeerStats on a link that keeps no numbers, such
// as the plain link, which neither acknowledges nor retransmits anything.
var ErrNoStats = errors.New("this link keeps no per-peer statistics (plain mode acknowledges nothing)")

// statsLink is a Link that keeps per-peer numbers: transport.Endpoint is one.
type statsLink interface {
	PeerStats(ctx context.Context) ([]transport.PeerStats, error)
}

var _ statsLink = (*transport.Endpoint)(nil)

// PeerStats returns the link's numbers for every peer it has a session
// with, sorted by address, or ErrNoStats if the link keeps none. It asks
// the link's own goroutine, so it waits for it (bounded by ctx): call it
// from a goroutine that may wait, not from one the link waits on.
func (n *Node) PeerStats(ctx context.Context) ([]PeerStats, error) {
	n.mu.Lock()
	link := n.link
	n.mu.Unlock()
	sl, ok := link.(statsLink)
	if !ok {
		return nil, ErrNoStats
	}
	ts, err := sl.PeerStats(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PeerStats, len(ts))
	for i, s := range ts {
		out[i] = PeerStats{
			Addr:        s.Addr,
			RTT:         s.PathRTT,
			MinRTT:      s.PathMinRTT,
			PacketsSent: s.PacketsSent,
			PacketsLost: s.PacketsLost,
			Retransmits: s.Retransmits,
			MessagesIn:  s.MessagesIn,
			MessagesOut: s.MessagesOut,
			BytesIn:     s.BytesIn,
			BytesOut:    s.BytesOut,
			Queued:      s.Queued,
			InFlight:    s.InFlight,
			Window:      s.Window,
			Sessions:    s.Sessions,
		}
	}
	slices.SortFunc(out, func(a, b PeerStats) int { return a.Addr.Compare(b.Addr) })
	return out, nil
}
