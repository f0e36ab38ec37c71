package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// printHistory prints es on io.out, as JSON or as lines, in the chat's
// terms as the chat's UIs show them.
func printHistory(io stdio, es []historyEntry, asJSON bool) int {
	enc := json.NewEncoder(io.out)
	enc.SetEscapeHTML(false)
	for _, e := range es {
		var err error
		switch {
		case asJSON && e.message != nil:
			err = enc.Encode(jsonHistory(chat.StoredMessage(*e.message)))
		case asJSON:
			err = enc.Encode(jsonTransfer(*e.transfer))
		case e.message != nil:
			_, err = fmt.Fprintln(io.out, historyLine(chat.StoredMessage(*e.message)))
		default:
			_, err = fmt.Fprintln(io.out, transferLine(*e.transfer))
		}
		if err != nil {
			return fail(io, "history", err)
		}
	}
	return exitOK
}

// historyTime is how history lines show a time: local, to the second.
const historyTime = "2006-01-02 15:04:05"

// historyLine is m as one line of history. Everything from the peer or the
// user (peer, name, text) is escaped as the chat does, so one message is
// one line and cannot drive the terminal.
func historyLine(m chat.HistoryMessage) string {
	var b strings.Builder
	b.WriteString(m.At.Local().Format(historyTime))
	if m.Outgoing {
		b.WriteString("  -> ")
	} else {
		b.WriteString("  <- ")
	}
	b.WriteString(termsafe.Line(m.Peer))
	b.WriteString("  ")
	switch {
	case m.State == chat.MessagePending && !m.HeldAt.IsZero():
		fmt.Fprintf(&b, "[%v, held by the relay %s]  ", m.State, command.ShortID(m.ID))
	case m.State == chat.MessagePending, m.State == chat.MessageCancelled:
		fmt.Fprintf(&b, "[%v %s]  ", m.State, command.ShortID(m.ID))
	case m.State == chat.MessageSent:
		b.WriteString("[plain]  ")
	}
	if m.Direct {
		b.WriteString("[direct]  ")
	}
	if m.Action {
		fmt.Fprintf(&b, "* %s %s", termsafe.Line(m.Name), termsafe.Line(m.Text))
	} else {
		fmt.Fprintf(&b, "%s: %s", termsafe.Line(m.Name), termsafe.Line(m.Text))
	}
	return b.String()
}

// historyJSON is one message as --json prints it.
type historyJSON struct {
	Time        string `json:"time"`
	Direction   string `json:"direction"` // "out" or "in"
	Peer        string `json:"peer"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Text        string `json:"text"`
	Action      bool   `json:"action,omitempty"`
	Direct      bool   `json:"direct,omitempty"` // sent to that peer alone (/msg)
	State       string `json:"state"`            // pending, delivered, cancelled, received, sent
	DeliveredAt string `json:"delivered_at,omitempty"`
	HeldAt      string `json:"held_at,omitempty"` // a pending one the relay holds in the recipient's mailbox
}

func jsonHistory(m chat.HistoryMessage) historyJSON {
	j := historyJSON{
		Time:      m.At.Format(time.RFC3339Nano),
		Direction: "in",
		Peer:      m.Peer,
		ID:        m.ID.String(),
		Name:      m.Name,
		Text:      m.Text,
		Action:    m.Action,
		Direct:    m.Direct,
		State:     m.State.String(),
	}
	if m.Outgoing {
		j.Direction = "out"
	}
	if !m.DeliveredAt.IsZero() {
		j.DeliveredAt = m.DeliveredAt.Format(time.RFC3339Nano)
	}
	if !m.HeldAt.IsZero() && m.State == chat.MessagePending {
		j.HeldAt = m.HeldAt.Format(time.RFC3339Nano)
	}
	return j
}
