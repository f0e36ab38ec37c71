package tui

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/udpchat/udpchat/internal/chat"
)

const (
	ourFP   = "BLAKE2s:AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"
	bobFP   = "BLAKE2s:IP35-TCWW-7QXK-M4ZD-2B6N-HJ3R-LV5S-QAEY"
	bobHalf = "BLAKE2s:IP35-TCWW…"
)

// fakeIdentities knows the keys in fps; everyone may use any name.
type fakeIdentities map[netip.AddrPort]string

func (f fakeIdentities) Fingerprint(peer netip.AddrPort) string { return f[peer] }
func (fakeIdentities) CheckName(netip.AddrPort, string) error   { return nil }

var encrypted = chat.Security{Encrypted: true, Fingerprint: ourFP}

// panelOf is the peers panel's part of screen: what is right of its
// border, a line each.
func panelOf(screen string) []string {
	var out []string
	for _, l := range lines(screen) {
		if _, right, ok := strings.Cut(l, "│"); ok {
			out = append(out, strings.TrimSpace(right))
		}
	}
	return out
}

func TestShortFingerprint(t *testing.T) {
	for in, want := range map[string]string{
		bobFP:                    bobHalf,
		"BLAKE2s:IP35-TCWW-7QXK": "BLAKE2s:IP35-TCWW…",
		"BLAKE2s:IP35-TCWW":      "BLAKE2s:IP35-TCWW", // nothing to cut
		"SHA256:abcdef0123":      "SHA256:abcdef0123",
		"AAAA-BBBB-CCCC":         "AAAA-BBBB…",
		"":                       "",
	} {
		if got := shortFingerprint(in); got != want {
			t.Errorf("shortFingerprint(%q) = %q, want %q", in, got, want)
		}
	}
}

// Each peer's key shows where the peer does: short in the joined notice
// and the panel, whole in /peers. A peer whose key is not known yet has
// none, and the panel says the link is encrypted all the same.
func TestPeersShowTheirFingerprints(t *testing.T) {
	node, link := fakeNode(t, chat.Config{Security: encrypted, PeerCheck: fakeIdentities{bob: bobFP}})
	hs := newHarness(t, node, 100, 30)
	join(t, link, bob, "bob")
	join(t, link, carol, "carol")
	hs.waitFor("* bob joined (10.0.0.2:7475, key "+bobHalf+")", "* carol joined (10.0.0.3:7475)", "Peers (2)")
	hs.settle(50 * time.Millisecond) // the peers refresh

	want := []string{"Peers (2)",
		"● bob", "10.0.0.2:7475", "online", "encrypted", bobHalf,
		"● carol", "10.0.0.3:7475", "online", "encrypted", ""}
	if got := panelOf(hs.screen())[:len(want)]; !equalLines(got, want) {
		t.Errorf("the panel shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := hs.screen(); strings.Contains(s, bobFP) || strings.Contains(s, "not encrypted") {
		t.Errorf("before /peers the screen shows the whole key or says not encrypted:\n%s", s)
	}

	hs.enter("/peers")
	hs.waitFor("bob 10.0.0.2:7475  online encrypted", "key "+bobFP, "carol 10.0.0.3:7475  online encrypted")
	if n := strings.Count(hs.screen(), "    key "); n != 1 {
		t.Errorf("/peers lists %d keys, want bob's alone:\n%s", n, hs.screen())
	}
}

func equalLines(got, want []string) bool {
	return strings.Join(got, "\n") == strings.Join(want, "\n")
}

// The panel and /peers say how what we say is protected, in words.
func TestPanelSaysHowPeersAreProtected(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		cfg        chat.Config
	}{
		{"encrypted", "encrypted", chat.Config{Security: encrypted}},
		{"unencrypted", "not encrypted", chat.Config{}},
		{"plain", "plain", chat.Config{Plain: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, link := fakeNode(t, tc.cfg)
			hs := newHarness(t, node, 100, 30)
			if tc.cfg.Plain {
				link.H.Receive(bob, []byte("bob:hi"))
			} else {
				join(t, link, bob, "bob")
			}
			hs.waitFor("bob joined", "Peers (1)")
			if got := panelOf(hs.screen())[4]; got != tc.want {
				t.Errorf("the panel's security line is %q, want %q:\n%s", got, tc.want, hs.screen())
			}
		})
	}
}

// The header shows our key whole when there is room, its first groups
// when there is less, and drops it before the rest when there is none;
// "encrypted" always stays.
func TestHeaderShortensOurFingerprint(t *testing.T) {
	node, link := fakeNode(t, chat.Config{Security: encrypted, PeerCheck: fakeIdentities{bob: bobFP}})
	hs := newHarness(t, node, 130, 30)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined", "1 peer online")
	for _, tc := range []struct {
		width int
		want  []string
		not   []string
	}{
		{130, []string{"alice", "10.0.0.1:7475", "encrypted", "key " + ourFP, "1 peer online"}, nil},
		{100, []string{"alice", "10.0.0.1:7475", "encrypted", "key BLAKE2s:AAAA-BBBB…", "1 peer online"}, []string{ourFP}},
		{72, []string{"alice", "10.0.0.1:7475", "encrypted", "key BLAKE2s:AAAA-BBBB…"}, []string{ourFP}},
		{60, []string{"alice", "10.0.0.1:7475", "encrypted"}, []string{"key", "BLAKE2s"}},
		{30, []string{"alice", "encrypted"}, []string{"key"}},
	} {
		hs.update(tea.WindowSizeMsg{Width: tc.width, Height: 30})
		header := lines(hs.screen())[0]
		if w := ansi.StringWidth(header); w != tc.width {
			t.Errorf("at %d columns the header is %d wide: %q", tc.width, w, header)
		}
		for _, s := range tc.want {
			if !strings.Contains(header, s) {
				t.Errorf("at %d columns the header %q lacks %q", tc.width, header, s)
			}
		}
		for _, s := range tc.not {
			if strings.Contains(header, s) {
				t.Errorf("at %d columns the header %q has %q", tc.width, header, s)
			}
		}
	}
}

// A panel too short for everyone says how many more there are, and /peers
// lists them all.
func TestPanelSaysHowManyMore(t *testing.T) {
	ids := fakeIdentities{}
	node, link := fakeNode(t, chat.Config{Security: encrypted, PeerCheck: ids})
	var peers []netip.AddrPort
	for i := range 5 {
		p := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)}), 7475)
		ids[p] = fmt.Sprintf("BLAKE2s:P%03d-TCWW-7QXK-M4ZD-2B6N-HJ3R-LV5S-QAEY", i)
		peers = append(peers, p)
	}
	// 14 lines: 11 for the body, room for the title, one peer and the
	// line about the rest, not for a second peer.
	hs := newHarness(t, node, 100, 14)
	for i, p := range peers {
		join(t, link, p, fmt.Sprintf("peer%d", i))
	}
	hs.waitFor("Peers (5)", "+4 more: /peers")
	panel := panelOf(hs.screen())
	if len(panel) != 11 || panel[1] != "● peer0" || panel[5] != "BLAKE2s:P000-TCWW…" || panel[6] != "+4 more: /peers" {
		t.Errorf("the panel shows\n%s", strings.Join(panel, "\n"))
	}
	// Tall enough for all five: no line about more.
	hs.update(tea.WindowSizeMsg{Width: 100, Height: 2 + 1 + 1 + 5*5})
	hs.waitFor("● peer4", "BLAKE2s:P004-TCWW…")
	if strings.Contains(hs.screen(), "more: /peers") {
		t.Errorf("all five fit, yet:\n%s", hs.screen())
	}
}
