package command

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// What /cancel shares between the UIs: which message it names, and how its
// outcome reads. Both UIs ask the node (Node.Undelivered) rather than their
// screen, so that /cancel sees every message waiting, shown or not.

// ShortID is as much of a message ID as a person needs to name it: its
// first 8 hex digits, as `udpchat history` shows them.
func ShortID(id chat.MessageID) string { return id.String()[:8] }

// IDPrefix is arg as the start of a message ID, in the lower-case hex
// MessageID.String spells IDs in; ok is false if arg is not hex or is longer
// than an ID.
func IDPrefix(arg string) (prefix string, ok bool) {
	prefix = strings.ToLower(arg)
	_, err := hex.DecodeString(prefix + strings.Repeat("0", len(prefix)%2))
	return prefix, err == nil && len(prefix) <= 32
}

// Pending is one of our messages still waiting for delivery, to one peer
// or several.
type Pending struct {
	ID     chat.MessageID
	Text   string
	Action bool
	To     []netip.AddrPort
}

// PendingMessages groups what Node.Undelivered lists (one Sent per peer)
// by message, oldest first.
func PendingMessages(undelivered []chat.Sent) []Pending {
	var out []Pending
	at := make(map[chat.MessageID]int)
	for _, s := range undelivered {
		i, ok := at[s.ID]
		if !ok {
			i = len(out)
			at[s.ID] = i
			out = append(out, Pending{ID: s.ID, Text: s.Text, Action: s.Action})
		}
		out[i].To = append(out[i].To, s.To)
	}
	return out
}

// ErrNothingPending is FindPending's error when nothing waits.
var ErrNothingPending = errors.New("nothing to cancel: none of your messages is waiting for delivery")

// FindPending is the message /cancel's argument names among pending
// (oldest first, as PendingMessages returns them): the newest if arg is
// empty, else the one whose ID starts with arg (hex, any case). Several
// matches are an error that lists them, as is none.
func FindPending(pending []Pending, arg string) (Pending, error) {
	if len(pending) == 0 {
		return Pending{}, ErrNothingPending
	}
	if arg == "" {
		return pending[len(pending)-1], nil
	}
	prefix, ok := IDPrefix(arg)
	if !ok {
		return Pending{}, fmt.Errorf("/cancel %s: want the start of a message ID; waiting: %s", termsafe.Line(arg), List(pending))
	}
	var found []Pending
	for _, p := range pending {
		if strings.HasPrefix(p.ID.String(), prefix) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return Pending{}, fmt.Errorf("no message waiting for delivery has an ID starting %s; waiting: %s", prefix, List(pending))
	case 1:
		return found[0], nil
	}
	return Pending{}, fmt.Errorf("%d messages waiting for delivery have IDs starting %s: give more of the ID (%s)", len(found), prefix, List(found))
}

// maxListed bounds how many messages List names.
const maxListed = 5

// List names pending messages, newest first, by short ID and the start of
// their text: 5f0c2a9e "still there?", 8a1b2c3d "hello".
func List(pending []Pending) string {
	var parts []string
	for i := len(pending) - 1; i >= 0 && len(parts) < maxListed; i-- {
		parts = append(parts, Describe(pending[i]))
	}
	if more := len(pending) - len(parts); more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(parts, ", ")
}

// Describe names one message: its short ID and the start of its text.
func Describe(p Pending) string {
	text := p.Text
	if p.Action {
		text = "* " + text
	}
	return ShortID(p.ID) + " " + Snippet(text, 32)
}

// Snippet is text as one quoted line of at most about n characters, safe
// to print.
func Snippet(text string, n int) string {
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) > n {
		r := []rune(text)
		text = string(r[:n-1]) + "…"
	}
	return `"` + termsafe.Line(text) + `"`
}

// CancelledText says what /cancel did: which message it gave up on and to
// whom, naming peers as peers lists them, and how many others still wait
// (left).
func CancelledText(p Pending, cancelled []chat.Cancelled, peers []chat.PeerInfo, left int) string {
	names := make(map[netip.AddrPort]string)
	for _, pi := range peers {
		names[pi.Addr] = pi.Name
	}
	var to []string
	for _, c := range cancelled {
		who := c.To.String()
		if name := names[c.To]; name != "" {
			who = fmt.Sprintf("%s (%s)", termsafe.Line(name), c.To)
		}
		to = append(to, who)
	}
	s := fmt.Sprintf("cancelled %s to %s: it will not be sent again", Describe(p), strings.Join(to, ", "))
	if left > 0 {
		s += fmt.Sprintf(" (%s still waiting: /cancel again for the newest)", Count(left, "message"))
	}
	return s
}
