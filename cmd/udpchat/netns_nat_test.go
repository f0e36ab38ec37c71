//go:build linux

package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The NAT lab: an "internet" (a bridge in a namespace of its own, on
// 203.0.113.0/24, TEST-NET-3) with the relay on it at .10, and homes: each
// a router namespace with wan0 on the internet (203.0.113.N) and a bridge
// lan0 (192.168.N.1/24) its hosts hang off, and a NAT of one kind in nft.
// Nothing is added to the host's own network.

const (
	labRelayIP = "203.0.113.10"
	labMetrics = labRelayIP + ":9476"
	// natMessages are sent each way once the path is chosen.
	natMessages = 20
	// natProbes is how many datagrams must have crossed the internet
	// between the routers before a case may conclude that no direct path
	// opens: a few probes each way.
	natProbes = 8
)

// natRecipes are the NATs, as nft scripts; HOST is the home's
// first host, the one a full cone forwards to.
var natRecipes = map[string]string{
	// Full cone: masquerade, and every inbound UDP port forwarded to the
	// host.
	"full-cone": `
table ip nat {
	chain post { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
	chain pre { type nat hook prerouting priority dstnat; iifname "wan0" meta l4proto udp dnat to HOST; }
}`,
	// Port-restricted cone: masquerade (which keeps the source port, so
	// the mapping is the same for every destination), forward only what
	// answers a flow from inside, and drop unsolicited packets to the
	// router itself before conntrack confirms them: a peer's early probe
	// must not take the port the host's own mapping will want.
	"port-restricted": `
table ip nat {
	chain post { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
}
table inet guard {
	chain passing { type filter hook forward priority 0; policy drop; ct state established,related accept; iifname "lan0" accept; }
	chain toself { type filter hook input priority 0; iifname "wan0" ct state new drop; }
}`,
	// Symmetric: a random port for every flow.
	"symmetric": `
table ip nat {
	chain post { type nat hook postrouting priority srcnat; oifname "wan0" masquerade fully-random; }
}
table inet guard {
	chain passing { type filter hook forward priority 0; policy drop; ct state established,related accept; iifname "lan0" accept; }
	chain toself { type filter hook input priority 0; iifname "wan0" ct state new drop; }
}`,
}

// natLab is the internet and its relay.
type natLab struct {
	inet     string
	relayKey string
	homes    int
}

// natHome is a router and its hosts' namespaces.
type natHome struct {
	router string
	hosts  []string
	addrs  []string // the hosts' addresses
	wan    string   // the router's public address
}

func newNATLab(ctx context.Context, t *testing.T) *natLab {
	t.Helper()
	lab := newInternet(ctx, t)
	dir := privateDir(t)
	id := udpchat(t, "relay", "id", "--data-dir", dir)
	id.wantExit(t, 0)
	lab.relayKey = strings.SplitN(id.stdout.String(), "\n", 2)[0]
	srv := start(t, "ip", "netns", "exec", lab.inet, udpchatBinary, "relay", "--listen", labRelayIP+":7477",
		"--data-dir", dir, "--metrics", labMetrics)
	srv.stderr.waitLine(t, `"msg":"metrics listening"`)
	return lab
}

// newInternet makes the lab's internet, with no relay on it yet.
func newInternet(ctx context.Context, t *testing.T) *natLab {
	t.Helper()
	removeStaleLabs(ctx, t)
	lab := &natLab{inet: fmt.Sprintf("%snet-%d", labNamePrefix, os.Getpid())}
	addNamespace(ctx, t, lab.inet)
	labRun(ctx, t, "ip", "-n", lab.inet, "link", "add", "br0", "type", "bridge", "stp_state", "0")
	labRun(ctx, t, "ip", "-n", lab.inet, "addr", "add", labRelayIP+"/24", "dev", "br0")
	labRun(ctx, t, "ip", "-n", lab.inet, "link", "set", "br0", "up")
	labRun(ctx, t, "ip", "-n", lab.inet, "link", "set", "lo", "up")
	loadNFT(ctx, t, lab.inet, `
table bridge internet {
	counter between {}
	chain forward { type filter hook forward priority 0; meta l4proto udp counter name between; }
}`)
	return lab
}

// relayFlag is --relay for the lab's relay, its key pinned.
func (lab *natLab) relayFlag() string { return lab.relayKey + "@" + labRelayIP + ":7477" }

// between is how many UDP datagrams the internet has carried between the
// routers (the relay is the bridge's own address: what goes to it is not
// forwarded).
func (lab *natLab) between(ctx context.Context, t *testing.T) int {
	t.Helper()
	return nftCounter(ctx, t, lab.inet, "bridge", "internet", "between")
}

// waitBetween waits until the internet has carried n more datagrams
// between the routers. It polls the counter: nft has no way to
// wait on one.
func (lab *natLab) waitBetween(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	const (
		interval = 50 * time.Millisecond
		attempts = 400 // 20 s
	)
	start := lab.between(ctx, t)
	for range attempts {
		if lab.between(ctx, t)-start >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d datagrams between the routers: %v", n, ctx.Err())
		case <-time.After(interval):
		}
	}
	t.Fatalf("fewer than %d datagrams between the routers in %v", n, interval*attempts)
}

// relayed is how many datagrams the relay has forwarded by key.
func (lab *natLab) relayed(ctx context.Context, t *testing.T) int {
	t.Helper()
	out := labRun(ctx, t, "ip", "netns", "exec", lab.inet, "curl", "-sf", "http://"+labMetrics+"/metrics")
	m := regexp.MustCompile(`(?m)^udpchat_relay_relayed_datagrams_total (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no relayed count in the relay's metrics:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// addHome makes a home behind a NAT of the kind named (natRecipes) with
// n hosts.
func (lab *natLab) addHome(ctx context.Context, t *testing.T, nat string, n int) *natHome {
	t.Helper()
	lab.homes++
	i, pid := lab.homes, os.Getpid()
	h := &natHome{router: fmt.Sprintf("%sr%d-%d", labNamePrefix, i, pid), wan: fmt.Sprintf("203.0.113.%d", i)}
	addNamespace(ctx, t, h.router)
	lab.plug(ctx, t, h.router, fmt.Sprintf("w%d", i), h.wan)
	labRun(ctx, t, "ip", "-n", h.router, "link", "add", "lan0", "type", "bridge", "stp_state", "0")
	labRun(ctx, t, "ip", "-n", h.router, "addr", "add", fmt.Sprintf("192.168.%d.1/24", i), "dev", "lan0")
	for _, dev := range []string{"lo", "lan0"} {
		labRun(ctx, t, "ip", "-n", h.router, "link", "set", dev, "up")
	}
	labRun(ctx, t, "ip", "netns", "exec", h.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for j := range n {
		host := fmt.Sprintf("%sh%d%d-%d", labNamePrefix, i, j, pid)
		addr := fmt.Sprintf("192.168.%d.%d", i, j+2)
		addNamespace(ctx, t, host)
		hp := fmt.Sprintf("h%d", j)
		labRun(ctx, t, "ip", "link", "add", hp, "netns", h.router, "type", "veth", "peer", "name", "eth0", "netns", host)
		labRun(ctx, t, "ip", "-n", h.router, "link", "set", hp, "master", "lan0", "up")
		labRun(ctx, t, "ip", "-n", host, "addr", "add", addr+"/24", "dev", "eth0")
		labRun(ctx, t, "ip", "-n", host, "link", "set", "lo", "up")
		labRun(ctx, t, "ip", "-n", host, "link", "set", "eth0", "up")
		labRun(ctx, t, "ip", "-n", host, "route", "add", "default", "via", fmt.Sprintf("192.168.%d.1", i))
		h.hosts, h.addrs = append(h.hosts, host), append(h.addrs, addr)
	}
	loadNFT(ctx, t, h.router, strings.ReplaceAll(natRecipes[nat], "HOST", h.addrs[0]))
	for _, host := range h.hosts {
		waitLinkReady(ctx, t, host, "eth0")
	}
	waitLinkReady(ctx, t, h.router, "wan0")
	return h
}

// plug connects namespace ns to the internet: its wan0 at addr, the
// bridge's end named port.
func (lab *natLab) plug(ctx context.Context, t *testing.T, ns, port, addr string) {
	t.Helper()
	labRun(ctx, t, "ip", "link", "add", port, "netns", lab.inet, "type", "veth", "peer", "name", "wan0", "netns", ns)
	labRun(ctx, t, "ip", "-n", lab.inet, "link", "set", port, "master", "br0", "up")
	labRun(ctx, t, "ip", "-n", ns, "addr", "add", addr+"/24", "dev", "wan0")
	labRun(ctx, t, "ip", "-n", ns, "link", "set", "wan0", "up")
}

// loadNFT loads an nft script into namespace ns.
func loadNFT(ctx context.Context, t *testing.T, ns, script string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "rules.nft")
	if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	labRun(ctx, t, "ip", "netns", "exec", ns, "nft", "-f", f)
}

// chatIn starts udpchat --line --json in namespace ns on the data dir dir,
// with the lab's relay.
func (lab *natLab) chatIn(t *testing.T, ns, dir, name string, args ...string) *proc {
	t.Helper()
	return chatInNS(t, ns, dir, name, lab.relayFlag(), args...)
}

// chatInNS starts udpchat --line --json in namespace ns on the data dir
// dir, with --relay relays.
func chatInNS(t *testing.T, ns, dir, name, relays string, args ...string) *proc {
	t.Helper()
	cmd := append([]string{"netns", "exec", ns, udpchatBinary, "--line", "--json", "--no-discovery", "-n", name,
		"--data-dir", dir, "-l", "0.0.0.0:7475", "--relay", relays, "--timeout", "20s"}, args...)
	return start(t, "ip", cmd...)
}

// pair starts alice and bob, who know each other's keys, in the host
// namespaces named: bob first, and alice with --peer bob.
func (lab *natLab) pair(t *testing.T, aliceNS, bobNS string) (alice, bob *proc) {
	t.Helper()
	aliceDir, bobDir := privateDir(t), privateDir(t)
	meetDirectly(t, aliceDir, bobDir)
	bob = lab.chatIn(t, bobNS, bobDir, "bob")
	bob.listening(t)
	alice = lab.chatIn(t, aliceNS, aliceDir, "alice", "-p", "bob")
	alice.listening(t)
	return alice, bob
}

// natCase is one case of TestNATLab: where alice and bob live, and the
// path they must end on.
type natCase struct {
	alice, bob string // NATs (natRecipes); bob "" for behind alice's
	path       string // "direct", "direct (LAN)" or "relayed"
}

func (c natCase) name() string {
	if c.bob == "" {
		return "hairpin " + c.alice
	}
	return c.alice + " to " + c.bob
}

// natHomes is one topology for every case of TestNATLab, so the lab is
// built once: two homes of each kind the cases name. Alice lives in the
// first home of her kind, bob in the second of his, or in alice's (the
// first home then has a second host).
type natHomes map[string]*[2]*natHome

func newNATHomes(ctx context.Context, t *testing.T, lab *natLab, cases []natCase) natHomes {
	t.Helper()
	hosts := map[string][2]int{} // by kind: the hosts each of its homes needs
	for _, c := range cases {
		a := hosts[c.alice]
		a[0] = max(a[0], 1+boolInt(c.bob == ""))
		hosts[c.alice] = a
		if c.bob != "" {
			b := hosts[c.bob]
			b[1] = 1
			hosts[c.bob] = b
		}
	}
	homes := natHomes{}
	for _, kind := range slices.Sorted(maps.Keys(hosts)) {
		homes[kind] = &[2]*natHome{}
		for i, n := range hosts[kind] {
			if n > 0 {
				homes[kind][i] = lab.addHome(ctx, t, kind, n)
			}
		}
	}
	return homes
}

// hosts are the namespaces of alice and bob in case c.
func (h natHomes) hosts(c natCase) (alice, bob string) {
	home := h[c.alice][0]
	if c.bob == "" {
		return home.hosts[0], home.hosts[1]
	}
	return home.hosts[0], h[c.bob][1].hosts[0]
}

// TestNATLab: alice and bob, who know each other's keys, each behind a NAT,
// chat through udpchat processes by name with the relay's help, for every
// pair of NAT kinds, each way round where they differ. Wherever a full cone
// or only cones are involved the path goes direct: the internet carries
// the messages between the routers and the relay forwards nothing after the
// switch. A symmetric NAT facing anything but a full cone stays relayed;
// behind one NAT the two find each other on their LAN and neither the
// internet nor the relay carries them. Nothing is lost in any case.
func TestNATLab(t *testing.T) {
	requireRootNetns(t, "ip", "nft", "curl")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cases := []natCase{
		{"full-cone", "full-cone", "direct"},
		{"port-restricted", "port-restricted", "direct"},
		{"symmetric", "symmetric", "relayed"},
		{"full-cone", "port-restricted", "direct"},
		{"port-restricted", "full-cone", "direct"},
		{"full-cone", "symmetric", "direct"},
		{"symmetric", "full-cone", "direct"},
		// The symmetric NAT sends the probes to the cone from a new random
		// port, which the cone lets in only if its host sent there first;
		// the cone's host knows only the port the relay saw. Guessing
		// (birthday probing) would take hundreds of sockets on the
		// symmetric side: relayed, and never went direct in 10 runs.
		{"port-restricted", "symmetric", "relayed"},
		{"symmetric", "port-restricted", "relayed"},
		{"port-restricted", "", "direct (LAN)"},
	}
	lab := newNATLab(ctx, t)
	homes := newNATHomes(ctx, t, lab, cases)
	for _, tc := range cases {
		t.Run(tc.name(), func(t *testing.T) {
			aliceNS, bobNS := homes.hosts(tc)
			alice, bob := lab.pair(t, aliceNS, bobNS)
			alice.say(t, "hello through the relay")
			bob.stdout.waitFor(t, "alice's first message", func() bool { return len(jsonEvents(t, bob.stdout, "message")) == 1 })
			bob.say(t, "hello back")
			alice.stdout.waitFor(t, "bob's first message", func() bool { return len(jsonEvents(t, alice.stdout, "message")) == 1 })
			if tc.path == "relayed" {
				// Each side probes the one address it has for the other, so
				// the first probes decide: once a few crossed the internet,
				// a path that could open would have.
				lab.waitBetween(ctx, t, natProbes)
			} else {
				movedTo(t, alice, tc.path, 1)
				movedTo(t, bob, tc.path, 1)
			}
			relayedBefore, betweenBefore := lab.relayed(ctx, t), lab.between(ctx, t)
			for i := range natMessages {
				alice.say(t, fmt.Sprintf("a%02d", i))
				bob.say(t, fmt.Sprintf("b%02d", i))
			}
			for who, p := range map[string]*proc{"alice": alice, "bob": bob} {
				p.stdout.waitFor(t, who+"'s messages delivered", func() bool {
					return len(jsonEvents(t, p.stdout, "delivered")) == natMessages+1
				})
				p.stdout.waitFor(t, "every message to "+who, func() bool {
					return len(jsonEvents(t, p.stdout, "message")) == natMessages+1
				})
			}
			relayed, between := lab.relayed(ctx, t)-relayedBefore, lab.between(ctx, t)-betweenBefore
			t.Logf("after the path was chosen: %d datagrams through the relay, %d between the routers", relayed, between)
			switch tc.path {
			case "direct":
				if relayed != 0 || between == 0 {
					t.Errorf("direct: %d datagrams through the relay and %d between the routers, want none and some", relayed, between)
				}
			case "direct (LAN)":
				if relayed != 0 || between != 0 {
					t.Errorf("on the LAN: %d datagrams through the relay and %d between the routers, want none and none", relayed, between)
				}
			case "relayed":
				if relayed == 0 {
					t.Errorf("relayed: nothing went through the relay")
				}
				for who, p := range map[string]*proc{"alice": alice, "bob": bob} {
					if moved := jsonEvents(t, p.stdout, "moved"); len(moved) > 0 {
						t.Errorf("%s's path moved, yet no direct path is possible here: %v", who, moved)
					}
				}
			}
			for who, p := range map[string]*proc{"alice": alice, "bob": bob} {
				for i, m := range jsonEvents(t, p.stdout, "message")[1:] {
					want := fmt.Sprintf("%c%02d", 'a'+('b'-'a')*boolInt(who == "alice"), i)
					if m["text"] != want {
						t.Errorf("%s's message %d: %v, want %q", who, i, m["text"], want)
					}
				}
			}
			alice.wantExit(t, 0)
			bob.wantExit(t, 0)
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestNATLabFailover: alice and bob behind port-restricted cones chat on
// a direct path; the internet then drops everything between their routers
// (not to the relay) in the middle of a stream of messages: both go back
// through the relay within seconds, and when the path is restored, direct
// again. Every message arrives once, in order.
func TestNATLabFailover(t *testing.T) {
	requireRootNetns(t, "ip", "nft", "curl")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	lab := newNATLab(ctx, t)
	alice, bob := lab.pair(t, lab.addHome(ctx, t, "port-restricted", 1).hosts[0], lab.addHome(ctx, t, "port-restricted", 1).hosts[0])
	alice.say(t, "hello")
	bob.stdout.waitFor(t, "alice's first message", func() bool { return len(jsonEvents(t, bob.stdout, "message")) == 1 })
	movedTo(t, alice, "direct", 1)
	movedTo(t, bob, "direct", 1)

	sent := 1
	send := func(n int) {
		for range n {
			alice.say(t, fmt.Sprintf("m%03d", sent))
			sent++
		}
	}
	nft := func(args ...string) {
		labRun(ctx, t, "ip", append([]string{"netns", "exec", lab.inet, "nft"}, args...)...)
	}
	send(20)
	// The routers are 203.0.113.1 and .2; the relay .10 stays reachable.
	nft("add", "table", "bridge", "cut")
	nft("add", "chain", "bridge", "cut", "between", "{ type filter hook forward priority 0; }")
	nft("add", "rule", "bridge", "cut", "between", "ip", "saddr", "203.0.113.1-203.0.113.2", "ip", "daddr", "203.0.113.1-203.0.113.2", "drop")
	relayed := "relayed via " + labRelayIP + ":7477"
	aliceRelayed, bobRelayed := pathCount(alice, relayed), pathCount(bob, relayed)
	cut := time.Now()
	send(20)
	movedTo(t, alice, relayed, aliceRelayed+1)
	movedTo(t, bob, relayed, bobRelayed+1)
	t.Logf("both on the relay %v after the cut", time.Since(cut).Round(100*time.Millisecond))
	send(20)
	bob.stdout.waitFor(t, "every message so far", func() bool { return len(jsonEvents(t, bob.stdout, "message")) == sent })
	aliceDirect, bobDirect := pathCount(alice, "direct"), pathCount(bob, "direct")
	nft("delete", "table", "bridge", "cut")
	restored := time.Now()
	movedTo(t, alice, "direct", aliceDirect+1)
	movedTo(t, bob, "direct", bobDirect+1)
	t.Logf("both direct again %v after the path came back", time.Since(restored).Round(100*time.Millisecond))
	before := lab.relayed(ctx, t)
	send(20)
	bob.stdout.waitFor(t, "every message", func() bool { return len(jsonEvents(t, bob.stdout, "message")) == sent })
	alice.stdout.waitFor(t, "every message delivered", func() bool { return len(jsonEvents(t, alice.stdout, "delivered")) == sent })
	if after := lab.relayed(ctx, t); after != before {
		t.Errorf("the relay forwarded %d datagrams after the direct path came back, want 0", after-before)
	}
	for who, p := range map[string]*proc{"alice": alice, "bob": bob} {
		if joined := jsonEvents(t, p.stdout, "joined"); len(joined) != 1 {
			t.Errorf("%s saw %d peers join, want the other one, whichever path: %v", who, len(joined), joined)
		}
	}
	for i, m := range jsonEvents(t, bob.stdout, "message")[1:] {
		if want := fmt.Sprintf("m%03d", i+1); m["text"] != want {
			t.Errorf("bob's message %d: %v, want %q", i+1, m["text"], want)
		}
	}
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)
}
