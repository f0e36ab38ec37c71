package chat

import (
	"context"
	"errors"
	"slices"

	"github.com/udpchat/udpchat/internal/link"
)

// PeerStats are the numbers a link keeps about one peer: the ones that show
// the transport at work (/stats in the terminal UI). They are the link's
// (link.PeerStats), so that a UI need not know the transport.
type PeerStats = link.PeerStats

// ErrNoStats is returned by PeerStats on a link that keeps no numbers, such
// as the plain link, which neither acknowledges nor retransmits anything.
var ErrNoStats = errors.New("this link keeps no per-peer statistics (plain mode acknowledges nothing)")

// PeerStats returns the link's numbers for every peer it has a session
// with, sorted by address, or ErrNoStats if the link keeps none. It asks
// the link's own goroutine, so it waits for it (bounded by ctx): call it
// from a goroutine that may wait, not from one the link waits on.
func (n *Node) PeerStats(ctx context.Context) ([]PeerStats, error) {
	n.mu.Lock()
	l := n.link
	n.mu.Unlock()
	m, ok := l.(link.Measurer)
	if !ok {
		return nil, ErrNoStats
	}
	out, err := m.PeerStats(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b PeerStats) int { return a.Addr.Compare(b.Addr) })
	return out, nil
}
