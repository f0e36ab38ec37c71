package main

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

// TestPeerUsageErrors: a --peer that cannot be one other udpchat (a
// multicast or broadcast address, ourselves) or, for history, is neither
// an address nor a display name is a usage error: exit 2, one line, before
// any port is bound. (The general table is TestUsageErrors.) A display
// name that history finds no peer by is not a usage error but a failure:
// exit 1.
func TestPeerUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // a regexp the one line of stderr must match
	}{
		{[]string{"history", "--peer", "::1"}, `--peer "::1": not HOST:PORT \(e\.g\. 127\.0\.0\.1:9002\), nor a display name, which has no colon \(see 'udpchat history --help'\)$`},
		{[]string{"history", "--pending", "--peer", "[::1]"}, `--peer "\[::1\]": not HOST:PORT`},
		{[]string{"history", "--peer", "bob\x1b[2J"}, `--peer "bob\\x1b\[2J": neither HOST:PORT nor a display name: name .* contains a control character`},
		{[]string{"history", "--peer", "127.0.0.1:x"}, `peer 127\.0\.0\.1:x: bad address: port "x"`},
		{[]string{"-l", "127.0.0.1:47850", "-p", "127.0.0.1:47850"}, `peer 127\.0\.0\.1:47850 is this udpchat itself \(--listen 127\.0\.0\.1:47850\); give the address of another one, or --listen on another port \(see 'udpchat --help'\)$`},
		{[]string{"-l", "0.0.0.0:47850", "-p", "127.0.0.1:47850"}, `peer 127\.0\.0\.1:47850 is this udpchat itself \(--listen 0\.0\.0\.0:47850\)`},
		{[]string{"-l", ":47850", "-p", "[::1]:47850"}, `peer \[::1\]:47850 is this udpchat itself`},
		{[]string{"send", "-l", "0.0.0.0:47850", "-p", "localhost:47850", "hi"}, `peer localhost:47850 is this udpchat itself .*\(see 'udpchat send --help'\)$`},
		{[]string{"-p", "224.0.0.1:9"}, `peer 224\.0\.0\.1:9: 224\.0\.0\.1 is a multicast address, not a peer; give the address of the one peer to talk to`},
		{[]string{"-p", "[ff02::1]:9"}, `ff02::1 is a multicast address, not a peer`},
		{[]string{"send", "-p", "224.0.0.1:9", "hi"}, `224\.0\.0\.1 is a multicast address.*\(see 'udpchat send --help'\)$`},
		{[]string{"-p", "255.255.255.255:9"}, `peer 255\.255\.255\.255:9: 255\.255\.255\.255 is a broadcast address, not a peer`},
		{[]string{"-p", "0.0.0.0:9"}, `peer 0\.0\.0\.0:9: bad address: 0\.0\.0\.0 means "any address", not a peer`},
		// A socket sends to one family, or (on [::], the default) to both.
		{[]string{"-l", "127.0.0.1:0", "-p", "[::1]:9"}, `^udpchat: peer \[::1\]:9 is an IPv6 address, and --listen 127\.0\.0\.1:0 reaches IPv4 only; listen on \[::\]:PORT for both, or on an IPv6 address \(see 'udpchat --help'\)$`},
		{[]string{"-l", "[::1]:0", "-p", "127.0.0.1:9"}, `peer 127\.0\.0\.1:9 is an IPv4 address, and --listen \[::1\]:0 reaches IPv6 only`},
		{[]string{"send", "-l", "0.0.0.0:0", "-p", "[::1]:9", "hi"}, `peer \[::1\]:9 is an IPv6 address, and --listen 0\.0\.0\.0:0 reaches IPv4 only.*\(see 'udpchat send --help'\)$`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			wantUsageError(t, tc.args, tc.want)
		})
	}
	dir := historyDir(t)
	for _, args := range [][]string{
		{"history", "--data-dir", dir, "--peer", "notanaddr"},
		{"history", "--data-dir", dir, "--pending", "--peer", "bob"},
	} {
		wantFailure(t, args, 1, noPeerNamed(args[len(args)-1]))
	}
}

// TestCheckPeer covers what depends on this machine's networks, with
// networks of its own: directed broadcasts, and our own addresses when
// listening on every interface.
func TestCheckPeer(t *testing.T) {
	local := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/8"),
		netip.MustParsePrefix("192.0.2.2/24"),
		netip.MustParsePrefix("198.51.100.7/32"),
		netip.MustParsePrefix("2001:db8::2/64"),
	}
	for _, tc := range []struct {
		peer, listen string
		want         string // a substring of the error; "" for none
	}{
		{"192.0.2.255:9", "0.0.0.0:7475", "broadcast address"},
		{"192.0.2.254:9", "0.0.0.0:7475", ""},
		{"198.51.100.7:9", "0.0.0.0:7475", ""}, // a /32 has no broadcast address
		{"10.0.0.255:9", "0.0.0.0:7475", ""},   // not one of our networks
		{"192.0.2.2:7475", "0.0.0.0:7475", "this udpchat itself"},
		{"192.0.2.2:7475", "[::]:7475", "this udpchat itself"}, // dual stack
		{"[2001:db8::2]:7475", ":7475", "this udpchat itself"},
		{"[2001:db8::2]:7475", "0.0.0.0:7475", "reaches IPv4 only"}, // an IPv4 socket
		{"192.0.2.3:7475", "[2001:db8::2]:7475", "reaches IPv6 only"},
		{"192.0.2.2:7475", "127.0.0.1:7475", ""}, // bound to another address
		{"127.0.0.2:7475", "0.0.0.0:7475", "this udpchat itself"},
		{"127.0.0.2:7475", "127.0.0.1:7475", ""},
		{"192.0.2.2:7475", "0.0.0.0:7476", ""},
		{"192.0.2.2:7475", "[::ffff:192.0.2.2]:7475", "this udpchat itself"},
		{"192.0.2.3:7475", "0.0.0.0:0", ""},
		{"192.0.2.3:7475", "not an address", ""}, // Listen reports that
	} {
		p := netip.MustParseAddrPort(tc.peer)
		listen, _ := listenAddr(tc.listen) // as resolvePeers reads --listen
		err := checkPeer(tc.peer, p, listen, local)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("checkPeer(%s, --listen %s): %v, want nil", tc.peer, tc.listen, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("checkPeer(%s, --listen %s): %v, want an error saying %q", tc.peer, tc.listen, err, tc.want)
		}
	}
}

// TestConnectRefusesWhatPeerRefuses: /connect in a running chat refuses a
// multicast address and this udpchat itself as --peer does, says why, and
// the chat goes on.
func TestConnectRefusesWhatPeerRefuses(t *testing.T) {
	p := udpchat(t, "-l", "127.0.0.1:0", "-n", "alice")
	self := p.listening(t)
	p.say(t, "/connect 224.0.0.1:9")
	p.stderr.waitLine(t, `^udpchat: peer 224\.0\.0\.1:9: 224\.0\.0\.1 is a multicast address, not a peer`)
	p.say(t, "/connect "+self)
	p.stderr.waitLine(t, `^udpchat: peer `+regexp.QuoteMeta(self)+` is this udpchat itself`)
	p.say(t, "/quit")
	p.wantExit(t, 0)
	if peers := p.stderr.String(); strings.Contains(peers, "joined") {
		t.Errorf("a refused /connect joined someone:\n%s", peers)
	}
}
