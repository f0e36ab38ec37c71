package command

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/udpchat/udpchat/internal/chat"
)

// Undelivered says what of lost was not delivered and to whom, as
// "1 message to bob (192.0.2.7:7475), 2 messages to 192.0.2.9:7475", naming
// peers as peers lists them; "" if lost is empty.
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
	to := make([]string, 0, len(order))
	for _, addr := range order {
		who := addr.String()
		if name := names[addr]; name != "" {
			who = fmt.Sprintf("%s (%s)", name, addr)
		}
		to = append(to, fmt.Sprintf("%s to %s", Count(count[addr], "message"), who))
	}
	return strings.Join(to, ", ")
}

// Count is n of what, for people: "1 message", "3 messages".
func Count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

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
