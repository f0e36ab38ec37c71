package tui

import (
	"fmt"
	"net/netip"
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
// sections, the peers being the first, so that another (peers found
// nearby, on the LAN) can go under it as a field and a section of View.
type peersPanel struct {
	plain     bool // the node's link is plain: nothing is protected
	encrypted bool // the node's link encrypts what we say

	peers        []chat.PeerInfo
	rtts         map[netip.AddrPort]time.Duration
	refreshing   bool // a refresh Cmd is out
	refreshAgain bool // and another is due when it is back
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
	again, p.refreshAgain = p.refreshAgain, false
	return again
}

// width is how wide the panel is on a terminal termWidth wide: 0 (no
// panel) while there are no peers or the terminal is narrow.
func (p *peersPanel) width(termWidth int) int {
	if termWidth < narrowPanel || len(p.peers) == 0 {
		return 0
	}
	return min(max(termWidth/4, 24), 32)
}

// View draws the panel in w columns and h lines.
func (p *peersPanel) View(st styles, w, h int) string {
	inner := w - 2 // the border and the padding
	lines := []string{st.panelTitle.Render(fmt.Sprintf("Peers (%d)", len(p.peers)))}
	for i, peer := range p.peers {
		block := p.peerLines(st, peer)
		room := h - len(lines)
		if i < len(p.peers)-1 {
			room-- // for the line that says how many more there are
		}
		if len(block) > room {
			lines = append(lines, st.dim.Render(fmt.Sprintf("+%d more: /peers", len(p.peers)-i)))
			break
		}
		lines = append(lines, block...)
	}
	for i, l := range lines {
		lines[i] = truncate(l, inner)
	}
	return st.panel.Height(h).MaxHeight(h).Width(w).Render(strings.Join(lines, "\n"))
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
		"  " + st.dim.Render(peer.Addr.String()),
		"  " + stateStyle.Render(peer.State.String()) + p.rttText(st, peer),
		"  " + p.securityText(st),
	}
	if peer.Fingerprint != "" {
		ls = append(ls, "  "+st.dim.Render(shortFingerprint(termsafe.Line(peer.Fingerprint))))
	}
	return ls
}

// listText is /peers: every peer, with its key whole.
func (p *peersPanel) listText(st styles) string {
	if len(p.peers) == 0 {
		return "No peers yet: /connect HOST:PORT, or wait until someone contacts you."
	}
	var b strings.Builder
	b.WriteString(st.panelTitle.Render(fmt.Sprintf("Peers (%d)", len(p.peers))))
	for _, peer := range p.peers {
		_, stateStyle := stateLook(st, peer.State)
		name := peer.Name
		if name == "" {
			name = "(no name yet)"
		}
		fmt.Fprintf(&b, "\n  %s %s  %s%s %s", st.peerStyle(peer.Addr.String()).Render(termsafe.Line(name)),
			st.dim.Render(peer.Addr.String()), stateStyle.Render(peer.State.String()), p.rttText(st, peer), p.securityText(st))
		if peer.Fingerprint != "" {
			fmt.Fprintf(&b, "\n    key %s", termsafe.Line(peer.Fingerprint))
		}
	}
	return b.String()
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

// names are the names /msg accepts: each peer's name, or its address
// while it has none.
func (p *peersPanel) names() []string {
	var names []string
	for _, peer := range p.peers {
		if peer.Name != "" {
			names = append(names, peer.Name)
		} else {
			names = append(names, peer.Addr.String())
		}
	}
	return names
}
