package discovery

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/testenv"
)

// The LAN lab: hosts, each a network namespace with eth0 on 10.76.0.0/24,
// plugged into a bridge that lives in a namespace of its own, so nothing is
// added to the host's network. The bridge counts the beacons that cross it
// (nft, bridge family, on the way in: each datagram once, however many
// ports a broadcast is flooded to).
type lab struct {
	t      *testing.T
	ctx    context.Context
	prefix string // of every namespace: unique to this test process
	sw     string // the bridge's namespace
	hosts  []string
}

// labCounters are the nft counters on the bridge: announcements (to the
// beacon port) and answers (beacons to any other port), per family.
var labCounters = []string{"announce4", "announce6", "answer4", "answer6"}

func newLab(t *testing.T, n int) *lab {
	t.Helper()
	testenv.SkipInShort(t, "network namespace")
	testenv.RequireRoot(t, "network namespaces", "ip", "nft")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	l := &lab{t: t, ctx: ctx, prefix: fmt.Sprintf("udpd-%d-%s-", os.Getpid(), strings.ToLower(t.Name()[len(t.Name())-4:]))}
	l.sw = l.prefix + "sw"
	l.addNS(l.sw)
	l.run("ip", "-n", l.sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0", "stp_state", "0")
	l.run("ip", "-n", l.sw, "link", "set", "br0", "up")
	nft := []string{
		"add table bridge udpd",
		"add chain bridge udpd in { type filter hook prerouting priority 0; }",
	}
	for _, c := range labCounters {
		nft = append(nft, "add counter bridge udpd "+c)
	}
	magic := fmt.Sprintf("@th,64,32 0x%08x", uint32(0x55445063))
	nft = append(nft,
		fmt.Sprintf("add rule bridge udpd in ether type ip udp dport %d %s counter name announce4", testPort, magic),
		fmt.Sprintf("add rule bridge udpd in ether type ip6 udp dport %d %s counter name announce6", testPort, magic),
		fmt.Sprintf("add rule bridge udpd in ether type ip udp dport != %d %s counter name answer4", testPort, magic),
		fmt.Sprintf("add rule bridge udpd in ether type ip6 udp dport != %d %s counter name answer6", testPort, magic),
	)
	for _, c := range nft {
		l.run(append([]string{"ip", "netns", "exec", l.sw, "nft"}, strings.Fields(c)...)...)
	}
	for i := range n {
		h := fmt.Sprintf("%sh%d", l.prefix, i+1)
		l.addNS(h)
		// No duplicate address detection: the link-local address is
		// usable at once, as on a LAN that has been up a while.
		l.run("ip", "netns", "exec", h, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
		port := fmt.Sprintf("p%d", i+1)
		l.run("ip", "link", "add", port, "netns", l.sw, "type", "veth", "peer", "name", "eth0", "netns", h)
		l.run("ip", "-n", l.sw, "link", "set", port, "master", "br0", "up")
		l.run("ip", "-n", h, "addr", "add", fmt.Sprintf("10.76.0.%d/24", i+1), "dev", "eth0")
		l.run("ip", "-n", h, "link", "set", "lo", "up")
		l.run("ip", "-n", h, "link", "set", "eth0", "up")
		l.hosts = append(l.hosts, h)
	}
	return l
}

// testPort is the beacon port in the lab: DefaultPort, as the namespaces
// are the lab's own.
const testPort = DefaultPort

func (l *lab) addNS(name string) {
	l.run("ip", "netns", "add", name)
	l.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", "netns", "del", name).CombinedOutput(); err != nil {
			l.t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
}

func (l *lab) run(args ...string) string {
	l.t.Helper()
	out, err := exec.CommandContext(l.ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// counter reads one of labCounters.
func (l *lab) counter(name string) int {
	l.t.Helper()
	out := l.run("ip", "netns", "exec", l.sw, "nft", "list", "counter", "bridge", "udpd", name)
	m := regexp.MustCompile(`packets (\d+)`).FindStringSubmatch(out)
	if m == nil {
		l.t.Fatalf("nft list counter %s: no packets in\n%s", name, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// child is the package running in one host of the lab.
type child struct {
	name  string
	key   string // its public key, as the child printed it
	cmd   *exec.Cmd
	stdin io.Closer
	lines chan childLine // what it prints after "self"; closed at its end
}

// start runs a child called name in host i, announcing every interval.
func (l *lab) start(i int, name string, interval time.Duration) *child {
	l.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	c := &child{name: name, lines: make(chan childLine, 1024)}
	c.cmd = exec.Command("ip", "netns", "exec", l.hosts[i], exe, "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"="+c.name, childIntervalEnv+"="+interval.String())
	c.cmd.Stderr = os.Stderr
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	c.stdin = stdin
	if err := c.cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	var once sync.Once
	l.t.Cleanup(func() { once.Do(func() { c.cmd.Process.Kill(); c.cmd.Wait() }) })
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line childLine
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				line = childLine{Kind: "garbage: " + sc.Text()}
			}
			c.lines <- line
		}
	}()
	return c
}

// self waits for the child's first line, which says its key.
func (c *child) self(t *testing.T, deadline <-chan time.Time) {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok || line.Kind != "self" {
			t.Fatalf("%s's first line: %+v (open %v), want self", c.name, line, ok)
		}
		c.key = line.Key
	case <-deadline:
		t.Fatalf("%s did not start", c.name)
	}
}

// waitNearby waits until c has seen each of others nearby (and none of
// them gone), or fails at deadline.
func (c *child) waitNearby(t *testing.T, deadline <-chan time.Time, others []*child) {
	t.Helper()
	want := make(map[string]string)
	for _, o := range others {
		want[o.key] = o.name
	}
	for len(want) > 0 {
		select {
		case line, ok := <-c.lines:
			switch {
			case !ok:
				t.Fatalf("%s ended while %d were not nearby yet", c.name, len(want))
			case line.Kind == "nearby":
				if want[line.Key] != line.Name {
					t.Fatalf("%s: nearby %+v, not one of the lab's", c.name, line)
				}
				delete(want, line.Key)
			case line.Kind != "changed":
				t.Fatalf("%s: %+v while waiting for the others", c.name, line)
			}
		case <-deadline:
			t.Fatalf("%s still misses %v at the deadline", c.name, want)
		}
	}
}

// Three hosts on one bridge, and a second process on the first, see each
// other within 2 s (the two on one host share the beacon port, and each
// gets the answers to its own announcements); one killed is gone after 3
// intervals for the others.
func TestNamespaceThreeHosts(t *testing.T) {
	l := newLab(t, 3)
	const interval = 300 * time.Millisecond
	var cs []*child
	for i := range l.hosts {
		cs = append(cs, l.start(i, fmt.Sprintf("h%d", i+1), interval))
	}
	cs = append(cs, l.start(0, "h1-again", interval))
	started := time.After(10 * time.Second)
	for _, c := range cs {
		c.self(t, started)
	}
	deadline := time.After(2 * time.Second)
	for i, c := range cs {
		c.waitNearby(t, deadline, append(append([]*child(nil), cs[:i]...), cs[i+1:]...))
	}
	killed := cs[2]
	killed.cmd.Process.Kill()
	// Gone only once nothing was heard for 3 intervals: a few more
	// announcements from the others first, and the killed one's expiry.
	gone := time.After(expiry(interval) + 5*time.Second)
	for _, c := range []*child{cs[0], cs[1], cs[3]} {
		for done := false; !done; {
			select {
			case line := <-c.lines:
				if line.Kind != "gone" && line.Kind != "changed" {
					t.Fatalf("%s: %+v after h3 was killed", c.name, line)
				}
				if line.Kind == "gone" {
					if line.Key != killed.key {
						t.Fatalf("%s: %+v gone, but only h3 was killed", c.name, line)
					}
					done = true
				}
			case <-gone:
				t.Fatalf("%s still has h3 nearby", c.name)
			}
		}
	}
}

// Twenty hosts started at once all find all, and the join costs O(N)
// datagrams: an announcement each (per family) and at most one answer per
// pair, not a broadcast answer to every broadcast.
func TestNamespaceTwentyHostsJoin(t *testing.T) {
	const n = 20
	l := newLab(t, n)
	var cs []*child
	for i := range l.hosts {
		cs = append(cs, l.start(i, fmt.Sprintf("h%d", i+1), DefaultInterval)) // no periodic announcement during the test
	}
	started := time.After(15 * time.Second)
	for _, c := range cs {
		c.self(t, started)
	}
	deadline := time.After(5 * time.Second)
	for i, c := range cs {
		c.waitNearby(t, deadline, append(append([]*child(nil), cs[:i]...), cs[i+1:]...))
	}
	counts := make(map[string]int)
	for _, c := range labCounters {
		counts[c] = l.counter(c)
	}
	t.Logf("the join of %d hosts: %v datagrams of beacons crossed the bridge", n, counts)
	// The child has no reason to announce out of turn here (its
	// interfaces do not change), but one may: the bound allows it.
	for _, fam := range []string{"4", "6"} {
		if a := counts["announce"+fam]; a < n || a > 2*n {
			t.Errorf("IPv%s announcements: %d, want one per host (%d), at most two", fam, a, n)
		}
	}
	if a := counts["answer4"] + counts["answer6"]; a > n*(n-1) {
		t.Errorf("answers: %d, want at most one per ordered pair, %d", a, n*(n-1))
	}
	total := 0
	for _, v := range counts {
		total += v
	}
	if total > 2*2*n+n*(n-1) {
		t.Errorf("the join cost %d datagrams, more than 2 families × 2 announcements × %d hosts + %d answers", total, n, n*(n-1))
	}
}
