//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The lab: two network namespaces joined by a veth pair, each host dropping
// a share of its outgoing UDP at random with nft. Traffic in it only ever goes
// to the two lab addresses, which exist nowhere but inside the namespaces.

// labNamePrefix starts the name of every namespace a lab creates; the rest is
// "a-PID" or "b-PID", the PID of the test process that owns it.
const labNamePrefix = "udpc-"

// labHost is one end of the lab: a namespace with one veth interface.
type labHost struct {
	ns   string     // network namespace name, as ip netns knows it
	addr netip.Addr // the address of veth0 inside ns
	mac  string     // veth0's MAC address, fixed so neighbours can be static
}

// lossLab is a pair of hosts on one /30.
type lossLab struct {
	a, b labHost
}

// newLossLab creates the two namespaces and the link between them, and
// registers their deletion with t.Cleanup. The link is up and usable when it
// returns, with no loss yet (see dropUDP).
func newLossLab(ctx context.Context, t testing.TB) *lossLab {
	t.Helper()
	removeStaleLabs(ctx, t)

	pid := os.Getpid()
	lab := &lossLab{
		a: labHost{ns: fmt.Sprintf("%sa-%d", labNamePrefix, pid), addr: netip.MustParseAddr("10.199.7.1"), mac: "02:00:0a:c7:07:01"},
		b: labHost{ns: fmt.Sprintf("%sb-%d", labNamePrefix, pid), addr: netip.MustParseAddr("10.199.7.2"), mac: "02:00:0a:c7:07:02"},
	}
	for _, h := range lab.hosts() {
		labRun(ctx, t, "ip", "netns", "add", h.ns)
		t.Cleanup(func() { deleteNamespace(t, h.ns) })
	}

	// Both ends are created inside their namespaces, so nothing appears in
	// (or can clash with) the root namespace.
	labRun(ctx, t, "ip", "link", "add", "veth0", "netns", lab.a.ns, "address", lab.a.mac,
		"type", "veth", "peer", "name", "veth0", "netns", lab.b.ns, "address", lab.b.mac)
	for _, h := range lab.hosts() {
		peer := lab.peerOf(h)
		labRun(ctx, t, "ip", "-n", h.ns, "addr", "add", h.addr.String()+"/30", "dev", "veth0")
		labRun(ctx, t, "ip", "-n", h.ns, "link", "set", "lo", "up")
		labRun(ctx, t, "ip", "-n", h.ns, "link", "set", "veth0", "up")
		// A static neighbour entry: no ARP exchange that could lose or queue
		// the first datagrams and blur the loss measurement.
		labRun(ctx, t, "ip", "-n", h.ns, "neigh", "replace", peer.addr.String(),
			"lladdr", peer.mac, "dev", "veth0", "nud", "permanent")
	}
	for _, h := range lab.hosts() {
		waitLinkReady(ctx, t, h.ns, "veth0")
	}
	return lab
}

func (lab *lossLab) hosts() []labHost { return []labHost{lab.a, lab.b} }

func (lab *lossLab) peerOf(h labHost) labHost {
	if h == lab.a {
		return lab.b
	}
	return lab.a
}

// dropUDP makes each host drop percent of the UDP datagrams it sends, chosen
// at random, so each direction loses that share once. The drop happens in
// the output hook: the sender's sendto fails with EPERM for a dropped one.
func (lab *lossLab) dropUDP(ctx context.Context, t testing.TB, percent int) {
	t.Helper()
	lab.drop(ctx, t, "udp", percent)
}

// drop makes each host drop percent of the packets of protocol proto ("udp",
// "tcp") it sends, chosen at random.
func (lab *lossLab) drop(ctx context.Context, t testing.TB, proto string, percent int) {
	t.Helper()
	for _, h := range lab.hosts() {
		labRun(ctx, t, "ip", "netns", "exec", h.ns, "nft", "add", "table", "inet", "loss")
		labRun(ctx, t, "ip", "netns", "exec", h.ns, "nft", "add", "chain", "inet", "loss", "out",
			"{ type filter hook output priority 0; }")
		labRun(ctx, t, "ip", "netns", "exec", h.ns, "nft", "add", "rule", "inet", "loss", "out",
			"meta", "l4proto", proto, "numgen", "random", "mod", "100", "<", strconv.Itoa(percent), "drop")
	}
}

// labRun runs a command to completion and fails the test, showing the
// command and all it printed, if it does not succeed.
func labRun(ctx context.Context, t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nftCounter is how many packets the named nft counter object in namespace
// ns has counted.
func nftCounter(ctx context.Context, t testing.TB, ns, family, table, name string) int {
	t.Helper()
	out := labRun(ctx, t, "ip", "netns", "exec", ns, "nft", "list", "counter", family, table, name)
	m := regexp.MustCompile(`packets (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no packets in the nft counter %s %s %s in %s:\n%s", family, table, name, ns, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// deleteNamespace is a cleanup: it runs after the test's context may have
// expired, so it has its own deadline, and it reports rather than stops.
func deleteNamespace(t testing.TB, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "del", ns).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
	}
}

// removeStaleLabs deletes the namespaces that earlier runs left behind when
// they were killed before their cleanup ran: those whose owner PID (the last
// part of the name) no longer runs. A concurrent run's labs are left alone.
func removeStaleLabs(ctx context.Context, t testing.TB) {
	t.Helper()
	for _, line := range strings.Split(labRun(ctx, t, "ip", "netns", "list"), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ") // "NAME (id: N)"
		if !strings.HasPrefix(name, labNamePrefix) {
			continue
		}
		pid, err := strconv.Atoi(name[strings.LastIndexByte(name, '-')+1:])
		if err == nil && processRunning(pid) {
			continue
		}
		t.Logf("removing namespace %s left by an earlier run", name)
		labRun(ctx, t, "ip", "netns", "del", name)
	}
}

func processRunning(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// waitLinkReady waits until the kernel has finished bringing dev up in ns:
// operational state UP and its queueing discipline attached (until then a
// veth silently discards what is sent on it). The peer end's activation
// happens asynchronously in the kernel's link watcher and there is no
// event to wait on short of a netlink monitor, so this polls, boundedly.
func waitLinkReady(ctx context.Context, t testing.TB, ns, dev string) {
	t.Helper()
	const (
		interval = 10 * time.Millisecond
		attempts = 500 // 5 s
	)
	var last string
	for range attempts {
		out := labRun(ctx, t, "ip", "-n", ns, "-j", "link", "show", "dev", dev)
		var links []struct {
			OperState string `json:"operstate"`
			Qdisc     string `json:"qdisc"`
		}
		if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
			t.Fatalf("ip -n %s -j link show dev %s: unexpected output (%v):\n%s", ns, dev, err, out)
		}
		if links[0].OperState == "UP" && links[0].Qdisc != "noop" {
			return
		}
		last = out
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s in %s to come up: %v", dev, ns, ctx.Err())
		case <-time.After(interval):
		}
	}
	t.Fatalf("%s in %s not up after %v:\n%s", dev, ns, interval*attempts, last)
}

// listenUDPIn opens a UDP socket bound to laddr inside network namespace ns.
func listenUDPIn(ns string, laddr netip.AddrPort) (*net.UDPConn, error) {
	var conn *net.UDPConn
	err := inNamespace(ns, func() (err error) {
		conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(laddr))
		return err
	})
	return conn, err
}

// inNamespace runs open, which opens sockets, inside network namespace ns.
// A socket belongs to the namespace it was created in for its whole life,
// whichever thread uses it later, so only its creation needs to happen
// there: on a locked thread switched into ns and back. open must close what
// it opened if it fails.
func inNamespace(ns string, open func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := onThreadIn(ns, open)
		if restored {
			runtime.UnlockOSThread()
		} // else the thread stays locked and the runtime ends it with this goroutine
		done <- err
	}()
	return <-done
}

// onThreadIn does inNamespace's work on the locked current thread.
// restored reports whether the thread is back in its original namespace.
func onThreadIn(ns string, open func() error) (restored bool, err error) {
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return true, err
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return true, err
	}
	defer target.Close()

	if err := setns(target); err != nil {
		return true, fmt.Errorf("entering namespace %s: %w", ns, err)
	}
	err = open()
	if err := setns(orig); err != nil {
		return false, fmt.Errorf("leaving namespace %s: %w", ns, err)
	}
	if err != nil {
		return true, fmt.Errorf("in namespace %s: %w", ns, err)
	}
	return true, nil
}

// setns moves the calling thread into the network namespace f refers to.
func setns(f *os.File) error {
	return os.NewSyscallError("setns", unix.Setns(int(f.Fd()), unix.CLONE_NEWNET))
}
