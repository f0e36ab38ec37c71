package tui

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// What the keys and the lines typed do: the model's, not the input's,
// since a command may touch every part of the screen and the node.

// handleKey handles the keys that are the UI's, hands the scrolling keys
// to the transcript and the rest to the input.
func (m *model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Leave) {
		return m.interrupt()
	}
	if m.leaving {
		return nil
	}
	m.input.setStatus("", false)
	if m.asked != nil {
		if cmd, spent := m.answerPastedFile(msg); spent {
			return cmd
		}
	}
	switch {
	case key.Matches(msg, m.keys.Send):
		return m.submit()
	case key.Matches(msg, m.keys.Complete):
		m.input.complete(m.panel.names(), m.waiting)
		return nil
	case key.Matches(msg, m.keys.PageUp, m.keys.PageDown, m.keys.Bottom):
		m.shown().tr.Update(msg)
		return nil
	case key.Matches(msg, m.keys.NextConv):
		m.switchTo((m.cur + 1) % len(m.convs))
		return nil
	case key.Matches(msg, m.keys.PrevConv):
		m.switchTo((m.cur + len(m.convs) - 1) % len(m.convs))
		return nil
	case key.Matches(msg, m.keys.Conv):
		m.switchTo(int(msg.Code - '1'))
		return nil
	}
	return m.input.Update(msg)
}

// paste adds a bracketed paste to the input, unless leaving.
func (m *model) paste(msg tea.PasteMsg) tea.Cmd {
	if m.leaving {
		return nil
	}
	if q := m.asked; q != nil { // not an answer: the line is back
		m.asked = nil
		m.input.SetValue(q.line)
	}
	cmd, err := m.input.paste(msg)
	if err != nil {
		m.fail(err)
	}
	return cmd
}

// waiting are our messages on screen that some peer still waits for,
// newest first: what Tab offers after /cancel. (/cancel itself asks the
// node, which knows them all.)
func (m *model) waiting() []command.Pending {
	if m.node.Plain() {
		return nil
	}
	return m.transcript.waiting()
}

// findPeer resolves /msg's PEER: a name (any case) or an address.
func (m *model) findPeer(who string) (chat.PeerInfo, error) {
	p, err := command.FindPeer(m.panel.peers, who)
	if errors.Is(err, chat.ErrUnknownPeer) {
		return p, fmt.Errorf("%s is not in the conversation: /connect %[1]s first", who)
	}
	return p, err
}

// forget is /forget PEER: the first time it asks, the second (the same
// peer, next) it drops the peer and cancels what waits for it.
func (m *model) forget(who string) tea.Cmd {
	if who == "" {
		m.fail(errors.New("/forget needs a peer, e.g. /forget bob or /forget 192.0.2.7:7475"))
		return nil
	}
	p, err := command.FindPeer(m.panel.peers, who)
	if err != nil && !errors.Is(err, chat.ErrUnknownPeer) {
		m.fail(err)
		return nil
	}
	if m.input.confirmForget != p.Addr {
		m.input.confirmForget = p.Addr
		m.shown().tr.notice("forget %s, and cancel every message waiting for it? /forget %s again to confirm",
			command.PeerName(p), termsafe.Line(who))
		return nil
	}
	m.input.confirmForget = netip.AddrPort{}
	node := m.node
	return func() tea.Msg {
		cancelled, err := node.Forget(p.Addr)
		return forgetMsg{peer: p, cancelled: cancelled, err: err}
	}
}

// rename is /rename PEER [NAME].
func (m *model) rename(arg string) tea.Cmd {
	who, given := command.SplitPeer(arg)
	if who == "" {
		m.fail(errors.New(command.RenameUsage))
		return nil
	}
	p, err := m.findPeer(who)
	if err != nil {
		m.fail(err)
		return nil
	}
	node := m.node
	return func() tea.Msg {
		return renameMsg{peer: p, given: given, err: node.Rename(p.Addr, given)}
	}
}

// gotRename shows what /rename did, and the peers under their new name.
func (m *model) gotRename(msg renameMsg) tea.Cmd {
	if msg.err != nil {
		m.fail(msg.err)
		return nil
	}
	m.shown().tr.notice("%s", command.RenamedText(msg.peer, msg.given))
	return m.refreshCmd()
}

// gotForget shows what /forget did.
func (m *model) gotForget(msg forgetMsg) {
	m.transcript.trackCancelled(msg.cancelled)
	if msg.err != nil {
		m.fail(msg.err)
		return
	}
	m.shown().tr.notice("%s", command.ForgotText(msg.peer, msg.cancelled))
}

// submit is Enter: it carries out the line, a message or a command.
func (m *model) submit() tea.Cmd {
	if m.askPastedFile(m.input.Value()) {
		return nil
	}
	cmd, err := m.input.take()
	if err != nil {
		m.fail(err)
		return nil
	}
	if cmd.Kind == command.Skip {
		return nil
	}
	m.shown().tr.follow = true
	m.shown().tr.dirty = true
	switch cmd.Kind {
	case command.Say:
		if m.cur != 0 {
			return m.say(cmd.Arg)
		}
		return m.send(cmd.Arg, false, nil)
	case command.Bye:
		return m.leave(cmd.Arg)
	case command.Quit:
		return m.leave("")
	case command.Me:
		if cmd.Arg == "" {
			m.fail(errors.New("/me needs an action, e.g. /me waves"))
			return nil
		}
		if m.cur != 0 {
			// Not to the peers behind the room's back.
			m.fail(errors.New("rooms have no /me yet (nothing sent); /part goes back to the direct chat"))
			return nil
		}
		return m.send(cmd.Arg, true, nil)
	case command.Msg:
		who, text := command.SplitPeer(cmd.Arg)
		if who == "" || text == "" {
			m.fail(errors.New("/msg needs a peer and a message, e.g. /msg bob hi (Tab completes names)"))
			return nil
		}
		p, err := m.findPeer(who)
		if err == nil {
			return m.send(text, false, &p)
		}
		// Someone nearby, or known by name, becomes a peer by it.
		n, nerr := chat.FindNearby(m.panel.nearby, who)
		switch {
		case nerr == nil:
			return m.send(text, false, &chat.PeerInfo{Addr: n.Addr, Name: n.Name})
		case !errors.Is(nerr, chat.ErrNotNearby):
			m.fail(nerr)
		case m.opts.Resolve != nil && m.panel.noneCalled(who):
			m.transcript.chatted = true
			seq := m.transcript.addOwn(m.name, text, false, who)
			return m.input.inOrder(m.sendToNameCmd(seq, text, who))
		default:
			m.fail(err)
		}
		return nil
	case command.Nick:
		if cmd.Arg == "" {
			m.shown().tr.notice("%s", command.WhoAmI(m.name))
			return nil
		}
		return m.nickCmd(cmd.Arg)
	case command.Connect:
		if cmd.Arg == "" {
			m.fail(errors.New("/connect needs an address or a name, e.g. /connect 192.0.2.7:7475 or /connect carol"))
			return nil
		}
		return m.connectCmd(cmd.Arg)
	case command.SendFile, command.Accept, command.Decline:
		return m.fileCmd(cmd)
	case command.Cancel:
		if command.IsFileCancel(m.node, cmd.Arg) {
			return m.fileCmd(cmd)
		}
		if m.node.Plain() {
			m.fail(errPlainCancel)
			return nil
		}
		return m.cancelCmd(cmd.Arg)
	case command.Forget:
		return m.forget(cmd.Arg)
	case command.Rename:
		return m.rename(cmd.Arg)
	case command.Peers:
		m.shown().tr.block(m.panel.listText(m.st))
		return m.refreshCmd()
	case command.Stats:
		return m.statsCmd()
	case command.Clear:
		m.shown().tr.clear()
	case command.Help:
		if cmd.Arg == "" {
			m.shown().tr.block(m.helpText())
			break
		}
		row, err := command.Explain(cmd.Arg, true)
		if err != nil {
			m.fail(err)
			break
		}
		m.shown().tr.block(strings.TrimSuffix(row, "\n"))
	case command.Room, command.Invite, command.Join, command.Part, command.Leave, command.Remove, command.Topic, command.Members, command.Info:
		return m.roomCommand(cmd)
	case command.Unknown:
		m.fail(fmt.Errorf("unknown command /%s (nothing sent); /help lists the commands, and //%[1]s sends the text /%[1]s", cmd.Arg))
	}
	return nil
}

var errPlainCancel = errors.New("nothing to cancel: plain mode acknowledges nothing, so no message waits for delivery")

// gotCancel shows what /cancel did; the glyph turns to ⊘ (the Cancelled
// events say so too, and may come first).
func (m *model) gotCancel(msg cancelMsg) {
	m.transcript.trackCancelled(msg.cancelled)
	if len(msg.cancelled) > 0 {
		m.shown().tr.notice("%s", command.CancelledText(msg.p, msg.cancelled, msg.peers, msg.left))
	}
	if msg.err != nil {
		m.fail(msg.err)
	}
}

// send shows text as ours, pending, and sends it in a Cmd: to everyone,
// or to one peer if to is not nil.
func (m *model) send(text string, action bool, to *chat.PeerInfo) tea.Cmd {
	var peer netip.AddrPort
	var toName string
	if to != nil {
		peer = to.Addr
		toName = to.Name
		if toName == "" {
			toName = to.Addr.String()
		}
	}
	m.transcript.chatted = true
	seq := m.transcript.addOwn(m.name, text, action, toName)
	return m.input.inOrder(m.sendCmd(seq, text, action, peer))
}

// leave starts leaving: after sending bye (waiting for delivery, as line
// mode does), or at once for /quit.
func (m *model) leave(bye string) tea.Cmd {
	m.leaving = true
	if bye == "" {
		return m.input.inOrder(m.leaveCmd(false, ""))
	}
	m.transcript.addOwn(m.name, bye, false, "")
	return m.input.inOrder(m.leaveCmd(true, bye))
}

// gotStats shows /stats: per peer, the numbers that show the transport at
// work.
func (m *model) gotStats(msg statsMsg) {
	if msg.err != nil {
		m.fail(fmt.Errorf("/stats: %w", msg.err))
		return
	}
	if len(msg.stats) == 0 {
		m.shown().tr.block("No link statistics yet: nobody has been in touch.")
		return
	}
	peers := make(map[netip.AddrPort]chat.PeerInfo)
	for _, p := range msg.peers {
		peers[p.Addr] = p
	}
	var b strings.Builder
	b.WriteString(m.st.panelTitle.Render("Link statistics"))
	for _, s := range msg.stats {
		who := s.Addr.String()
		if p, ok := peers[s.Addr]; ok {
			who = p.Where()
		}
		if n := peers[s.Addr].Name; n != "" {
			who = m.st.peerStyle(s.Addr.String()).Render(termsafe.Line(n)) + " " + m.st.dim.Render("("+termsafe.Line(who)+")")
		}
		fmt.Fprintf(&b, "\n  %s", who)
		fmt.Fprintf(&b, "\n    rtt %s (min %s) · lost %d of %s (%.1f%%) · %d retransmits",
			duration(s.PathRTT), duration(s.PathMinRTT), s.PacketsLost, command.Count(int(s.PacketsSent), "packet"), 100*s.LossRate(), s.Retransmits)
		fmt.Fprintf(&b, "\n    sent %s, %s · received %s, %s", command.Count(int(s.MessagesOut), "message"), byteSize(s.BytesOut),
			command.Count(int(s.MessagesIn), "message"), byteSize(s.BytesIn))
		fmt.Fprintf(&b, "\n    queued %d · in flight %s · window %s · packets up to %d bytes (path MTU)",
			s.Queued, byteSize(uint64(s.InFlight)), byteSize(uint64(s.Window)), s.MaxPacket)
	}
	m.shown().tr.block(b.String())
}

// helpText is /help: the commands, the keys and the glyphs.
func (m *model) helpText() string {
	var b strings.Builder
	b.WriteString(m.st.panelTitle.Render("Commands") + "  (a line without / is to everyone; /help NAME says more)\n")
	b.WriteString(command.Brief())
	b.WriteString(m.st.panelTitle.Render("Keys") + "\n")
	for _, k := range m.keys.help(m.node.Rooms() != nil) {
		h := k.Help()
		fmt.Fprintf(&b, "  %-15s %s\n", h.Key, h.Desc)
	}
	fmt.Fprintf(&b, "  %-15s %s\n", "Shift+drag", "select text to copy (the mouse wheel scrolls)")
	b.WriteString(m.st.panelTitle.Render("Your messages") + "\n")
	fmt.Fprintf(&b, "  %s sending  %s sent  %s held by the relay  %s delivered  %s cancelled  %s failed", m.st.pending.Render("○"),
		m.st.sent.Render("✓"), m.st.sent.Render("✓·"), m.st.delivered.Render("✓✓"), m.st.cancelled.Render("⊘"), m.st.fail.Render("✗"))
	if m.node.Plain() {
		b.WriteString("\n  (plain mode acknowledges nothing: ✓ is as far as it goes)")
	} else {
		b.WriteString("\n  /cancel gives up on one not yet delivered (Tab after /cancel lists them)")
	}
	if m.transcript.hasPast() {
		b.WriteString("\n  Dimmed, above " + m.st.dim.Render("— "+earlierLabel+" —") + ": the recent history, from before this start")
	}
	return b.String()
}
