package line

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// output writes what the user sees. stdout carries only what peers said
// (or, with JSON, every event); everything else goes to stderr. The event
// printer and the input loop both write, so mu keeps their lines whole.
type output struct {
	mu     sync.Mutex
	stdout io.Writer
	stderr io.Writer
	json   *json.Encoder // nil in text mode
}

func newOutput(stdout, stderr io.Writer, asJSON bool) *output {
	o := &output{stdout: stdout, stderr: stderr}
	if asJSON {
		o.json = json.NewEncoder(stdout)
		o.json.SetEscapeHTML(false) // "<3" stays "<3"
	}
	return o
}

// status writes a line about udpchat itself to stderr, in either mode.
func (o *output) status(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.stderr, "udpchat: "+format+"\n", args...)
}

// info writes a "* ..." notice to stderr in text mode; JSON mode has events
// for what matters and ignores it.
func (o *output) info(format string, args ...any) {
	if o.json != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.stderr, "* "+format+"\n", args...)
}

// raw writes text to stderr as it is.
func (o *output) raw(text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	io.WriteString(o.stderr, text)
}

// nick says our name: the new one after /nick NAME (old is the one before),
// or, if old is "", the one we have (/nick alone). With JSON it is a "nick"
// event, so that a script sees its name change as it sees a peer's.
func (o *output) nick(old, name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.json != nil:
		o.json.Encode(struct {
			Type    string `json:"type"`
			OldName string `json:"old_name,omitempty"`
			Name    string `json:"name"`
		}{"nick", old, name})
	case old == "":
		fmt.Fprintf(o.stderr, "* %s\n", termsafe.Line(command.WhoAmI(name)))
	default:
		fmt.Fprintf(o.stderr, "* you are now known as %s\n", termsafe.Line(name))
	}
}

// error reports a problem that does not end the chat.
func (o *output) error(err error) { o.event(chat.Error{Err: err}) }

// printEvents shows every event from events until it is closed. Each
// message written is marked shown once it is out, in one store
// transaction for all those written while more events were waiting, so
// that a burst costs a commit, not one a message. A failure to mark is
// said once: those messages will be shown again at the next start.
func (o *output) printEvents(node *chat.Node, events <-chan chat.Event) {
	var shown []chat.Message
	failed := false
	mark := func() {
		if err := node.MarkShown(shown...); err != nil && !failed {
			failed = true
			o.error(fmt.Errorf("cannot record which messages were printed, so they will be printed again at the next start: %w", err))
		}
		shown = shown[:0]
	}
	for ev := range events {
		if o.event(ev) != nil {
			continue
		}
		if m, ok := ev.(chat.Message); ok {
			shown = append(shown, m)
		}
		if len(shown) > 0 && len(events) == 0 {
			mark()
		}
	}
	if len(shown) > 0 {
		mark()
	}
}

// event shows one event. It returns the error of writing a message to
// stdout, which then does not count as shown (see chat.Node.MarkShown).
func (o *output) event(ev chat.Event) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.json != nil {
		if v := jsonEvent(ev); v != nil {
			return o.json.Encode(v)
		}
		return nil
	}
	if o.fileText(ev) {
		return nil
	}
	switch ev := ev.(type) {
	case chat.Message:
		name := termsafe.Line(ev.Name)
		if ev.Direct {
			name += " → you" // sent to us alone (/msg)
		}
		var err error
		if ev.Action {
			_, err = fmt.Fprintf(o.stdout, "* %s %s\n", name, termsafe.Line(ev.Text))
		} else {
			_, err = fmt.Fprintf(o.stdout, "%s: %s\n", name, termsafe.Line(ev.Text))
		}
		return err
	case chat.Joined:
		where := ev.Peer.String()
		if ev.Path != "" {
			where = ev.Path // a relayed peer's handle is no place
		}
		if ev.Fingerprint != "" {
			fmt.Fprintf(o.stderr, "* %s joined (%s, key %s)\n", termsafe.Line(ev.Name), where, termsafe.Line(ev.Fingerprint))
		} else {
			fmt.Fprintf(o.stderr, "* %s joined (%s)\n", termsafe.Line(ev.Name), where)
		}
	case chat.Left:
		fmt.Fprintf(o.stderr, "* %s left\n", termsafe.Line(ev.Name))
	case chat.Nearby:
		fmt.Fprintf(o.stderr, "* nearby: %s (%s, key %s)\n", termsafe.Line(ev.Name), ev.Addr, termsafe.Line(ev.Fingerprint))
	case chat.Gone:
		fmt.Fprintf(o.stderr, "* gone: %s (%s, key %s)\n", termsafe.Line(ev.Name), ev.Addr, termsafe.Line(ev.Fingerprint))
	case chat.Unreachable:
		name := termsafe.Line(ev.Name)
		fmt.Fprintf(o.stderr, "* %s is unreachable; messages to %s will wait\n", name, name)
	case chat.Reachable:
		fmt.Fprintf(o.stderr, "* %s is back\n", termsafe.Line(ev.Name))
	case chat.Renamed:
		fmt.Fprintf(o.stderr, "* %s is now known as %s\n", termsafe.Line(ev.OldName), termsafe.Line(ev.Name))
	case chat.Moved:
		if ev.Path != "" {
			fmt.Fprintf(o.stderr, "* %s: the path is %s now\n", termsafe.Line(ev.Name), termsafe.Line(ev.Path))
		} else {
			fmt.Fprintf(o.stderr, "* %s moved to %s\n", termsafe.Line(ev.Name), ev.To)
		}
	case chat.RoomMessage, chat.RoomInvite, chat.MembersChanged, chat.RoomTopic:
		return roomEvent(o.stdout, o.stderr, ev)
	case chat.Error:
		fmt.Fprintf(o.stderr, "udpchat: %s\n", termsafe.Line(ev.Err.Error()))
	case chat.StoreRecovered:
		fmt.Fprintf(o.stderr, "udpchat: %s\n", command.StoreRecovered)
	case chat.HistoryByAddress:
		fmt.Fprintf(o.stderr, "udpchat: %s\n", ev)
	}
	// Sent, Held and Delivered are silent in text mode: no news is good news, and
	// what is not delivered is reported when the program ends. Cancelled
	// is too: /cancel, the only cause, says what it did.
	return nil
}

// jsonEvent is ev as the object --json prints for it.
func jsonEvent(ev chat.Event) any {
	type peerEvent struct {
		Type string `json:"type"`
		Peer string `json:"peer"`
		Name string `json:"name"`
	}
	type nearbyEvent struct {
		Type        string `json:"type"`
		Peer        string `json:"peer"`
		Name        string `json:"name"`
		Fingerprint string `json:"fingerprint"`
	}
	switch ev := ev.(type) {
	case chat.Message:
		return struct {
			Type   string `json:"type"`
			ID     string `json:"id"`
			From   string `json:"from"`
			Name   string `json:"name"`
			Text   string `json:"text"`
			Direct bool   `json:"direct,omitempty"`
			Action bool   `json:"action,omitempty"`
			Time   string `json:"time"`
		}{"message", ev.ID.String(), ev.From.String(), ev.Name, ev.Text, ev.Direct, ev.Action, ev.At.Format(time.RFC3339Nano)}
	case chat.Sent:
		return struct {
			Type   string `json:"type"`
			ID     string `json:"id"`
			To     string `json:"to"`
			Text   string `json:"text"`
			Direct bool   `json:"direct,omitempty"`
			Action bool   `json:"action,omitempty"`
			Time   string `json:"time"`
		}{"sent", ev.ID.String(), ev.To.String(), ev.Text, ev.Direct, ev.Action, ev.At.Format(time.RFC3339Nano)}
	case chat.Delivered:
		return struct {
			Type string `json:"type"`
			ID   string `json:"id"`
			To   string `json:"to"`
		}{"delivered", ev.ID.String(), ev.To.String()}
	case chat.Held:
		return struct {
			Type string `json:"type"`
			ID   string `json:"id"`
			To   string `json:"to"`
		}{"held", ev.ID.String(), ev.To.String()}
	case chat.Cancelled:
		return struct {
			Type string `json:"type"`
			ID   string `json:"id"`
			To   string `json:"to"`
		}{"cancelled", ev.ID.String(), ev.To.String()}
	case chat.Joined:
		return struct {
			Type        string `json:"type"`
			Peer        string `json:"peer"`
			Name        string `json:"name"`
			Fingerprint string `json:"fingerprint,omitempty"`
			Path        string `json:"path,omitempty"`
		}{"joined", ev.Peer.String(), ev.Name, ev.Fingerprint, ev.Path}
	case chat.Left:
		return peerEvent{"left", ev.Peer.String(), ev.Name}
	case chat.Nearby:
		return nearbyEvent{"nearby", ev.Addr.String(), ev.Name, ev.Fingerprint}
	case chat.Gone:
		return nearbyEvent{"gone", ev.Addr.String(), ev.Name, ev.Fingerprint}
	case chat.Unreachable:
		return peerEvent{"unreachable", ev.Peer.String(), ev.Name}
	case chat.Reachable:
		return peerEvent{"reachable", ev.Peer.String(), ev.Name}
	case chat.Renamed:
		return struct {
			Type    string `json:"type"`
			Peer    string `json:"peer"`
			OldName string `json:"old_name"`
			Name    string `json:"name"`
		}{"renamed", ev.Peer.String(), ev.OldName, ev.Name}
	case chat.Moved:
		return struct {
			Type string `json:"type"`
			Peer string `json:"peer"`
			Name string `json:"name"`
			From string `json:"from"`
			To   string `json:"to"`
			Path string `json:"path,omitempty"`
		}{"moved", ev.Peer.String(), ev.Name, ev.From.String(), ev.To.String(), ev.Path}
	case chat.RoomMessage, chat.RoomInvite, chat.RoomDelivery, chat.MembersChanged, chat.RoomTopic:
		return roomJSON(ev)
	case chat.Error:
		return struct {
			Type  string `json:"type"`
			Error string `json:"error"`
		}{"error", ev.Err.Error()}
	case chat.StoreRecovered:
		return struct {
			Type string `json:"type"`
		}{"store_recovered"}
	case chat.HistoryByAddress:
		return struct {
			Type      string   `json:"type"`
			Messages  int      `json:"messages"`
			Addresses []string `json:"addresses"`
		}{"history_by_address", ev.Messages, ev.Addresses}
	}
	return fileJSON(ev) // nil: an event this version does not know how to show
}
