package tui

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// narrowPanel is the narrowest terminal that gets the peers panel.
const narrowPanel = 72

// peersPanel is the column right of the transcript that says who is here:
// for each peer its name, address, state with RTT, how what we say to it
// is protected, and its key. It holds the UI's picture of the peers, which
// the model refreshes from the node (one fetch at a time: see
// startRefresh) when events say they changed, and every refreshEvery for
// the RTTs; the header, the welcome and the commands that name a peer
// (/msg, /forget, Tab) read it from here. The panel is a column of
// sections: the peers, then the people nearby on the LAN who are not
// peers (yet: /msg or /connect makes them so).
type peersPanel struct {
	plain     bool // the node's link is plain: nothing is protected
	encrypted bool // the node's link encrypts what we say

	peers        []chat.PeerInfo
	nearby       []chat.Nearby // those of the node's who are not peers
	rtts         map[netip.AddrPort]time.Duration
	refreshing   bool // a refresh Cmd is out
	refreshAgain bool // and another is due when it is back

	// convs are the conversations (rooms.go), shown when there is more
	// than the direct chat.
	convs []convItem
	// missing are the members of the room shown who do not have our
	// newest message there yet (/info says it too).
	missing []string
}

// convItem is a conversation as the panel lists it.
type convItem struct {
	label            string
	unread           int
	mention, current bool
}

func newPeersPanel(plain bool, sec chat.Security) peersPanel {
	return peersPanel{plain: plain, encrypted: sec.Encrypted, rtts: make(map[netip.AddrPort]time.Duration)}
}

// startRefresh says whether to fetch the peers now: not while a fetch is
// out, after which it says another is due.
func (p *peersPanel) startRefresh() bool {
	if p.refreshing {
		p.refreshAgain = true
		return false
	}
	p.refreshing = true
	return true
}

// Update takes a fresh look at the peers, and says whether to fetch again
// at once: something changed while this fetch was out.
func (p *peersPanel) Update(msg peersMsg) (again bool) {
	p.refreshing = false
	p.peers, p.rtts = msg.peers, msg.rtts
	p.nearby = notPeers(msg.nearby, msg.peers)
	again, p.refreshAgain = p.refreshAgain, false
	return again
}

// notPeers are the people of nearby who are not among peers, by key or by
// address.
func notPeers(nearby []chat.Nearby, peers []chat.PeerInfo) []chat.Nearby {
	var out []chat.Nearby
	for _, n := range nearby {
		if !slices.ContainsFunc(peers, func(p chat.PeerInfo) bool {
			return p.Addr == n.Addr || p.Fingerprint != "" && p.Fingerprint == n.Fingerprint
		}) {
			out = append(out, n)
		}
	}
	return out
}

// width is how wide the panel is on a terminal termWidth wide: 0 (no
// panel) while there is no one to show or the terminal is narrow.
func (p *peersPanel) width(termWidth int) int {
	if termWidth < narrowPanel || len(p.peers)+len(p.nearby) == 0 && len(p.convs) < 2 {
		return 0
	}
	return min(max(termWidth/4, 24), 32)
}

// View draws the panel in w columns and h lines: the peers, then the
// people nearby, each section as much as fits.
func (p *peersPanel) View(st styles, w, h int) string {
	inner := w - 2 // the border and the padding
	var lines []string
	if len(p.convs) > 1 {
		blocks := make([][]string, len(p.convs))
		for i, c := range p.convs {
			blocks[i] = []string{convLine(st, i, c)}
		}
		lines = appendSection(st, lines, "Conversations", blocks, h)
		lines = append(lines, "")
	}
	if len(p.missing) > 0 {
		blocks := make([][]string, len(p.missing))
		for i, name := range p.missing {
			blocks[i] = []string{"  " + st.dim.Render(termsafe.Line(name))}
		}
		lines = appendSection(st, lines, "Missing your last line", blocks, h)
		lines = append(lines, "")
	}
	if len(p.peers) > 0 || len(p.nearby) == 0 {
		blocks := make([][]string, len(p.peers))
		for i, peer := range p.peers {
			blocks[i] = p.peerLines(st, peer)
		}
		lines = appendSection(st, lines, fmt.Sprintf("Peers (%d)", len(p.peers)), blocks, h)
	}
	if len(p.nearby) > 0 {
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		blocks := make([][]string, len(p.nearby))
		for i, n := range p.nearby {
			blocks[i] = nearbyLines(st, n)
		}
		lines = appendSection(st, lines, fmt.Sprintf("Nearby (%d)", len(p.nearby)), blocks, h)
	}
	for i, l := range lines {
		lines[i] = truncate(l, inner)
	}
	return st.panel.Height(h).MaxHeight(h).Width(w).Render(strings.Join(lines, "\n"))
}

// convLine is a conversation's line: its number (Alt+N), a mark if shown,
// its name, how many messages came unseen, and @ if one names us.
func convLine(st styles, i int, c convItem) string {
	mark := " "
	if c.current {
		mark = "▸"
	}
	line := fmt.Sprintf("%s%d %s", mark, i+1, c.label)
	if c.current {
		line = st.own.Render(line)
	}
	if c.unread > 0 {
		line += " " + st.newBelow.Render(fmt.Sprintf("(%d)", c.unread))
	}
	if c.mention {
		line += " " + st.warning.Render("@")
	}
	return line
}

// appendSection adds a section to lines: its title and as many of its
// blocks as fit in h lines, and then how many more there are.
func appendSection(st styles, lines []string, title string, blocks [][]string, h int) []string {
	if len(lines) >= h {
		return lines
	}
	lines = append(lines, st.panelTitle.Render(title))
	for i, block := range blocks {
		room := h - len(lines)
		if i < len(blocks)-1 {
			room-- // for the line that says how many more there are
		}
		if len(block) > room {
			if room >= 0 {
				lines = append(lines, st.dim.Render(fmt.Sprintf("+%d more: /peers", len(blocks)-i)))
			}
			break
		}
		lines = append(lines, block...)
	}
	return lines
}

// nearbyLines are someone nearby's lines in the panel: who, where, and
// how to write to them.
func nearbyLines(st styles, n chat.Nearby) []string {
	name := termsafe.Line(n.Name)
	return []string{
		st.dim.Render("◦") + " " + st.peerStyle(n.Addr.String()).Render(name),
		"  " + st.dim.Render(n.Addr.String()),
		"  " + st.dim.Render(shortFingerprint(termsafe.Line(n.Fingerprint))),
	}
}

// peerLines are peer's lines in the panel; its key's fingerprint is short
// (/peers shows it whole).
func (p *peersPanel) peerLines(st styles, peer chat.PeerInfo) []string {
	dot, stateStyle := stateLook(st, peer.State)
	name := peer.Name
	if name == "" {
		name = peer.Addr.String()
	}
	ls := []string{
		stateStyle.Render(dot) + " " + st.peerStyle(peer.Addr.String()).Render(termsafe.Line(name)),
		"  " + st.dim.Render(termsafe.Line(peer.Where())),
		"  " + stateStyle.Render(peer.State.String()) + p.rttText(st, peer),
		"  " + p.securityText(st),
	}
	if peer.Fingerprint != "" {
		ls = append(ls, "  "+st.dim.Render(shortFingerprint(termsafe.Line(peer.Fingerprint))))
	}
	return ls
}

// listText is /peers: every peer, with its key whole, and who is nearby.
func (p *peersPanel) listText(st styles) string {
	var b strings.Builder
	if len(p.peers) == 0 {
		b.WriteString("No peers yet: /connect HOST:PORT, or wait until someone contacts you.")
	} else {
		p.writePeers(st, &b)
	}
	if len(p.nearby) > 0 {
		fmt.Fprintf(&b, "\n%s", st.panelTitle.Render(fmt.Sprintf("Nearby (%d): /msg NAME TEXT or /connect NAME", len(p.nearby))))
		for _, n := range p.nearby {
			fmt.Fprintf(&b, "\n  %s %s\n    key %s", st.peerStyle(n.Addr.String()).Render(termsafe.Line(n.Name)),
				st.dim.Render(n.Addr.String()), termsafe.Line(n.Fingerprint))
		}
	}
	return b.String()
}

// writePeers writes /peers' list of the peers.
func (p *peersPanel) writePeers(st styles, b *strings.Builder) {
	b.WriteString(st.panelTitle.Render(fmt.Sprintf("Peers (%d)", len(p.peers))))
	for _, peer := range p.peers {
		_, stateStyle := stateLook(st, peer.State)
		name := peer.Name
		switch {
		case name == "":
			name = "(no name yet)"
		case peer.Announced != "":
			name += " (calls themselves " + peer.Announced + ")"
		}
		fmt.Fprintf(b, "\n  %s %s  %s%s %s", st.peerStyle(peer.Addr.String()).Render(termsafe.Line(name)),
			st.dim.Render(termsafe.Line(peer.Where())), stateStyle.Render(peer.State.String()), p.rttText(st, peer), p.securityText(st))
		if peer.Fingerprint != "" {
			fmt.Fprintf(b, "\n    key %s", termsafe.Line(peer.Fingerprint))
		}
	}
}

func stateLook(st styles, s chat.PeerState) (string, lipgloss.Style) {
	switch s {
	case chat.PeerOnline:
		return "●", st.online
	case chat.PeerConnecting:
		return "◌", st.connecting
	case chat.PeerUnreachable:
		return "○", st.away
	case chat.PeerPlain:
		return "◇", st.warning
	}
	return "·", st.left
}

// rttText is an online peer's round-trip time; the last one measured of a
// peer that left or stopped answering would be stale.
func (p *peersPanel) rttText(st styles, peer chat.PeerInfo) string {
	if rtt, ok := p.rtts[peer.Addr]; ok && rtt > 0 && peer.State == chat.PeerOnline {
		return st.dim.Render(" " + duration(rtt))
	}
	return ""
}

// securityText is how what we say to a peer is protected.
func (p *peersPanel) securityText(st styles) string {
	switch {
	case p.plain:
		return st.warning.Render("plain")
	case p.encrypted:
		return st.encrypted.Render("encrypted")
	}
	return st.away.Render("not encrypted")
}

// noneCalled says whether who is a name (not an address) that no peer
// has, in any case.
func (p *peersPanel) noneCalled(who string) bool {
	if _, err := netip.ParseAddrPort(who); err == nil {
		return false
	}
	return !slices.ContainsFunc(p.peers, func(peer chat.PeerInfo) bool { return strings.EqualFold(peer.Name, who) })
}

// newPeer says whether sent went to someone not among the peers.
func (p *peersPanel) newPeer(sent []chat.Sent) bool {
	return slices.ContainsFunc(sent, func(s chat.Sent) bool {
		return !slices.ContainsFunc(p.peers, func(peer chat.PeerInfo) bool { return peer.Addr == s.To })
	})
}

// online counts the peers online.
func (p *peersPanel) online() int {
	n := 0
	for _, peer := range p.peers {
		if peer.State == chat.PeerOnline {
			n++
		}
	}
	return n
}

// connecting are the addresses of the peers that have yet to answer.
func (p *peersPanel) connecting() []string {
	var addrs []string
	for _, peer := range p.peers {
		if peer.State == chat.PeerConnecting {
			addrs = append(addrs, peer.Addr.String())
		}
	}
	return addrs
}

// names are the names /msg and /connect accept: each peer's name, or its
// address while it has none, and the names of those nearby.
func (p *peersPanel) names() []string {
	var names []string
	for _, peer := range p.peers {
		if peer.Name != "" {
			names = append(names, peer.Name)
		} else {
			names = append(names, peer.Addr.String())
		}
	}
	for _, n := range p.nearby {
		if !slices.Contains(names, n.Name) {
			names = append(names, n.Name)
		}
	}
	return names
}
