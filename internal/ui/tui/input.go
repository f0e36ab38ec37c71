package tui

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// maxInputLines is the most lines the input holds (the textarea's own
// limit, past which it would silently drop lines).
const maxInputLines = 9999

// handleKey handles the keys that are the UI's and hands the rest to the
// input.
func (m *model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Leave) {
		return m.interrupt()
	}
	if m.leaving {
		return nil
	}
	m.status, m.statusErr = "", false
	switch {
	case key.Matches(msg, m.keys.Send):
		return m.submit()
	case key.Matches(msg, m.keys.Complete):
		m.complete()
		return nil
	case key.Matches(msg, m.keys.PageUp):
		m.vp.PageUp()
		m.scrolled()
		return nil
	case key.Matches(msg, m.keys.PageDown):
		m.vp.PageDown()
		m.scrolled()
		return nil
	case key.Matches(msg, m.keys.Bottom):
		m.vp.GotoBottom()
		m.scrolled()
		return nil
	case key.Matches(msg, m.keys.HistoryPrev) && m.onFirstRow():
		m.historyMove(-1)
		return nil
	case key.Matches(msg, m.keys.HistoryNext) && m.onLastRow():
		m.historyMove(+1)
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return cmd
}

func (m *model) onFirstRow() bool {
	return m.input.Line() == 0 && m.input.LineInfo().RowOffset == 0
}

func (m *model) onLastRow() bool {
	li := m.input.LineInfo()
	return m.input.Line() == m.input.LineCount()-1 && li.RowOffset >= li.Height-1
}

// historyMove steps through what was typed before: -1 back, +1 forward.
// Leaving the history at its end brings back what was being typed.
func (m *model) historyMove(step int) {
	i := m.histIdx + step
	if i < 0 || i > len(m.history) {
		return
	}
	if m.histIdx == len(m.history) {
		m.draft = m.input.Value()
	}
	m.histIdx = i
	if i == len(m.history) {
		m.input.SetValue(m.draft)
		return
	}
	m.input.SetValue(m.history[i])
}

func (m *model) remember(line string) {
	if n := len(m.history); n == 0 || m.history[n-1] != line {
		m.history = append(m.history, line)
		if len(m.history) > historySize {
			m.history = m.history[1:]
		}
	}
	m.histIdx, m.draft = len(m.history), ""
}

// paste takes a bracketed paste as it came, newlines and all, so that a
// multi-line paste is one message. One that would make the message too big
// is refused whole, with a visible reason, rather than cut.
func (m *model) paste(msg tea.PasteMsg) tea.Cmd {
	if m.leaving {
		return nil
	}
	text := strings.ReplaceAll(msg.Content, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	if size := len(m.input.Value()) + len(text); size > chat.MaxTextLen {
		m.fail(fmt.Errorf("paste not added: the message would be %s, and one message holds at most %s (%d bytes); split it",
			byteSize(uint64(size)), byteSize(chat.MaxTextLen), chat.MaxTextLen))
		return nil
	}
	if lines := m.input.LineCount() + strings.Count(text, "\n"); lines > maxInputLines {
		m.fail(fmt.Errorf("paste not added: the message would have %d lines, and the input holds at most %d; split it", lines, maxInputLines))
		return nil
	}
	m.status, m.statusErr = "", false
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(tea.PasteMsg{Content: text})
	return cmd
}

// complete is Tab: it completes a /command's name, or a peer's name after
// /msg, as far as the candidates agree, and lists them when they do not.
func (m *model) complete() {
	v := m.input.Value()
	if !strings.HasPrefix(v, "/") || strings.Contains(v, "\n") {
		return
	}
	var candidates []string
	var labels []string // what the status shows of each candidate, if not itself
	var base string     // what the completion replaces the word after
	name, rest, hasArg := strings.Cut(v, " ")
	switch {
	case !hasArg:
		candidates = command.Complete(name, true)
	case strings.EqualFold(name, "/msg") && !strings.Contains(rest, " "):
		base = name + " "
		for _, p := range m.peerNames() {
			if strings.HasPrefix(strings.ToLower(p), strings.ToLower(rest)) {
				candidates = append(candidates, p)
			}
		}
	case strings.EqualFold(name, "/cancel") && !strings.Contains(rest, " "):
		base = name + " "
		for _, p := range m.waiting() {
			if id := command.ShortID(p.ID); strings.HasPrefix(id, strings.ToLower(rest)) {
				candidates = append(candidates, id)
				labels = append(labels, command.Describe(p))
			}
		}
	default:
		return
	}
	switch len(candidates) {
	case 0:
		m.status = "no completion"
	case 1:
		m.input.SetValue(base + candidates[0] + " ")
		if labels != nil {
			m.status = "Enter cancels " + labels[0]
		}
	default:
		if p := command.CommonPrefix(candidates); len(base+p) > len(v) {
			m.input.SetValue(base + p)
		}
		if labels == nil {
			labels = candidates
		}
		m.status = termsafe.Line(strings.Join(labels, "  "))
	}
}

// waiting are our messages on screen that some peer still waits for,
// newest first: what Tab offers after /cancel. (/cancel itself asks the
// node, which knows them all.)
func (m *model) waiting() []command.Pending {
	if m.node.Plain() {
		return nil
	}
	var out []command.Pending
	for i := len(m.entries) - 1; i >= 0; i-- {
		if e := m.entries[i]; e.waiting() {
			out = append(out, command.Pending{ID: e.id, Text: e.text, Action: e.action})
		}
	}
	return out
}

// peerNames are the names /msg accepts: each peer's name, or its address
// while it has none.
func (m *model) peerNames() []string {
	var names []string
	for _, p := range m.peers {
		if p.Name != "" {
			names = append(names, p.Name)
		} else {
			names = append(names, p.Addr.String())
		}
	}
	return names
}

// findPeer resolves /msg's PEER: a name (any case) or an address.
func (m *model) findPeer(who string) (chat.PeerInfo, error) {
	p, err := command.FindPeer(m.peers, who)
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
	p, err := command.FindPeer(m.peers, who)
	if err != nil && !errors.Is(err, chat.ErrUnknownPeer) {
		m.fail(err)
		return nil
	}
	if m.confirmForget != p.Addr {
		m.confirmForget = p.Addr
		m.notice("forget %s, and cancel every message waiting for it? /forget %s again to confirm",
			command.PeerName(p), termsafe.Line(who))
		return nil
	}
	m.confirmForget = netip.AddrPort{}
	node := m.node
	return func() tea.Msg {
		cancelled, err := node.Forget(p.Addr)
		return forgetMsg{peer: p, cancelled: cancelled, err: err}
	}
}

// gotForget shows what /forget did.
func (m *model) gotForget(msg forgetMsg) {
	for _, c := range msg.cancelled {
		m.track(c.ID, c.To, cancelled)
	}
	if msg.err != nil {
		m.fail(msg.err)
		return
	}
	m.notice("%s", command.ForgotText(msg.peer, msg.cancelled))
}

// submit is Enter: it carries out the line, a message or a command.
func (m *model) submit() tea.Cmd {
	value := m.input.Value()
	cmd := command.Parse(value)
	if cmd.Kind == command.Skip {
		return nil
	}
	if len(value) > chat.MaxTextLen {
		// Kept in the input, so that it can be cut down.
		m.fail(chat.ValidateText(value))
		return nil
	}
	m.remember(value)
	m.input.Reset()
	if cmd.Kind != command.Forget {
		m.confirmForget = netip.AddrPort{} // a confirmation is the very next line
	}
	m.follow = true
	m.dirty = true
	switch cmd.Kind {
	case command.Say:
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
		return m.send(cmd.Arg, true, nil)
	case command.Msg:
		who, text := command.SplitPeer(cmd.Arg)
		if who == "" || text == "" {
			m.fail(errors.New("/msg needs a peer and a message, e.g. /msg bob hi (Tab completes names)"))
			return nil
		}
		p, err := m.findPeer(who)
		if err != nil {
			m.fail(err)
			return nil
		}
		return m.send(text, false, &p)
	case command.Nick:
		if cmd.Arg == "" {
			m.notice("%s", command.WhoAmI(m.name))
			return nil
		}
		return m.nickCmd(cmd.Arg)
	case command.Connect:
		if cmd.Arg == "" {
			m.fail(errors.New("/connect needs an address, e.g. /connect 192.0.2.7:7475"))
			return nil
		}
		return m.connectCmd(cmd.Arg)
	case command.Cancel:
		if m.node.Plain() {
			m.fail(errPlainCancel)
			return nil
		}
		return m.cancelCmd(cmd.Arg)
	case command.Forget:
		return m.forget(cmd.Arg)
	case command.Peers:
		m.showPeers()
		return m.refreshCmd()
	case command.Stats:
		return m.statsCmd()
	case command.Clear:
		clear(m.entries)
		m.entries = m.entries[:0]
		clear(m.byID)
		m.unseen = 0
		m.chatted = true // a cleared screen stays clear
	case command.Help:
		m.block(m.helpText())
	case command.Unknown:
		m.fail(fmt.Errorf("unknown command /%s (nothing sent); /help lists the commands, and //%[1]s sends the text /%[1]s", cmd.Arg))
	}
	return nil
}

var errPlainCancel = errors.New("nothing to cancel: plain mode acknowledges nothing, so no message waits for delivery")

// gotCancel shows what /cancel did; the glyph turns to ⊘ (the Cancelled
// events say so too, and may come first).
func (m *model) gotCancel(msg cancelMsg) {
	for _, c := range msg.cancelled {
		m.track(c.ID, c.To, cancelled)
	}
	if len(msg.cancelled) > 0 {
		m.notice("%s", command.CancelledText(msg.p, msg.cancelled, msg.peers, msg.left))
	}
	if msg.err != nil {
		m.fail(msg.err)
	}
}

// send shows text as ours, pending, and sends it in a Cmd: to everyone,
// or to one peer if to is not nil.
func (m *model) send(text string, action bool, to *chat.PeerInfo) tea.Cmd {
	m.seq++
	e := &entry{kind: entryOwn, at: time.Now(), name: m.name, text: text, action: action, seq: m.seq}
	var peer netip.AddrPort
	if to != nil {
		peer = to.Addr
		e.to = to.Name
		if e.to == "" {
			e.to = to.Addr.String()
		}
	}
	m.inFlight[m.seq] = e
	m.chatted = true
	m.add(e)
	return m.inOrder(m.sendCmd(m.seq, text, action, peer))
}

// leave starts leaving: after sending bye (waiting for delivery, as line
// mode does), or at once for /quit.
func (m *model) leave(bye string) tea.Cmd {
	m.leaving = true
	if bye == "" {
		return m.inOrder(m.leaveCmd(false, ""))
	}
	m.seq++
	e := &entry{kind: entryOwn, at: time.Now(), name: m.name, text: bye, seq: m.seq}
	m.inFlight[m.seq] = e
	m.add(e)
	return m.inOrder(m.leaveCmd(true, bye))
}

// helpText is /help: the commands, the keys and the glyphs.
func (m *model) helpText() string {
	var b strings.Builder
	b.WriteString(m.st.panelTitle.Render("Commands") + "  (a line without / is a message to everyone)\n")
	b.WriteString(command.Usage(true))
	b.WriteString(m.st.panelTitle.Render("Keys") + "\n")
	for _, k := range m.keys.help() {
		h := k.Help()
		fmt.Fprintf(&b, "  %-15s %s\n", h.Key, h.Desc)
	}
	fmt.Fprintf(&b, "  %-15s %s\n", "Shift+drag", "select text to copy (the mouse wheel scrolls)")
	b.WriteString(m.st.panelTitle.Render("Your messages") + "\n")
	fmt.Fprintf(&b, "  %s sending  %s sent  %s delivered  %s cancelled  %s failed", m.st.pending.Render("○"),
		m.st.sent.Render("✓"), m.st.delivered.Render("✓✓"), m.st.cancelled.Render("⊘"), m.st.fail.Render("✗"))
	if m.node.Plain() {
		b.WriteString("\n  (plain mode acknowledges nothing: ✓ is as far as it goes)")
	} else {
		b.WriteString("\n  /cancel gives up on one not yet delivered (Tab after /cancel lists them)")
	}
	if m.hasPast() {
		b.WriteString("\n  Dimmed, above " + m.st.dim.Render("— "+earlierLabel+" —") + ": the recent history, from before this start")
	}
	return b.String()
}
