package command

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// FindPeer resolves what a user calls a peer (/msg, /forget) among peers: a
// name, in any case, or an address: the one it goes by, or where it moved
// to (the one the UIs show). An address that is not among them is an
// error wrapping chat.ErrUnknownPeer, with the peer's Addr set all the same,
// for a command that can act on it anyway.
func FindPeer(peers []chat.PeerInfo, who string) (chat.PeerInfo, error) {
	if ap, err := netip.ParseAddrPort(who); err == nil {
		ap = chat.Unmap(ap)
		for _, p := range peers {
			if p.Addr == ap || p.Endpoint == ap {
				return p, nil
			}
		}
		return chat.PeerInfo{Addr: ap}, fmt.Errorf("%s is %w", who, chat.ErrUnknownPeer)
	}
	var found []chat.PeerInfo
	for _, p := range peers {
		if strings.EqualFold(p.Name, who) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return chat.PeerInfo{}, fmt.Errorf("no peer is called %q: /peers lists them", termsafe.Line(who))
	case 1:
		return found[0], nil
	}
	return chat.PeerInfo{}, fmt.Errorf("%d peers are called %q: use the address (%s, ...)", len(found), termsafe.Line(who), found[0].Addr)
}

// PeerName is how a message names a peer: "bob (192.0.2.7:7475)", where
// it is now (and how the path goes, if a relay is in use: see
// chat.PeerInfo.Where), or the address alone while it has no name.
func PeerName(p chat.PeerInfo) string {
	if p.Name == "" {
		return p.Addr.String()
	}
	return fmt.Sprintf("%s (%s)", termsafe.Line(p.Name), termsafe.Line(p.Where()))
}

// ForgotText says what /forget did.
func ForgotText(p chat.PeerInfo, cancelled []chat.Cancelled) string {
	s := "forgot " + PeerName(p)
	if len(cancelled) > 0 {
		s += fmt.Sprintf(": %s to it cancelled", Count(len(cancelled), "message"))
	}
	return s
}

// Unanswered says, at the end of a run, that no one answered at addr, an
// address the user chose, and what becomes of what was sent to it: kept in
// the outbox (a --peer), or gone with this run (a /connect).
func Unanswered(addr netip.AddrPort, kept bool) string {
	s := fmt.Sprintf("no one answered at %s (is udpchat running there?)", addr)
	if kept {
		return s + "; 'udpchat history --cancel-peer " + addr.String() + "' gives up what waits for it"
	}
	return s + "; nothing is kept for it"
}

// RenameUsage is what /rename with no peer says.
const RenameUsage = "/rename needs a peer and a name, e.g. /rename 192.0.2.7:7475 carol (/rename carol alone: her own name again)"

// RenamedText says what /rename did to p.
func RenamedText(p chat.PeerInfo, given string) string {
	if given == "" {
		return fmt.Sprintf("%s goes by the name it announces again", PeerName(p))
	}
	return fmt.Sprintf("%s is %s here now", PeerName(p), termsafe.Line(given))
}
