//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The cluster lab: the NAT lab's internet (netns_nat_test.go) with three
// relay hosts on it, each a namespace running a nats-server process (the
// three routed into one JetStream cluster) and a real udpchat relay joined
// to them with --nats, as docs/RELAY-CLUSTER.md lays a deployment out;
// alice and bob each behind a symmetric NAT of their own, so that every
// datagram between them goes through the relays.

// clusterRelay is one relay host of the cluster lab.
type clusterRelay struct {
	name  string // "A", "B", "C"
	ns    string
	ip    string // on the internet
	nats  *proc  // its nats-server
	relay *proc  // its udpchat relay
}

// addr is the relay's UDP address.
func (r *clusterRelay) addr() string { return r.ip + ":7477" }

// startRelayCluster puts the three relay hosts on the lab's internet at
// 203.0.113.21-23 and starts their nats-servers, then, once JetStream has
// a leader, their relays, all three at the same moment, as a new
// deployment's hosts start them, each making the registry and the mailbox
// stream. The relays share one key (as the docs say, so a client may
// register at any of them) and keep everything on all three NATS nodes
// (--nats-replicas 3). It returns the relays and their key.
func startRelayCluster(ctx context.Context, t *testing.T, lab *natLab) ([]*clusterRelay, string) {
	t.Helper()
	natsServer := buildNATSServer(ctx, t)
	var relays []*clusterRelay
	for i, name := range []string{"A", "B", "C"} {
		r := &clusterRelay{name: name, ns: fmt.Sprintf("%srl%s-%d", labNamePrefix, strings.ToLower(name), os.Getpid()), ip: fmt.Sprintf("203.0.113.%d", 21+i)}
		addNamespace(ctx, t, r.ns)
		lab.plug(ctx, t, r.ns, "s"+name, r.ip)
		labRun(ctx, t, "ip", "-n", r.ns, "link", "set", "lo", "up")
		relays = append(relays, r)
	}
	for _, r := range relays {
		waitLinkReady(ctx, t, r.ns, "wan0")
	}
	natsURLs := func(first *clusterRelay, scheme, port string) []string {
		urls := []string{scheme + "://" + first.ip + ":" + port}
		for _, r := range relays {
			if r != first {
				urls = append(urls, scheme+"://"+r.ip+":"+port)
			}
		}
		return urls
	}
	for _, r := range relays {
		r.nats = start(t, "ip", "netns", "exec", r.ns, natsServer, "-n", "n"+r.name, "-a", r.ip, "-p", "4222",
			"-js", "-sd", t.TempDir(), "--cluster_name", "udpchat-lab", "--cluster", "nats://"+r.ip+":6222",
			"--routes", strings.Join(natsURLs(r, "nats", "6222")[1:], ","))
	}
	for _, r := range relays {
		r.nats.stderr.waitLine(t, `Self is new JetStream cluster metadata leader|JetStream cluster new (remote )?metadata leader`)
	}

	keyDir := privateDir(t)
	id := udpchat(t, "relay", "id", "--data-dir", keyDir)
	id.wantExit(t, 0)
	key := strings.SplitN(id.stdout.String(), "\n", 2)[0]
	identity, err := os.ReadFile(filepath.Join(keyDir, "identity.key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range relays {
				if r.relay != nil {
					t.Logf("relay %s:\n%s", r.name, r.relay.stderr)
				}
			}
		}
	})
	for _, r := range relays {
		dir := privateDir(t)
		if err := os.WriteFile(filepath.Join(dir, "identity.key"), identity, 0o600); err != nil {
			t.Fatal(err)
		}
		// --verbose: the relay logs each client's first registration.
		r.relay = start(t, "ip", "netns", "exec", r.ns, udpchatBinary, "relay", "--listen", r.addr(), "--data-dir", dir,
			"--nats", strings.Join(natsURLs(r, "nats", "4222"), ","), "--nats-replicas", "3", "--verbose")
	}
	for _, r := range relays {
		r.relay.stderr.waitWithin(t, time.Minute, "relay "+r.name+" listening", func() bool { return strings.Contains(r.relay.stderr.String(), `"msg":"relay listening"`) })
	}
	return relays, key
}

// buildNATSServer builds nats-server, at the version go.mod names (the one
// the in-process tests run), into the test's temporary dir.
func buildNATSServer(ctx context.Context, t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nats-server")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput(); err != nil {
		t.Fatalf("building nats-server: %v\n%s", err, out)
	}
	return bin
}

// TestRelayClusterLab: three relays in a NATS cluster of three nodes, on
// hosts of their own; alice, behind a symmetric NAT, names relays A and B
// (--relay A,B), bob, behind another, relay C. One topology, in turn:
//
//   - mail: bob has never been online; alice's lines are held in his
//     mailbox through relay A, and she quits. Bob starts at C and gets
//     them, once; alice's next start learns they were delivered;
//   - chat: alice starts again, with --peer bob, and they chat across
//     relays A and C, both ways;
//   - relay A is killed (SIGKILL) while alice's lines stream: she moves on
//     to B, the registry follows her there, and the chat goes on;
//   - the NATS node relay B is connected to is killed while alice's lines
//     stream through B: relay B reconnects to another node and the chat
//     goes on.
//
// Every line arrives once, in order, and every one is delivered.
func TestRelayClusterLab(t *testing.T) {
	requireRootNetns(t, "ip", "nft")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	lab := newInternet(ctx, t)
	aliceNS := lab.addHome(ctx, t, "symmetric", 1).hosts[0]
	bobNS := lab.addHome(ctx, t, "symmetric", 1).hosts[0]
	relays, key := startRelayCluster(ctx, t, lab)
	a, b, c := relays[0], relays[1], relays[2]
	aliceRelays := key + "@" + a.addr() + "," + key + "@" + b.addr()
	bobRelays := key + "@" + c.addr()
	aliceDir, bobDir := privateDir(t), privateDir(t)
	meetDirectly(t, aliceDir, bobDir)

	var toBob []string // every line alice sent, in order
	var alice, bob *proc
	var earlier int // how many of toBob alice sent before this start
	received := func(t *testing.T, p *proc) []string {
		var texts []string
		for _, m := range jsonEvents(t, p.stdout, "message") {
			texts = append(texts, m["text"].(string))
		}
		return texts
	}
	// delivered is how many of p's messages are delivered, each id once:
	// a line that went both to bob's last-known address (held by the
	// relay) and to his relayed session is still one delivery.
	delivered := func(t *testing.T, p *proc) int {
		t.Helper()
		ids := map[any]bool{}
		for _, d := range jsonEvents(t, p.stdout, "delivered") {
			if ids[d["id"]] {
				t.Fatalf("%v delivered twice", d)
			}
			ids[d["id"]] = true
		}
		return len(ids)
	}
	// stream has alice send n lines named prefix; once a few have arrived
	// (if any), mid runs, and then the rest are sent, and bob gets them all.
	stream := func(t *testing.T, prefix string, n int, mid func()) {
		t.Helper()
		before := len(toBob)
		for i := range n {
			toBob = append(toBob, fmt.Sprintf("%s%02d", prefix, i))
		}
		alice.say(t, toBob[before:before+n/2]...)
		bob.stdout.waitFor(t, "a few of alice's "+prefix+" lines", func() bool { return len(received(t, bob)) >= before+3 })
		mid()
		alice.say(t, toBob[before+n/2:]...)
		bob.stdout.waitFor(t, "alice's "+prefix+" lines", func() bool { return len(received(t, bob)) >= len(toBob) })
		alice.stdout.waitFor(t, "alice's "+prefix+" lines delivered", func() bool { return delivered(t, alice) >= len(toBob)-earlier })
		if got := received(t, bob); !slices.Equal(got, toBob) {
			t.Fatalf("bob got %q,\nwant %q", got, toBob)
		}
	}

	// The chats outlive the subtests: they are started, and so killed at
	// the end, by the whole test.
	top := t
	start := time.Now()
	if !t.Run("mail via A delivered via C", func(t *testing.T) {
		alice = chatInNS(top, aliceNS, aliceDir, "alice", aliceRelays, "-p", "bob", "--timeout", "5s")
		alice.listening(t)
		toBob = []string{"one", "two", "three"}
		alice.say(t, toBob...)
		alice.stdout.waitFor(t, "three held", func() bool { return len(jsonEvents(t, alice.stdout, "held")) == 3 })
		alice.wantExit(t, 0)
		if !strings.Contains(alice.stderr.String(), "held by the relay until they come back: 3 messages") {
			t.Errorf("alice's stderr does not say the relay holds her messages:\n%s", alice.stderr)
		}
		bob = chatInNS(top, bobNS, bobDir, "bob", bobRelays, "--timeout", "60s")
		bob.listening(t)
		bob.stdout.waitFor(t, "alice's three messages", func() bool { return len(received(t, bob)) == 3 })
		// Alice comes back: bob's receipts reach her through C and A.
		alice = chatInNS(t, aliceNS, aliceDir, "alice", aliceRelays)
		alice.listening(t)
		alice.stdout.waitFor(t, "three delivered", func() bool { return delivered(t, alice) == 3 })
		alice.wantExit(t, 0)
		if pending := history(t, "--data-dir", aliceDir, "--pending"); len(pending) != 0 {
			t.Errorf("alice's outbox after bob's receipts: %q, want empty", pending)
		}
		if got := received(t, bob); !slices.Equal(got, toBob) {
			t.Errorf("bob got %q, want %q once each", got, toBob)
		}
	}) {
		return
	}
	t.Logf("mail: %v", time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	if !t.Run("chat across relays", func(t *testing.T) {
		var toAlice []string
		for i := range 20 {
			toAlice = append(toAlice, fmt.Sprintf("b%02d", i))
		}
		alice = chatInNS(top, aliceNS, aliceDir, "alice", aliceRelays, "-p", "bob", "--timeout", "60s")
		alice.listening(t)
		earlier = len(toBob)
		stream(t, "a", 20, func() {})
		bob.say(t, toAlice...) // to alice, now that she has joined him
		alice.stdout.waitFor(t, "bob's lines", func() bool { return len(received(t, alice)) >= len(toAlice) })
		if got := received(t, alice); !slices.Equal(got, toAlice) {
			t.Errorf("alice got %q,\nwant %q", got, toAlice)
		}
		for who, path := range map[*proc]string{alice: "relayed via " + a.addr(), bob: "relayed via " + c.addr()} {
			if j := jsonLine(t, who.stdout, "joined"); j["path"] != path {
				t.Errorf("joined event %v: want the path %s", j, path)
			}
		}
	}) {
		return
	}
	t.Logf("chat: %v", time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	if !t.Run("relay A killed", func(t *testing.T) {
		stream(t, "r", 40, func() { a.relay.kill9(t) })
		b.relay.stderr.waitFor(t, "alice registered at relay B", func() bool {
			return strings.Contains(b.relay.stderr.String(), `"msg":"relay: client registered"`)
		})
	}) {
		return
	}
	t.Logf("relay failover: %v", time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	if !t.Run("NATS node killed", func(t *testing.T) {
		// The node relay B picked (its client shuffles the list).
		ip := b.relay.stderr.waitLine(t, `"msg":"nats connected","server":"nats://([0-9.]+):4222"`)[1]
		node := relays[slices.IndexFunc(relays, func(r *clusterRelay) bool { return r.ip == ip })]
		t.Logf("killing NATS node %s", node.name)
		stream(t, "n", 40, func() { node.nats.kill9(t) })
		b.relay.stderr.waitLine(t, `"msg":"nats reconnected"`)
	}) {
		return
	}
	t.Logf("NATS failover: %v", time.Since(start).Round(100*time.Millisecond))

	for who, p := range map[string]*proc{"alice": alice, "bob": bob} {
		if moved := jsonEvents(t, p.stdout, "moved"); len(moved) > 0 {
			t.Errorf("%s's path moved, yet two symmetric NATs allow no direct path: %v", who, moved)
		}
	}
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)
}
