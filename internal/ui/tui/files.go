package tui

import (
	"fmt"
	"path/filepath"
	"slices"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	tea "charm.land/bubbletea/v2"
	"github.com/dustin/go-humanize"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// Files in the terminal UI: /send, /accept, /decline and /cancel ID run
// as Cmds (a file is hashed before it is offered), offers and outcomes are
// notices in the transcript, and the transfers under way are progress bars
// on the status line.

// fileMsg is what a file command came to.
type fileMsg struct {
	said string
	err  error
	room string // the room a file was sent to, whose conversation says so
}

// transfers are the bars of the transfers under way, oldest first.
type transfers struct {
	order []chat.FileID
	last  map[chat.FileID]chat.FileProgress
	bar   progress.Model
}

// fileCmd runs a file command off the UI's goroutine.
func (m *model) fileCmd(cmd command.Command) tea.Cmd {
	node, room := m.node, m.shown().room
	return func() tea.Msg {
		said, err := command.RunFile(node, room, cmd)
		if cmd.Kind != command.SendFile {
			room = ""
		}
		return fileMsg{said: said, err: err, room: room}
	}
}

func (m *model) gotFile(msg fileMsg) {
	if msg.err != nil {
		m.fail(msg.err)
		return
	}
	tr := &m.transcript
	if msg.room != "" {
		tr = m.conversation(msg.room).tr
	}
	tr.notice("%s", msg.said)
}

// fileEvent shows a file event, and says whether ev was one.
func (m *model) fileEvent(ev chat.Event) bool {
	switch ev := ev.(type) {
	case chat.FileOffer:
		m.transcript.notice("%s", command.FileOfferText(ev))
	case chat.FileProgress:
		m.files.update(ev)
	case chat.FileDone:
		m.files.remove(ev.ID)
		m.transcript.notice("%s", command.FileDoneText(ev))
	case chat.FileFailed:
		m.files.remove(ev.ID)
		m.transcript.addError(command.FileFailedText(ev))
	default:
		return false
	}
	m.transcript.chatted = true // a file is a conversation: no welcome over it
	return true
}

func (t *transfers) update(ev chat.FileProgress) {
	if t.last == nil {
		t.last = make(map[chat.FileID]chat.FileProgress)
		t.bar = progress.New(progress.WithDefaultBlend(), progress.WithoutPercentage())
	}
	if _, ok := t.last[ev.ID]; !ok {
		t.order = append(t.order, ev.ID)
	}
	t.last[ev.ID] = ev
}

func (t *transfers) remove(id chat.FileID) {
	delete(t.last, id)
	t.order = slices.DeleteFunc(t.order, func(o chat.FileID) bool { return o == id })
}

// view is the oldest transfer's bar and figures, in width columns, and how
// many more there are; "" when none is under way.
func (t *transfers) view(width int) string {
	if len(t.order) == 0 {
		return ""
	}
	ev := t.last[t.order[0]]
	text := termsafe.Line(fmt.Sprintf(" %s %s/%s", ev.Name, humanize.IBytes(ev.Bytes), humanize.IBytes(ev.Size)))
	if ev.Rate > 0 {
		text += fmt.Sprintf(" %s/s", humanize.IBytes(uint64(ev.Rate)))
	}
	if ev.Left > 0 {
		text += fmt.Sprintf(" %s left", ev.Left.Round(1e9))
	}
	if more := len(t.order) - 1; more > 0 {
		text += fmt.Sprintf(" (+%d)", more)
	}
	t.bar.SetWidth(max(10, min(30, width/3)))
	percent := 0.0
	if ev.Size > 0 {
		percent = float64(ev.Bytes) / float64(ev.Size)
	}
	return t.bar.ViewAs(percent) + text
}

// pastedFile is the question the UI asks when a line is nothing but the
// path of an existing file (typed, pasted, or a file dropped on the
// terminal): send it, as a file, to the one peer here? Enter does; Esc
// gives the line back to edit, and sending it unchanged then sends it as
// text; any other key gives it back too, and edits it.
type pastedFile struct {
	line string
	path string
	to   chat.PeerInfo
}

// askPastedFile asks about line if it names a file to offer, and says
// whether it did.
func (m *model) askPastedFile(line string) bool {
	if line == m.notFile {
		m.notFile = "" // said once: sent as text, once
		return false
	}
	if m.cur != 0 || m.node.Plain() {
		return false
	}
	path, size, ok := command.PastedFile(line)
	if !ok {
		return false
	}
	to, n := command.FileTarget(m.panel.peers)
	if n != 1 {
		return false // no one to ask about: /send PEER PATH says whom
	}
	m.input.remember(line)
	m.input.Reset()
	m.asked = &pastedFile{line: line, path: path, to: to}
	m.input.setStatus(termsafe.Line(fmt.Sprintf("send %s (%s) to %s? Enter sends the file, Esc gives the line back",
		filepath.Base(path), humanize.IBytes(uint64(size)), command.PeerName(to))), false)
	return true
}

// answerPastedFile takes the key that answers the question asked, and
// says whether the key is spent.
func (m *model) answerPastedFile(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	q := m.asked
	m.asked = nil
	switch {
	case key.Matches(msg, m.keys.Send):
		m.transcript.chatted = true
		node := m.node
		return func() tea.Msg {
			said, err := command.OfferFile(node, q.to, q.path)
			return fileMsg{said: said, err: err}
		}, true
	case key.Matches(msg, m.keys.Bottom):
		m.input.SetValue(q.line)
		m.notFile = q.line
		return nil, true
	}
	m.input.SetValue(q.line)
	return nil, false
}
