package main

import (
	"strings"
	"testing"
)

// Rooms in the terminal UI, for real: alice's TUI opens #ops with --room
// and founds #dev; bob, in line mode, joins both and writes in each and
// directly. alice, looking at #dev, sees the others counted in the panel,
// a mention of her name marked and ringing the bell (tmux's bell flag),
// and Ctrl+P shows #ops with "— new —" above what came while she was away.
func TestTUIRoomsInTmux(t *testing.T) {
	alice, bob := aliceTUIAndBobLine(t)

	alice.waitScreen(`▸2 #ops`)
	alice.waitScreen(`● bob`) // "bob joined" is news of the direct chat, not shown
	alice.typeLine("/invite bob")
	bob.waitStderr(`alice invites you to room #ops`)
	bob.typeLine("/join ops")
	alice.waitScreen(`#ops members: you, bob`)
	alice.typeLine("before you left")
	alice.waitScreen(`✓✓ 1/1 alice: before you left`)
	bob.waitScreen(`#ops alice: before you left`)

	alice.typeLine("/room create dev")
	alice.waitScreen(`▸3 #dev`)
	alice.typeLine("/invite bob")
	bob.waitStderr(`alice invites you to room #dev`)
	bob.typeLine("/join dev")
	alice.waitScreen(`#dev members: you, bob`)

	bob.typeLine("/room ops")
	bob.typeLine("the build is green")
	alice.waitScreen(`2 #ops \(1\)`)
	if f := bellFlag(alice); f != "0" {
		t.Errorf("alice's window bell flag is %s after a message that does not name her, want 0", f)
	}
	bob.typeLine("alice, can you look?")
	alice.waitScreen(`2 #ops \(2\) @`)
	if f := bellFlag(alice); f != "1" {
		t.Errorf("alice's window bell flag is %s after a mention in another room, want 1", f)
	}
	bob.typeLine("/part")
	bob.typeLine("a direct word")
	alice.waitScreen(`1 direct chat \(1\)`)
	if strings.Contains(alice.capture(), "the build is green") {
		t.Error("#ops's message shows while #dev is the conversation")
	}

	alice.keys("C-p")
	screen := alice.waitScreen(`▸2 #ops`)
	iNew, iSeen, iCame := strings.Index(screen, "— new —"), strings.Index(screen, "before you left"), strings.Index(screen, "bob: the build is green")
	if iNew < 0 || iSeen < 0 || iCame < 0 || !(iSeen < iNew && iNew < iCame) {
		t.Errorf("#ops does not show — new — between what alice saw and what came since:\n%s", screen)
	}
	alice.keys("M-1")
	alice.waitScreen(`bob: a direct word`)

	alice.typeLine("/quit")
	if code := alice.exitCode(); code != 0 {
		t.Errorf("alice exited %d after /quit, want 0; stderr:\n%s", code, alice.stderr())
	}
}

// aliceTUIAndBobLine starts, in tmux, alice's terminal UI on room ops and
// bob in line mode, each given the other as a peer.
func aliceTUIAndBobLine(t *testing.T) (alice, bob *pane) {
	requireTmux(t)
	tm := newTmux(t)
	alicePort, bobPort := freeUDPPort(t), freeUDPPort(t)
	alice = tm.start("alice", "--listen", "127.0.0.1:"+alicePort, "--peer", "127.0.0.1:"+bobPort, "--name", "alice", "--room", "ops")
	bob = tm.start("bob", "--line", "--listen", "127.0.0.1:"+bobPort, "--peer", "127.0.0.1:"+alicePort, "--name", "bob")
	return alice, bob
}

// bellFlag is tmux's window_bell_flag of p's window: 1 once the program in
// it rang the bell (the session is detached, so nothing clears it).
func bellFlag(p *pane) string {
	return strings.TrimSpace(p.tm.run("display-message", "-p", "-t", p.name, "#{window_bell_flag}"))
}

// The topic and leaving in the terminal UI, for real: alice, the founder,
// sets #ops's topic, which her header shows beside the room's name and bob,
// in line mode, is told; bob leaves, and alice is told he is no longer a
// member; alice, the founder, cannot leave.
func TestTUIRoomTopicAndLeaveInTmux(t *testing.T) {
	alice, bob := aliceTUIAndBobLine(t)

	alice.waitScreen(`● bob`)
	alice.typeLine("/invite bob")
	bob.waitStderr(`alice invites you to room #ops`)
	bob.typeLine("/join ops")
	alice.waitScreen(`#ops members: you, bob`)

	alice.typeLine("/topic deploy friday")
	alice.waitScreen(`#ops · deploy friday`)
	alice.waitScreen(`you set the topic: deploy friday`)
	bob.waitScreen(`#ops alice: \* topic: deploy friday`)

	bob.typeLine("/leave")
	bob.waitStderr(`you left #ops; only a new invitation brings you back`)
	alice.waitScreen(`#ops members: you \(bob no longer a member\)`)
	alice.typeLine("/leave")
	alice.waitScreen(`the founder cannot leave`)
}

// The terminal UI's /help lists the room commands and fits an 80x24
// terminal, from its title to the last line about your messages; Tab
// completes a room command, and /help NAME says what one does.
func TestTUIHelpListsRoomsInTmux(t *testing.T) {
	requireTmux(t)
	alice := newTmux(t).start("alice", "--listen", "127.0.0.1:"+freeUDPPort(t), "--name", "alice")
	alice.resize(80, 24)
	alice.waitScreen(`Nobody is here yet`)
	alice.typeLine("/help")
	screen := alice.waitScreen(`/cancel gives up on one not yet delivered`)
	for _, want := range []string{"Commands", "rooms   /room [create] NAME  /invite PEER  /join NAME", "/members  /info", "Keys", "Your messages"} {
		if !strings.Contains(screen, want) {
			t.Errorf("/help at 80x24 does not show %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "scrolled") {
		t.Errorf("/help at 80x24 does not fit the screen:\n%s", screen)
	}
	alice.keys("-l", "/memb")
	alice.keys("Tab")
	alice.waitScreen(`> /members`)
	alice.keys("C-u")
	alice.typeLine("/help leave")
	alice.waitScreen(`/leave +leave the current room for good`)
	alice.typeLine("/quit")
	if code := alice.exitCode(); code != 0 {
		t.Errorf("alice exited %d after /quit, want 0; stderr:\n%s", code, alice.stderr())
	}
}
