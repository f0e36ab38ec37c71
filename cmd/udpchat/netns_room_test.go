//go:build linux

package main

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Five hosts on one LAN (network namespaces on a bridge) in one room, the
// last of them dropping 20 % of the UDP it sends and receives (nft): what
// everyone says reaches everyone, and every member's history of the room
// ends the same, each line once.
func TestRoomFiveHostsOneLossy(t *testing.T) {
	requireRootNetns(t, "ip", "nft")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	lab := newLANLab(ctx, t, 5)
	lossy := lab.hosts[4]
	labRun(ctx, t, "ip", "netns", "exec", lossy, "nft", "add", "table", "inet", "loss")
	for _, hook := range []string{"input", "output"} {
		labRun(ctx, t, "ip", "netns", "exec", lossy, "nft", "add", "chain", "inet", "loss", hook,
			"{ type filter hook "+hook+" priority 0; }")
		labRun(ctx, t, "ip", "netns", "exec", lossy, "nft", "add", "rule", "inet", "loss", hook,
			"meta", "l4proto", "udp", "numgen", "random", "mod", "100", "<", "20", "drop")
	}

	var all []*roomMember
	for i, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
		all = append(all, &roomMember{name: name, addr: fmt.Sprintf("10.199.77.%d:7475", i+1), dir: privateDir(t), netns: lab.hosts[i]})
	}
	// Everyone knows everyone: each asks for those started before it.
	for i := len(all) - 1; i >= 0; i-- {
		var args []string
		for _, o := range all[i+1:] {
			args = append(args, "-p", o.addr)
		}
		if i == 0 {
			args = append(args, "--room", "lab")
		}
		startRoomMember(t, all[i], args...)
	}
	formRoom(t, "lab", all)
	var said []string
	for n := range 3 {
		for _, m := range all {
			text := fmt.Sprintf("%s %d", m.name, n)
			m.say(t, text)
			said = append(said, text)
		}
	}
	for _, m := range all {
		m.stdout.waitFor(t, m.name+"'s room messages", func() bool {
			return len(roomMessages(t, m.stdout, "lab")) == len(said)-3
		})
	}
	sameHistories(t, "lab", all, said)
}
