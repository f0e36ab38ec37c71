package tui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
)

// The Cmds here are the only code of the UI that talks to the node or the
// network; each runs on its own goroutine and reports back with a Msg.

const (
	// eventBatch bounds how many waiting events one eventsMsg carries, so
	// that a flood is drawn once per batch rather than once per event.
	eventBatch = 256
	// queryTimeout bounds a refresh of the peers or the stats.
	queryTimeout = 2 * time.Second
	// resolveTimeout bounds /connect's name lookup.
	resolveTimeout = 10 * time.Second
)

type (
	// eventsMsg is what the node said, in order.
	eventsMsg []chat.Event
	// eventsClosedMsg says the node is closed: no more events.
	eventsClosedMsg struct{}
	// sendDoneMsg is what a Send returned; seq names the entry.
	sendDoneMsg struct {
		seq  uint64
		sent []chat.Sent
		err  error
	}
	// peersMsg is a fresh look at the peers, with RTTs where the link
	// keeps them.
	peersMsg struct {
		peers  []chat.PeerInfo
		rtts   map[netip.AddrPort]time.Duration
		nearby []chat.Nearby
	}
	// statsMsg answers /stats.
	statsMsg struct {
		peers []chat.PeerInfo
		stats []chat.PeerStats
		err   error
	}
	nickMsg struct {
		name string
		err  error
	}
	connectMsg struct {
		peer netip.AddrPort
		err  error
	}
	// historyMsg is the recent history, oldest first, as stored.
	historyMsg struct {
		msgs []chat.HistoryMessage
		err  error
	}
	// cancelMsg says what /cancel did: it gave up on p for the peers in
	// cancelled; left others still wait.
	cancelMsg struct {
		p         command.Pending
		cancelled []chat.Cancelled
		peers     []chat.PeerInfo // to name them
		left      int
		err       error
	}
	// forgetMsg says what /forget did.
	forgetMsg struct {
		peer      chat.PeerInfo
		cancelled []chat.Cancelled
		err       error
	}
	// renameMsg says what /rename did.
	renameMsg struct {
		peer  chat.PeerInfo
		given string
		err   error
	}
	// reachMsg lists where peers can reach us.
	reachMsg []string
	tickMsg  struct{}
	// interruptMsg is SIGINT or SIGTERM: leave, as Ctrl+C does.
	interruptMsg struct{}
	// leftMsg says the node is closed: we have left.
	leftMsg struct {
		send     *sendDoneMsg // the bye, if one was sent
		timedOut bool         // the wait for delivery ran out
		err      error
	}
)

// eventsCmd waits for the node's next events.
func (m *model) eventsCmd() tea.Cmd {
	events := m.node.Events()
	return func() tea.Msg {
		ev, ok := <-events
		if !ok {
			return eventsClosedMsg{}
		}
		batch := eventsMsg{ev}
		for len(batch) < eventBatch {
			select {
			case ev, ok := <-events:
				if !ok {
					return batch // the next eventsCmd reports the close
				}
				batch = append(batch, ev)
			default:
				return batch
			}
		}
		return batch
	}
}

// markShownCmd records that the messages among evs are on screen (see
// chat.Node.MarkShown), so that a later start, in line mode say, does not
// show them again; nil if there are none. A failure only means they may be
// shown again, so it is not worth a line in the transcript.
func (m *model) markShownCmd(evs eventsMsg) tea.Cmd {
	var msgs []chat.Message
	for _, ev := range evs {
		if msg, ok := ev.(chat.Message); ok {
			msgs = append(msgs, msg)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	node := m.node
	return func() tea.Msg {
		node.MarkShown(msgs...)
		return nil
	}
}

func (m *model) sendCmd(seq uint64, text string, action bool, to netip.AddrPort) tea.Cmd {
	node := m.node
	return func() tea.Msg { return send(node, seq, text, action, to) }
}

// sendToNameCmd is /msg to someone neither a peer nor nearby: Resolve
// (udpchat's knows the known peers' names and keys) finds them first.
func (m *model) sendToNameCmd(seq uint64, text, who string) tea.Cmd {
	node, ctx, resolve := m.node, m.ctx, m.opts.Resolve
	return func() tea.Msg {
		rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		to, err := resolve(rctx, who)
		cancel()
		if err != nil {
			return sendDoneMsg{seq: seq, err: err}
		}
		return send(node, seq, text, false, to)
	}
}

// send sends text (an action if action) to every peer, or to to alone if
// it is valid, and says how it went about the entry seq.
func send(node *chat.Node, seq uint64, text string, action bool, to netip.AddrPort) sendDoneMsg {
	r := sendDoneMsg{seq: seq}
	switch {
	case to.IsValid():
		// Someone nearby or known, picked by /msg, joins the
		// conversation first.
		if !slices.ContainsFunc(node.Peers(), func(p chat.PeerInfo) bool { return p.Addr == to }) {
			if err := node.Connect(to); err != nil {
				r.err = err
				return r
			}
		}
		s, err := node.SendTo(to, text)
		if err == nil {
			r.sent = []chat.Sent{s}
		}
		r.err = err
	case action:
		r.sent, r.err = node.SendAction(text)
	default:
		r.sent, r.err = node.Send(text)
	}
	return r
}

func (m *model) nickCmd(name string) tea.Cmd {
	node := m.node
	return func() tea.Msg {
		if err := node.SetName(name); err != nil {
			// The name may have changed even so: SetName reports peers it
			// could not tell.
			if node.Name() == name {
				return nickMsg{name: name, err: err}
			}
			return nickMsg{err: err}
		}
		return nickMsg{name: name}
	}
}

func (m *model) connectCmd(addr string) tea.Cmd {
	node, ctx, resolve := m.node, m.ctx, m.opts.Resolve
	return func() tea.Msg {
		var peer netip.AddrPort
		if resolve == nil {
			p, err := netip.ParseAddrPort(addr)
			if err != nil {
				return connectMsg{err: fmt.Errorf("/connect %s: want IP:PORT, e.g. 192.0.2.7:7475", addr)}
			}
			peer = p
		} else {
			rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
			p, err := resolve(rctx, addr)
			cancel()
			if err != nil {
				return connectMsg{err: err}
			}
			peer = p
		}
		return connectMsg{peer: peer, err: node.Connect(peer)}
	}
}

// historyCmd reads the recent history, to show above the live
// conversation (see history.go). The store keeps a message to several
// peers once per peer, so it asks for more rows than it shows messages.
func (m *model) historyCmd() tea.Cmd {
	node, ctx := m.node, m.ctx
	return func() tea.Msg {
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		msgs, err := node.History(qctx, chat.HistoryQuery{Limit: historyRows})
		return historyMsg{msgs: msgs, err: err}
	}
}

// cancelCmd is /cancel [ID]: it asks the node what still waits for
// delivery (all of it, shown or not) and gives up on the message arg names.
func (m *model) cancelCmd(arg string) tea.Cmd {
	node := m.node
	return func() tea.Msg {
		pending := command.PendingMessages(node.Undelivered())
		p, err := command.FindPending(pending, arg)
		if err != nil {
			return cancelMsg{err: err}
		}
		cancelled, err := node.Cancel(p.ID)
		return cancelMsg{p: p, cancelled: cancelled, peers: node.Peers(), left: len(pending) - 1, err: err}
	}
}

// refreshCmd fetches the peers and their RTTs, one fetch at a time.
func (m *model) refreshCmd() tea.Cmd {
	if !m.panel.startRefresh() {
		return nil
	}
	node, ctx := m.node, m.ctx
	return func() tea.Msg {
		r := peersMsg{peers: node.Peers(), rtts: make(map[netip.AddrPort]time.Duration), nearby: node.Nearby()}
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		if stats, err := node.PeerStats(qctx); err == nil {
			for _, s := range stats {
				r.rtts[s.Addr] = s.PathRTT
			}
		}
		return r
	}
}

func (m *model) statsCmd() tea.Cmd {
	node, ctx := m.node, m.ctx
	return func() tea.Msg {
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		stats, err := node.PeerStats(qctx)
		return statsMsg{peers: node.Peers(), stats: stats, err: err}
	}
}

// tickCmd waits for the next refresh of the peers panel. Unlike tea.Tick
// it ends when the UI does (m.stop), so no timer outlives Run.
func (m *model) tickCmd() tea.Cmd {
	if m.refreshEvery <= 0 {
		return nil
	}
	every, stop := m.refreshEvery, m.stop
	return func() tea.Msg {
		t := time.NewTimer(every)
		defer t.Stop()
		select {
		case <-t.C:
			return tickMsg{}
		case <-stop:
			return nil
		}
	}
}

// leaveCmd leaves: it sends bye first if there is one, waits for delivery
// if wait (up to the timeout, or until Ctrl+C), and closes the node, which
// tells the peers.
func (m *model) leaveCmd(wait bool, bye string) tea.Cmd {
	node, timeout := m.node, m.opts.Timeout
	wctx, cancel := context.WithTimeout(m.ctx, timeout)
	m.leaveWait, m.leaveCancel = wait, cancel
	m.transcript.dirty = true
	seq := m.transcript.seq
	return func() tea.Msg {
		defer cancel()
		var r leftMsg
		if bye != "" {
			sent, err := node.Send(bye)
			r.send = &sendDoneMsg{seq: seq, sent: sent, err: err}
		}
		if wait {
			err := node.WaitSettled(wctx) // what a relay holds needs us no longer
			r.timedOut = errors.Is(err, context.DeadlineExceeded)
		}
		// Leave says goodbye even once ctx has ended (Ctrl-C is how
		// people leave), within chat.LeaveTimeout.
		if err := node.Leave(context.Background()); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			r.err = err
		}
		return r
	}
}

// reachCmd works out where peers can reach us: the address we listen on,
// or, listening on all interfaces, each interface's.
func (m *model) reachCmd() tea.Cmd {
	local := m.local
	return func() tea.Msg { return reachMsg(reachable(local)) }
}

func reachable(local netip.AddrPort) []string {
	if !local.Addr().IsUnspecified() {
		return []string{local.String()}
	}
	var v4, v6 []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := pfx.Addr().Unmap()
		switch {
		case ip.IsLoopback(), ip.IsLinkLocalUnicast(), ip.IsMulticast():
		case ip.Is4():
			v4 = append(v4, netip.AddrPortFrom(ip, local.Port()).String())
		case local.Addr().Is6():
			v6 = append(v6, netip.AddrPortFrom(ip, local.Port()).String())
		}
	}
	out := slices.Concat(v4, v6)
	if len(out) == 0 {
		out = []string{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), local.Port()).String()}
	}
	return out
}
