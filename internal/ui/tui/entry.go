package tui

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

type entryKind uint8

const (
	entryMessage entryKind = iota // a peer's message
	entryOwn                      // one of ours
	entryNotice                   // "* bob joined"
	entryError                    // something went wrong
	entryBlock                    // preformatted lines: /help, /peers, /stats
	entryEarlier                  // the line under the history shown at start
	entryNew                      // "— new —": where the user left a conversation
)

// delivery is where one of our messages stands with one peer.
type delivery uint8

// The order matters: a message's state for a peer only ever moves up (see
// update), and a cancelled message may still be delivered after all.
const (
	pending   delivery = iota // Send has not returned yet
	sent                      // queued on the link (or in the outbox), not yet acknowledged
	held                      // in the peer's mailbox at the relay: it gets there without us
	cancelled                 // given up on (/cancel): not sent again
	delivered                 // the peer has it
)

// entry is one thing in the transcript.
type entry struct {
	kind   entryKind
	at     time.Time
	from   netip.AddrPort // the sender of a peer's message (its colour)
	name   string         // who said it
	text   string
	action bool
	to     string // for a /msg: whom it went to ("you" for one to us)
	// past says it is from the history loaded at start (history.go):
	// shown dimmed, above the live conversation.
	past bool
	// stamp is the layout of its time; "" is "15:04".
	stamp string

	// Own messages only.
	seq    uint64 // names the Send in flight until its ID is known
	id     chat.MessageID
	peers  map[netip.AddrPort]delivery // what each peer has, once sent
	failed bool
	// Our room messages: room says so, roomID names it, and k of n
	// members have it on disk (RoomDelivery).
	room   bool
	roomID chat.RoomMsgID
	k, n   int

	// rendered caches the lines for renderedW; nil when stale.
	rendered  []string
	renderedW int
}

// glyph is the state of an own message, as a small mark that changes in
// place: ○ sending, ✓ sent (some peer has yet to get it), ✓· held by the
// relay (each peer who has yet to get it will, without us), ⊘ cancelled
// (for some peer, and none still waits), ✓✓ delivered to every peer, ✗
// failed.
func (e *entry) glyph(s styles) string {
	switch {
	case e.failed:
		return s.fail.Render("✗ ")
	case e.room && e.k == 0:
		return s.sent.Render("✓ ")
	case e.room:
		return s.delivered.Render(fmt.Sprintf("✓✓ %d/%d", e.k, e.n))
	case len(e.peers) == 0:
		return s.pending.Render("○ ")
	}
	given, inMailbox := false, false
	for _, d := range e.peers {
		switch d {
		case pending, sent:
			return s.sent.Render("✓ ")
		case held:
			inMailbox = true
		case cancelled:
			given = true
		}
	}
	switch {
	case inMailbox:
		return s.sent.Render("✓·")
	case given:
		return s.cancelled.Render("⊘ ")
	}
	return s.delivered.Render("✓✓")
}

// waiting says e is ours and some peer still waits for it: what /cancel
// can give up on.
func (e *entry) waiting() bool {
	if e.kind != entryOwn || e.failed || e.id == (chat.MessageID{}) {
		return false
	}
	for _, d := range e.peers {
		if d == sent || d == held {
			return true
		}
	}
	return false
}

// update records that peer has d of the message, never going back (a late
// Sent must not undo a Delivered that overtook it).
func (e *entry) update(peer netip.AddrPort, d delivery) {
	if e.peers == nil {
		e.peers = make(map[netip.AddrPort]delivery)
	}
	if cur, ok := e.peers[peer]; !ok || d > cur {
		e.peers[peer] = d
	}
	e.rendered = nil
}

// render returns e as lines no wider than w.
func (e *entry) render(s styles, w int) []string {
	if e.rendered != nil && e.renderedW == w {
		return e.rendered
	}
	stamp := e.stamp
	if stamp == "" {
		stamp = "15:04"
	}
	ts := s.time.Render(e.at.Format(stamp)) + " "
	var lines []string
	switch e.kind {
	case entryMessage, entryOwn:
		mark := "  "
		nameStyle, textStyle := s.peerStyle(e.from.String()), lipgloss.NewStyle()
		if e.kind == entryOwn {
			mark, nameStyle = e.glyph(s), s.own
		}
		if e.past {
			nameStyle, textStyle = s.past, s.past
		}
		name := nameStyle.Render(termsafe.Line(e.name))
		if e.to != "" {
			name += s.dim.Render(" → ") + s.own.Render(termsafe.Line(e.to))
		}
		prefix := ts + mark + " " + name + s.dim.Render(":") + " "
		if e.action {
			prefix = ts + mark + " " + s.dim.Render("* ") + name + " "
		}
		lines = hang(prefix, termsafe.Text(e.text), w, textStyle)
	case entryEarlier, entryNew:
		// Centred, and subtle: what is above is history, what follows is
		// now.
		label := "— " + e.text + " —"
		pad := max((w-ansi.StringWidth(label))/2, 0)
		lines = []string{strings.Repeat(" ", pad) + s.dim.Render(label)}
	case entryNotice:
		lines = hang(ts+"   "+s.notice.Render("* "), termsafe.Text(e.text), w, s.notice)
	case entryError:
		lines = hang(ts+"   "+s.errText.Render("! "), termsafe.Text(e.text), w, s.errText)
	case entryBlock:
		// Each line wraps under its own indentation.
		for _, l := range strings.Split(e.text, "\n") {
			body := strings.TrimLeft(l, " ")
			lead := strings.Repeat(" ", min(len(l)-len(body), w/2))
			for i, wl := range strings.Split(ansi.Wrap(body, max(w-len(lead)-2, 1), ""), "\n") {
				if i == 0 {
					lines = append(lines, lead+wl)
				} else {
					lines = append(lines, lead+"  "+wl)
				}
			}
		}
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "")
	}
	e.rendered, e.renderedW = lines, w
	return lines
}

// hang lays text out after prefix, wrapped to w columns, with the lines
// after the first indented to where the text began: a message reads as a
// block beside its sender. Where the prefix leaves too little room (a narrow
// terminal, a long name), the text goes below it, indented by two. Each line
// of text is styled with style on its own, so that no line relies on
// another's escape codes.
func hang(prefix, text string, w int, style lipgloss.Style) []string {
	text = strings.ReplaceAll(text, "\t", "    ")
	pw := ansi.StringWidth(prefix)
	indent := pw
	var lines []string
	if w-pw < 16 {
		lines = append(lines, strings.TrimRight(prefix, " "))
		indent, prefix = 2, "  "
	}
	first := true
	for _, para := range strings.Split(text, "\n") {
		for _, l := range strings.Split(ansi.Wrap(para, max(w-indent, 1), ""), "\n") {
			l = style.Render(l)
			if first {
				lines = append(lines, prefix+l)
				first = false
				continue
			}
			lines = append(lines, strings.Repeat(" ", indent)+l)
		}
	}
	return lines
}

// toYou is the to of a received message: "you" for one sent to us alone
// (/msg), shown as "bob → you", as our own show "alice → bob".
func toYou(direct bool) string {
	if direct {
		return "you"
	}
	return ""
}
