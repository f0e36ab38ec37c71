package command

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/udpchat/udpchat/internal/chat"
)

// maxNamed is how many peers Undelivered names before it summarises: a
// report is one line a person reads, and after a flood of strangers a
// thousand peers may be waiting (their list is 'udpchat history --pending').
const maxNamed = 5

// Undelivered says what of lost was not delivered and to whom, as
// "1 message to bob (192.0.2.7:7475), 2 messages to 192.0.2.9:7475", naming
// peers as peers lists them; "" if lost is empty. Past maxNamed peers it
// gives the totals, the first few and how many more: "1025 messages to 1024
// peers: 2 messages to bob (192.0.2.7:7475), … and 1021 more peers".
func Undelivered(lost []chat.Sent, peers []chat.PeerInfo) string {
	names := make(map[netip.AddrPort]string)
	for _, p := range peers {
		names[p.Addr] = p.Name
	}
	var order []netip.AddrPort
	count := make(map[netip.AddrPort]int)
	for _, s := range lost {
		if count[s.To] == 0 {
			order = append(order, s.To)
		}
		count[s.To]++
	}
	named := order
	if len(order) > maxNamed {
		named = order[:maxNamed-2]
	}
	to := make([]string, 0, len(named))
	for _, addr := range named {
		who := addr.String()
		if name := names[addr]; name != "" {
			who = fmt.Sprintf("%s (%s)", name, addr)
		}
		to = append(to, fmt.Sprintf("%s to %s", Count(count[addr], "message"), who))
	}
	if len(named) == len(order) {
		return strings.Join(to, ", ")
	}
	return fmt.Sprintf("%s to %s: %s and %s", Count(len(lost), "message"), Count(len(order), "peer"),
		strings.Join(to, ", "), Count(len(order)-len(named), "more peer"))
}

// Count is n of what, for people: "1 message", "3 messages".
func Count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// StoreRecovered is what a UI says at chat.StoreRecovered, after an
// error said the store failed.
const StoreRecovered = "the history can be written again: messages that came meanwhile are stored now"

// KeptNote says what happens to n undelivered messages that the outbox
// keeps (chat.Node.Durable), and how to see or cancel them.
func KeptNote(n int) string {
	they, stay, go_, them, one := "they", "stay", "go", "them", "one"
	if n == 1 {
		they, stay, go_, them, one = "it", "stays", "goes", "it", "it"
	}
	return fmt.Sprintf("%s %s in the outbox and %s when udpchat next starts (on the same data dir); "+
		"'udpchat history --pending' lists %s, 'udpchat history --cancel ID' gives %s up", they, stay, go_, them, one)
}

// SplitHeld splits what is undelivered into what a relay holds in its
// recipients' mailboxes (isHeld: Node.IsHeld), which gets there without
// us, so is not lost, and the rest.
func SplitHeld(undelivered []chat.Sent, isHeld func(chat.MessageID, netip.AddrPort) bool) (held, lost []chat.Sent) {
	for _, s := range undelivered {
		if isHeld(s.ID, s.To) {
			held = append(held, s)
		} else {
			lost = append(lost, s)
		}
	}
	return held, lost
}

// HeldText is what a UI says on leaving of held, what relays hold.
func HeldText(held []chat.Sent, peers []chat.PeerInfo) string {
	return "held by the relay until they come back: " + Undelivered(held, peers)
}
