package main

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// roomMember is one udpchat process of a room test, with what it needs to
// be started again where it was.
type roomMember struct {
	name, addr, dir string
	netns           string // the network namespace it runs in; "" for ours
	*proc
}

func startRoomMember(t *testing.T, m *roomMember, args ...string) {
	t.Helper()
	args = append([]string{"--json", "--no-discovery", "-n", m.name, "-l", m.addr, "--data-dir", m.dir}, args...)
	if m.netns == "" {
		m.proc = udpchat(t, args...)
		return
	}
	m.proc = start(t, "ip", append([]string{"netns", "exec", m.netns, udpchatBinary}, args...)...)
}

// roomMessages returns the texts of the room messages of room on s so far.
func roomMessages(t *testing.T, s *stream, room string) []string {
	t.Helper()
	var out []string
	for _, ev := range jsonEvents(t, s, "message") {
		if ev["room"] == room {
			out = append(out, fmt.Sprint(ev["text"]))
		}
	}
	return out
}

// hasEvent says whether s has an event of type typ for which ok holds.
func hasEvent(t *testing.T, s *stream, typ string, ok func(map[string]any) bool) bool {
	return slices.ContainsFunc(jsonEvents(t, s, typ), ok)
}

func members(ev map[string]any) []string {
	var out []string
	for _, m := range ev["members"].([]any) {
		out = append(out, fmt.Sprint(m))
	}
	return out
}

// roomHistory is udpchat history --room of m's data dir, one text a line.
func roomHistory(t *testing.T, m *roomMember, room string) []string {
	t.Helper()
	out, err := exec.Command(udpchatBinary, "history", "--room", room, "--data-dir", m.dir).Output()
	if err != nil {
		t.Fatalf("history --room %s of %s: %v", room, m.name, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// formRoom has all[0], which founded room, invite the others, who join;
// it returns when every member sees them all.
func formRoom(t *testing.T, room string, all []*roomMember) {
	t.Helper()
	founder := all[0]
	for _, m := range all[1:] {
		// An invitation made before the invitee's room key arrives waits
		// for it.
		founder.stdout.waitLine(t, `"type":"joined".*"name":"`+m.name+`"`)
		founder.say(t, "/invite "+m.name)
		founder.stdout.waitFor(t, "the invitation of "+m.name, func() bool {
			return hasEvent(t, founder.stdout, "members", func(ev map[string]any) bool { return slices.Contains(members(ev), m.name) })
		})
		m.stdout.waitLine(t, `"type":"invite","room":"`+room+`","name":"`+founder.name+`"`)
		m.say(t, "/join "+room)
	}
	for _, m := range all {
		m.stdout.waitFor(t, m.name+" sees every member", func() bool {
			return hasEvent(t, m.stdout, "members", func(ev map[string]any) bool { return len(members(ev)) == len(all) })
		})
	}
}

// sameHistories checks that every member's history of room has the same
// texts in the same order, and that they are those said, each once.
func sameHistories(t *testing.T, room string, all []*roomMember, said []string) {
	t.Helper()
	want := roomHistory(t, all[0], room)
	if got := roomTexts(want); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(said))) {
		t.Fatalf("%s's history of #%s: %q; want every line of %q once", all[0].name, room, want, said)
	}
	for _, m := range all[1:] {
		if got := roomHistory(t, m, room); !slices.Equal(roomTexts(got), roomTexts(want)) {
			t.Errorf("%s's history of #%s:\n%s\n%s's:\n%s", m.name, room, strings.Join(got, "\n"), all[0].name, strings.Join(want, "\n"))
		}
	}
}

// Three udpchats on loopback: alice founds #ops with --room and invites bob
// and carol, who see the invitation and /join. What each says reaches the
// other two once; carol, killed with SIGKILL and started again, gets what
// was said while she was gone and says more; in the end every member's
// history of the room is the same, every line once, in the same order.
// Then bob leaves and posts with udpchat send --room through alice.
func TestRoomThreeProcessesAndARestart(t *testing.T) {
	alice := &roomMember{name: "alice", addr: loopback(t), dir: t.TempDir()}
	bob := &roomMember{name: "bob", addr: loopback(t), dir: t.TempDir()}
	carol := &roomMember{name: "carol", addr: loopback(t), dir: t.TempDir()}
	all := []*roomMember{alice, bob, carol}
	startRoomMember(t, carol)
	startRoomMember(t, bob, "-p", carol.addr)
	startRoomMember(t, alice, "--room", "ops", "-p", bob.addr, "-p", carol.addr)

	formRoom(t, "ops", all)
	var said []string
	say := func(m *roomMember, n int) {
		text := fmt.Sprintf("%s %d", m.name, n)
		m.say(t, text)
		said = append(said, text)
	}
	for n := range 2 {
		for _, m := range all {
			say(m, n)
		}
	}
	for _, m := range all {
		m.stdout.waitFor(t, m.name+"'s 4 room messages", func() bool { return len(roomMessages(t, m.stdout, "ops")) == 4 })
	}
	before := roomMessages(t, carol.stdout, "ops")
	carol.kill9(t)
	say(alice, 2)
	say(bob, 2)
	startRoomMember(t, carol, "--room", "ops")
	say(carol, 2)

	for _, m := range all {
		want := len(said)
		m.stdout.waitFor(t, m.name+"'s room messages", func() bool {
			got := roomMessages(t, m.stdout, "ops")
			if m == carol {
				got = append(before, got...)
			}
			return len(got) == want-3
		})
	}
	sameHistories(t, "ops", all, said)

	// bob leaves, and posts once more with udpchat send, through alice.
	bob.say(t, "/quit")
	if code := bob.exit(t); code != 0 {
		t.Fatalf("bob exited %d after /quit:\n%s", code, bob.stderr)
	}
	send := udpchat(t, "send", "--room", "ops", "-p", alice.addr, "--data-dir", bob.dir, "-n", "bob", "-l", "127.0.0.1:0", "bob by send")
	if code := send.exit(t); code != 0 {
		t.Fatalf("send --room exited %d:\n%s", code, send.stderr)
	}
	for _, m := range []*roomMember{alice, carol} {
		m.stdout.waitFor(t, m.name+" gets what bob sent", func() bool {
			return slices.Contains(roomMessages(t, m.stdout, "ops"), "bob by send")
		})
	}
	shown := map[string]int{}
	for _, m := range all {
		got := roomMessages(t, m.stdout, "ops")
		if m == carol {
			got = append(before, got...)
		}
		for _, text := range got {
			if shown[m.name+"/"+text]++; shown[m.name+"/"+text] > 1 || strings.HasPrefix(text, m.name) {
				t.Errorf("%s was shown %q twice, or its own", m.name, text)
			}
		}
	}
}

// roomTexts are the texts of history lines ("#ROOM NAME: TEXT"): each
// member names the senders its own way ("you" for itself).
func roomTexts(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		_, out[i], _ = strings.Cut(l, ": ")
	}
	return out
}
