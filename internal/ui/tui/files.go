package tui

import (
	"fmt"
	"slices"

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
}

// transfers are the bars of the transfers under way, oldest first.
type transfers struct {
	order []chat.FileID
	last  map[chat.FileID]chat.FileProgress
	bar   progress.Model
}

// fileCmd runs a file command off the UI's goroutine.
func (m *model) fileCmd(cmd command.Command) tea.Cmd {
	node := m.node
	return func() tea.Msg {
		said, err := command.RunFile(node, cmd)
		return fileMsg{said: said, err: err}
	}
}

func (m *model) gotFile(msg fileMsg) {
	if msg.err != nil {
		m.fail(msg.err)
		return
	}
	m.transcript.notice("%s", msg.said)
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
