//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The LAN lab: hosts, each a network namespace with eth0 on 10.199.77.0/24,
// plugged into a bridge in a namespace of its own, so nothing is added to
// the host's network. The bridge counts the beacons each host sends.
type lanLab struct {
	sw    string   // the bridge's namespace
	hosts []string // the hosts' namespaces; host i is 10.199.77.(i+1)
}

// testInterval is the beacon interval in the lab (intervalEnv): short, so
// that a killed host is gone within a few seconds.
const testInterval = "300ms"

func newLANLab(ctx context.Context, t *testing.T, n int) *lanLab {
	t.Helper()
	removeStaleLabs(ctx, t)
	pid := os.Getpid()
	lab := &lanLab{sw: fmt.Sprintf("%slsw-%d", labNamePrefix, pid)}
	addNamespace(ctx, t, lab.sw)
	labRun(ctx, t, "ip", "-n", lab.sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0", "stp_state", "0")
	labRun(ctx, t, "ip", "-n", lab.sw, "link", "set", "br0", "up")
	labRun(ctx, t, "ip", "netns", "exec", lab.sw, "nft", "add", "table", "bridge", "lan")
	labRun(ctx, t, "ip", "netns", "exec", lab.sw, "nft", "add", "chain", "bridge", "lan", "in", "{ type filter hook prerouting priority 0; }")
	for i := range n {
		h := fmt.Sprintf("%sl%d-%d", labNamePrefix, i+1, pid)
		addNamespace(ctx, t, h)
		// No duplicate address detection: IPv6 is usable at once.
		labRun(ctx, t, "ip", "netns", "exec", h, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
		port := fmt.Sprintf("p%d", i+1)
		labRun(ctx, t, "ip", "link", "add", port, "netns", lab.sw, "type", "veth", "peer", "name", "eth0", "netns", h)
		labRun(ctx, t, "ip", "-n", lab.sw, "link", "set", port, "master", "br0", "up")
		labRun(ctx, t, "ip", "-n", h, "addr", "add", fmt.Sprintf("10.199.77.%d/24", i+1), "dev", "eth0")
		labRun(ctx, t, "ip", "-n", h, "link", "set", "lo", "up")
		labRun(ctx, t, "ip", "-n", h, "link", "set", "eth0", "up")
		// Every beacon (its magic, "UDPc", opens the UDP payload) that
		// comes in from the host, on either family.
		labRun(ctx, t, "ip", "netns", "exec", lab.sw, "nft", "add", "counter", "bridge", "lan", port)
		for _, family := range []string{"ip", "ip6"} {
			labRun(ctx, t, "ip", "netns", "exec", lab.sw, "nft", "add", "rule", "bridge", "lan", "in",
				"iifname", port, "ether", "type", family, "@th,64,32", "0x55445063", "counter", "name", port)
		}
		lab.hosts = append(lab.hosts, h)
	}
	for _, h := range lab.hosts {
		waitLinkReady(ctx, t, h, "eth0")
	}
	return lab
}

func addNamespace(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	labRun(ctx, t, "ip", "netns", "add", ns)
	t.Cleanup(func() { deleteNamespace(t, ns) })
}

// beacons is how many beacons host i has sent.
func (lab *lanLab) beacons(ctx context.Context, t *testing.T, i int) int {
	t.Helper()
	return nftCounter(ctx, t, lab.sw, "bridge", "lan", fmt.Sprintf("p%d", i+1))
}

// chat starts udpchat with args on host i with the lab's beacon interval,
// in a data dir of its own.
func (lab *lanLab) chat(t *testing.T, i int, args ...string) *proc {
	t.Helper()
	cmd := append([]string{"netns", "exec", lab.hosts[i], "env", intervalEnv + "=" + testInterval, udpchatBinary}, args...)
	return start(t, "ip", append(cmd, "--data-dir", privateDir(t))...)
}

// jsonEvent is what --json prints of the events the lab looks at.
type jsonEvent struct {
	Type, Peer, Name, Fingerprint, Text string
}

// waitEvent waits for a JSON event on p's stdout that want accepts.
func waitEvent(t *testing.T, p *proc, what string, want func(jsonEvent) bool) jsonEvent {
	t.Helper()
	var got jsonEvent
	p.stdout.waitFor(t, what, func() bool {
		for _, l := range p.stdout.lines() {
			var ev jsonEvent
			if json.Unmarshal([]byte(l), &ev) == nil && want(ev) {
				got = ev
				return true
			}
		}
		return false
	})
	return got
}

func isEvent(typ, name string) func(jsonEvent) bool {
	return func(ev jsonEvent) bool { return ev.Type == typ && ev.Name == name }
}

// TestNearbyNamespaceLAN: three people run udpchat with no flags but
// their names on one LAN, and each sees the other two nearby, at their
// chat address; others write to carol by name (--peer, /connect); one that
// is killed is gone for the others; a name no one has is an error; a new
// name is heard.
func TestNearbyNamespaceLAN(t *testing.T) {
	requireRootNetns(t, "ip", "nft")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	lab := newLANLab(ctx, t, 4)
	names := []string{"alice", "bob", "carol"}
	began := time.Now()
	var chats []*proc
	for i, name := range names {
		chats = append(chats, lab.chat(t, i, "--line", "--json", "-n", name))
	}
	for i, p := range chats {
		for j, other := range names {
			if i == j {
				continue
			}
			// Heard on IPv6 first, perhaps, but at its IPv4 address once
			// heard there: the endpoint prefers IPv4.
			at := fmt.Sprintf("10.199.77.%d:7475", j+1)
			ev := waitEvent(t, p, names[i]+" hearing "+other+" at "+at, func(ev jsonEvent) bool {
				return ev.Type == "nearby" && ev.Name == other && ev.Peer == at
			})
			if !strings.HasPrefix(ev.Fingerprint, "BLAKE2s:") {
				t.Errorf("%s sees %s nearby with the key %q", names[i], other, ev.Fingerprint)
			}
		}
	}
	t.Logf("all three saw the other two nearby %v after starting them", time.Since(began).Round(time.Millisecond))

	// dave, on alice's host, names carol: found on the LAN, not by address.
	dave := lab.chat(t, 0, "--line", "-n", "dave", "-l", "[::]:0", "--peer", "carol")
	dave.say(t, "hello carol, by name")
	dave.wantExit(t, 0)
	if m := waitEvent(t, chats[2], "carol getting dave's message", isEvent("message", "dave")); m.Text != "hello carol, by name" {
		t.Errorf("carol got %q from dave", m.Text)
	}
	waitEvent(t, chats[2], "carol seeing dave leave the LAN", isEvent("gone", "dave"))
	for i, p := range chats[:2] {
		// dave's leaving comes after all he sent.
		waitEvent(t, p, names[i]+" seeing dave leave", isEvent("gone", "dave"))
		for _, l := range p.stdout.lines() {
			if strings.Contains(l, `"type":"message"`) {
				t.Errorf("a message reached %s, whom dave did not pick: %s", names[i], l)
			}
		}
	}

	// erin, on the fourth host, picks carol with /connect by name.
	erin := lab.chat(t, 3, "--line", "-n", "erin")
	erin.stderr.waitLine(t, `^\* nearby: carol \(10\.199\.77\.3:7475, key BLAKE2s:`)
	erin.say(t, "/connect carol", "hi carol, connected by name")
	erin.wantExit(t, 0)
	if m := waitEvent(t, chats[2], "carol getting erin's message", isEvent("message", "erin")); m.Text != "hi carol, connected by name" {
		t.Errorf("carol got %q from erin", m.Text)
	}

	// bob vanishes without a word: alice and carol see him gone after
	// ExpireIntervals intervals of silence.
	chats[1].cmd.Process.Kill()
	for _, i := range []int{0, 2} {
		waitEvent(t, chats[i], names[i]+" seeing bob gone", isEvent("gone", "bob"))
	}

	nobody := lab.chat(t, 3, "--line", "-n", "erin", "--peer", "nobody")
	nobody.stdin.Close()
	if code := nobody.exit(t); code != exitUsage {
		t.Errorf("--peer nobody exited %d, want %d", code, exitUsage)
	}
	if got := nobody.stderr.String(); !strings.Contains(got, `udpchat: no one called "nobody" is known or nearby`) {
		t.Errorf("--peer nobody said %q", got)
	}
	// A new name is announced (at most one announcement out of turn per
	// discovery.MinForcedGap).
	chats[0].say(t, "/nick alicia")
	ev := waitEvent(t, chats[2], "carol hearing alice's new name", isEvent("nearby", "alicia"))
	if ev.Peer != "10.199.77.1:7475" {
		t.Errorf("alicia is nearby at %s, want alice's address", ev.Peer)
	}
	for _, p := range []*proc{chats[0], chats[2]} {
		p.wantExit(t, 0)
	}
}

// TestNoDiscoveryNamespace: a chat with --no-discovery or --plain, a chat
// on one address, and udpchat send send no beacon, from start to exit; a
// chat with none of those does (so the counter can see them).
func TestNoDiscoveryNamespace(t *testing.T) {
	requireRootNetns(t, "ip", "nft")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	lab := newLANLab(ctx, t, 2)
	bob := lab.chat(t, 1, "--line", "-n", "bob", "--no-discovery")
	bob.listening(t)
	for _, tc := range []struct {
		args   []string
		silent bool
	}{
		{[]string{"--line", "--no-discovery"}, true},
		{[]string{"--line", "--plain"}, true},
		{[]string{"--line", "-l", "10.199.77.1:7475"}, true},
		{[]string{"send", "-p", "10.199.77.2:7475", "hi bob"}, true},
		{[]string{"--line"}, false},
	} {
		before := lab.beacons(ctx, t, 0)
		p := lab.chat(t, 0, append(tc.args, "-n", "alice")...)
		p.wantExit(t, 0)
		sent := lab.beacons(ctx, t, 0) - before
		if tc.silent && sent != 0 || !tc.silent && sent == 0 {
			t.Errorf("udpchat %s sent %d beacons", tc.args, sent)
		}
	}
	bob.wantExit(t, 0)
	if got := bob.stdout.lines(); len(got) != 1 || got[0] != "alice: hi bob" {
		t.Errorf("bob got %q, want alice's one message", got)
	}
}
