package chat

// Events reach Node.Events in the order the changes behind them happened,
// yet nobody waits for the UI while holding Node.mu. Whoever changes the
// node's state takes the next turn under mu (so turns follow the order of the
// changes), releases mu, and then delivers its events once the previous turn
// is over. A UI slow to read Events thus holds up the producers of events,
// in order, but not mu: it can still call Peers or Send while an event waits.

// A turn is one place in that order.
type turn struct {
	prev <-chan struct{} // closed when the previous turn is over
	done chan struct{}   // closed when this turn is over
}

// takeTurnLocked returns the next turn. n.mu must be held.
func (n *Node) takeTurnLocked() turn {
	t := turn{prev: n.lastTurn, done: make(chan struct{})}
	n.lastTurn = t.done
	return t
}

// update runs change under n.mu and delivers the events it returns, in
// order with every other change's.
func (n *Node) update(change func() []Event) {
	n.mu.Lock()
	evs := change()
	if len(evs) == 0 {
		n.mu.Unlock()
		return
	}
	t := n.takeTurnLocked()
	n.mu.Unlock()
	n.emit(t, evs)
}

// emit waits for turn t and delivers evs. While the node is open it waits
// for the reader of Events as long as it takes: the link's goroutine blocks
// with it, and that back-pressure is what keeps a flood of messages from
// growing memory. Once Close has begun, an event that finds Events full is
// dropped and counted instead, because the UI may have stopped reading and
// Close must not wait on it.
func (n *Node) emit(t turn, evs []Event) {
	<-t.prev
	defer close(t.done)
	for _, ev := range evs {
		if n.eventsClosed {
			n.dropEvent(ev)
			continue
		}
		select {
		case n.events <- ev:
			continue
		default:
		}
		select {
		case n.events <- ev:
		case <-n.closing:
			select {
			case n.events <- ev:
			default:
				n.dropEvent(ev)
			}
		}
	}
}

func (n *Node) dropEvent(ev Event) {
	n.stats.eventsDropped.Add(1)
	n.log.Debug("event dropped: node closing and Events full", "event", ev)
}

// closeEvents closes Events after every event already produced has been
// delivered (or dropped); later events are dropped.
func (n *Node) closeEvents() {
	n.mu.Lock()
	t := n.takeTurnLocked()
	n.mu.Unlock()
	<-t.prev
	n.eventsClosed = true
	close(n.events)
	close(t.done)
}
