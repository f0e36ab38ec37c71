package tui

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

const (
	// historySize bounds what Up and Down bring back.
	historySize = 200
	// maxInputLines is the most lines the input holds (the textarea's own
	// limit, past which it would silently drop lines).
	maxInputLines = 9999
)

// input is where the user types, and what goes with typing: the editor (a
// bubbles textarea that grows to a few lines), Up and Down through what
// was typed before, Tab completion, bracketed paste, the one-line status
// under the messages that the next key clears, and the queue that hands
// what was typed to the node in the order it was typed. What a line does
// is the model's business (commands.go), for it touches every part of the
// screen and the node: the input edits the line and hands it over parsed.
type input struct {
	keys      keyMap
	ta        textarea.Model
	height    int // as last laid out
	history   []string
	histIdx   int    // == len(history) when not browsing it
	draft     string // what was typed before browsing the history
	status    string // a one-line note under the messages, until the next key
	statusErr bool
	// confirmForget is the peer a /forget asked about: the next line, if
	// it is /forget of the same peer, confirms it.
	confirmForget netip.AddrPort

	// Sends (and leaving, which must not overtake them) go to the node one
	// at a time, in the order typed: Bubble Tea runs Cmds concurrently, so
	// two sends in flight could reach the node, and the peer, swapped.
	queued []tea.Cmd
	busy   bool // a queued Cmd is running
}

// newInput is the message editor: it grows to a few lines, Enter sends and
// Alt+Enter starts a new line.
func newInput(keys keyMap) input {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.SetPromptFunc(2, func(info textarea.PromptInfo) string {
		if info.LineNumber == 0 {
			return "> "
		}
		return "  "
	})
	ta.Placeholder = "Type a message, /help for commands"
	ta.CharLimit = 0
	ta.MaxWidth = 0
	ta.DynamicHeight = true
	ta.MinHeight = 1
	ta.MaxHeight = 5
	// A paste of many lines must not be cut short: the limit that counts is
	// the message's size, checked on paste (see paste).
	ta.MaxContentHeight = 1 << 30
	ta.KeyMap.InsertNewline = keys.Newline
	ta.KeyMap.PageUp, ta.KeyMap.PageDown = key.Binding{}, key.Binding{}
	ta.SetVirtualCursor(false) // the terminal's own cursor
	ta.Focus()
	return input{keys: keys, ta: ta}
}

func (in *input) setStyles(st styles, dark bool) {
	s := textarea.DefaultStyles(dark)
	for _, ss := range []*textarea.StyleState{&s.Focused, &s.Blurred} {
		ss.CursorLine = lipgloss.NewStyle()
		ss.Text = lipgloss.NewStyle()
		ss.EndOfBuffer = lipgloss.NewStyle()
		ss.Prompt = st.prompt
		ss.Placeholder = st.placeholder
	}
	s.Cursor.Blink = false
	in.ta.SetStyles(s)
}

// setSize fits the input to a terminal w columns wide and h lines high: it
// grows to a third of the height, at most six lines.
func (in *input) setSize(w, h int) {
	in.ta.MaxHeight = max(1, min(6, (h-4)/3))
	in.ta.SetWidth(w)
	in.ta.SetHeight(in.ta.Height()) // clamp to the new MaxHeight
}

// resized says whether the input grew or shrank since it last said so.
func (in *input) resized() bool {
	if h := in.ta.Height(); h != in.height {
		in.height = h
		return true
	}
	return false
}

func (in *input) Height() int           { return in.ta.Height() }
func (in *input) View() string          { return in.ta.View() }
func (in *input) Cursor() *tea.Cursor   { return in.ta.Cursor() }
func (in *input) Value() string         { return in.ta.Value() }
func (in *input) SetValue(value string) { in.ta.SetValue(value) }
func (in *input) Reset()                { in.ta.Reset() }

// setStatus shows a note under the messages until the next key.
func (in *input) setStatus(text string, isErr bool) { in.status, in.statusErr = text, isErr }

// Update edits the line, or brings back what was typed before (Up on the
// first row, Down on the last).
func (in *input) Update(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, in.keys.HistoryPrev) && in.onFirstRow():
		in.historyMove(-1)
		return nil
	case key.Matches(msg, in.keys.HistoryNext) && in.onLastRow():
		in.historyMove(+1)
		return nil
	}
	var cmd tea.Cmd
	in.ta, cmd = in.ta.Update(msg)
	return cmd
}

func (in *input) onFirstRow() bool {
	return in.ta.Line() == 0 && in.ta.LineInfo().RowOffset == 0
}

func (in *input) onLastRow() bool {
	li := in.ta.LineInfo()
	return in.ta.Line() == in.ta.LineCount()-1 && li.RowOffset >= li.Height-1
}

// historyMove steps through what was typed before: -1 back, +1 forward.
// Leaving the history at its end brings back what was being typed.
func (in *input) historyMove(step int) {
	i := in.histIdx + step
	if i < 0 || i > len(in.history) {
		return
	}
	if in.histIdx == len(in.history) {
		in.draft = in.ta.Value()
	}
	in.histIdx = i
	if i == len(in.history) {
		in.ta.SetValue(in.draft)
		return
	}
	in.ta.SetValue(in.history[i])
}

func (in *input) remember(line string) {
	if n := len(in.history); n == 0 || in.history[n-1] != line {
		in.history = append(in.history, line)
		if len(in.history) > historySize {
			in.history = in.history[1:]
		}
	}
	in.histIdx, in.draft = len(in.history), ""
}

// take is Enter: it hands over the line, parsed, and empties the input for
// the next. A blank line is command.Skip, and stays; so does one too long
// to send, with the error, so that it can be cut down.
func (in *input) take() (command.Command, error) {
	value := in.ta.Value()
	cmd := command.Parse(value)
	if cmd.Kind == command.Skip {
		return cmd, nil
	}
	if len(value) > chat.MaxTextLen {
		return command.Command{Kind: command.Skip}, chat.ValidateText(value)
	}
	in.remember(value)
	in.ta.Reset()
	if cmd.Kind != command.Forget {
		in.confirmForget = netip.AddrPort{} // a confirmation is the very next line
	}
	return cmd, nil
}

// paste takes a bracketed paste as it came, newlines and all, so that a
// multi-line paste is one message. One that would make the message too big
// is refused whole, with the reason, rather than cut.
func (in *input) paste(msg tea.PasteMsg) (tea.Cmd, error) {
	text := strings.ReplaceAll(msg.Content, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	if size := len(in.ta.Value()) + len(text); size > chat.MaxTextLen {
		return nil, fmt.Errorf("paste not added: the message would be %s, and one message holds at most %s (%d bytes); split it",
			byteSize(uint64(size)), byteSize(chat.MaxTextLen), chat.MaxTextLen)
	}
	if lines := in.ta.LineCount() + strings.Count(text, "\n"); lines > maxInputLines {
		return nil, fmt.Errorf("paste not added: the message would have %d lines, and the input holds at most %d; split it", lines, maxInputLines)
	}
	in.setStatus("", false)
	var cmd tea.Cmd
	in.ta, cmd = in.ta.Update(tea.PasteMsg{Content: text})
	return cmd, nil
}

// complete is Tab: it completes a /command's name, a peer's name (one of
// peers) after /msg, or what /cancel can cancel (one of waiting), as far
// as the candidates agree, and lists them when they do not.
func (in *input) complete(peers []string, waiting func() []command.Pending) {
	v := in.ta.Value()
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
	case (strings.EqualFold(name, "/msg") || strings.EqualFold(name, "/connect")) && !strings.Contains(rest, " "):
		base = name + " "
		for _, p := range peers {
			if strings.HasPrefix(strings.ToLower(p), strings.ToLower(rest)) {
				candidates = append(candidates, p)
			}
		}
	case strings.EqualFold(name, "/send"):
		base = name + " "
		candidates = command.CompletePath(rest)
	case strings.EqualFold(name, "/cancel") && !strings.Contains(rest, " "):
		base = name + " "
		for _, p := range waiting() {
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
		in.status = "no completion"
	case 1:
		if strings.HasSuffix(candidates[0], "/") { // a dir: go on into it
			in.ta.SetValue(base + candidates[0])
			break
		}
		in.ta.SetValue(base + candidates[0] + " ")
		if labels != nil {
			in.status = "Enter cancels " + labels[0]
		}
	default:
		if p := command.CommonPrefix(candidates); len(base+p) > len(v) {
			in.ta.SetValue(base + p)
		}
		if labels == nil {
			labels = candidates
		}
		in.status = termsafe.Line(strings.Join(labels, "  "))
	}
}

// inOrder runs cmd once every Cmd queued before it has returned.
func (in *input) inOrder(cmd tea.Cmd) tea.Cmd {
	in.queued = append(in.queued, cmd)
	return in.nextInOrder()
}

// doneInOrder notes that the queued Cmd running has returned, and starts
// the next.
func (in *input) doneInOrder() tea.Cmd {
	in.busy = false
	return in.nextInOrder()
}

// nextInOrder starts the next queued Cmd, unless one is running.
func (in *input) nextInOrder() tea.Cmd {
	if in.busy || len(in.queued) == 0 {
		return nil
	}
	cmd := in.queued[0]
	in.queued = slices.Delete(in.queued, 0, 1)
	in.busy = true
	return cmd
}
