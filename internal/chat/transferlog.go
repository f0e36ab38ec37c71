package chat

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/files/transfer"
	"github.com/udpchat/udpchat/internal/store"
)

// TransferStore is a MessageStore that keeps a record of each file
// transfer (store.MessageDB does), so that history lists files beside
// messages. The transfer itself needs none of it: what resumes a transfer
// lives in the downloads dir.
type TransferStore interface {
	PutTransfer(ctx context.Context, t store.Transfer) error
}

var _ TransferStore = (*store.MessageDB)(nil)

// transferLog writes transfers' states to the store, a row a change: a
// transfer reports its progress five times a second, its state changes a
// few times in its life.
type transferLog struct {
	st TransferStore // nil: nothing recorded

	mu     sync.Mutex
	states map[transferKey]store.TransferState // of transfers not yet ended
}

type transferKey struct {
	id       transfer.ID
	incoming bool
}

// transferState is the state an event puts its transfer in, whether the
// event starts the transfer (an offer, ours or a peer's), and whether it
// says anything about the state at all.
func transferState(ev transfer.Event) (t store.Transfer, peer netip.AddrPort, start, ok bool) {
	var info transfer.Info
	switch ev := ev.(type) {
	case transfer.Offering:
		info, t.State, start = ev.Info, store.TransferOffered, true
	case transfer.Offered:
		info, t.State, start = ev.Info, store.TransferOffered, true
		if ev.Resumed {
			t.State = store.TransferAccepted
		}
	case transfer.Progress:
		if !ev.Accepted {
			return t, peer, false, false
		}
		info, t.State = ev.Info, store.TransferAccepted
	case transfer.Done:
		info, t.State, t.Path = ev.Info, store.TransferDone, ev.Path
	case transfer.Failed:
		info, t.State = ev.Info, store.TransferFailed
		if !ev.Accepted {
			t.State = store.TransferDeclined
		}
		if ev.Err != nil {
			t.Error = ev.Err.Error()
		}
	default:
		return t, peer, false, false
	}
	t.ID, t.Outgoing, t.Peer, t.Name, t.Size = info.ID, !info.Incoming, PeerKey(info.Peer), info.Name, info.Size
	return t, info.Peer, start, true
}

// recordTransfers stores the state changes evs bring. A store that fails
// costs the record, not the transfer: it is logged.
func (n *Node) recordTransfers(evs []transfer.Event) {
	l := &n.transfers
	if l.st == nil {
		return
	}
	for _, ev := range evs {
		t, peer, start, ok := transferState(ev)
		if ok && l.changes(t, start) {
			n.putTransfer(t, peer)
		}
	}
}

// changes says whether t moves its transfer to a new state, and notes it.
// An offer (start) always does: it starts the transfer over. A state
// after an end (a late progress report) changes nothing.
func (l *transferLog) changes(t store.Transfer, start bool) bool {
	k := transferKey{t.ID, !t.Outgoing}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.states == nil {
		l.states = make(map[transferKey]store.TransferState)
	}
	was, known := l.states[k]
	switch {
	case t.State == store.TransferDone || t.State == store.TransferFailed || t.State == store.TransferDeclined:
		delete(l.states, k)
		return true
	case !start && (!known || was == t.State):
		return false
	}
	l.states[k] = t.State
	return true
}

// putTransfer stores t with the peer as the node knows it now.
func (n *Node) putTransfer(t store.Transfer, peer netip.AddrPort) {
	t.Person = n.personAt(peer)
	t.UpdatedAt = time.Now()
	n.mu.Lock()
	if p := n.peers[peer]; p != nil {
		t.PeerName = p.displayName()
	}
	n.mu.Unlock()
	if err := n.transfers.st.PutTransfer(storeCtx, t); err != nil {
		n.log.Warn("the record of a file transfer not stored", "file", t.Name, "err", err)
	}
}

// failedOffer records that an offer the engine announced (Offering)
// could not be sent.
func (n *Node) failedOffer(info transfer.Info, err error) {
	if info.ID == (transfer.ID{}) {
		return
	}
	n.recordTransfers([]transfer.Event{transfer.Failed{Info: info, Err: err}})
}
