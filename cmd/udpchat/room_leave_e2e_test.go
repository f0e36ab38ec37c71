package main

import (
	"fmt"
	"slices"
	"testing"
)

// listed reports whether the list field key of a JSON event names who.
func listed(ev map[string]any, key, who string) bool {
	l, _ := ev[key].([]any)
	return slices.ContainsFunc(l, func(v any) bool { return fmt.Sprint(v) == who })
}

// Three udpchats: alice, the founder of #ops, sets its /topic, which bob
// cannot, and every member is told. bob /leave's #ops, and alice /remove's
// carol. bob is told he left, carol that she was removed, alice and carol
// that bob is no longer a member. What alice says then reaches neither;
// invited back, bob /join's again and gets what alice says next.
func TestRoomLeaveRemoveAndBack(t *testing.T) {
	alice := &roomMember{name: "alice", addr: loopback(t), dir: t.TempDir()}
	bob := &roomMember{name: "bob", addr: loopback(t), dir: t.TempDir()}
	carol := &roomMember{name: "carol", addr: loopback(t), dir: t.TempDir()}
	startRoomMember(t, carol)
	startRoomMember(t, bob, "-p", carol.addr)
	startRoomMember(t, alice, "--room", "ops", "-p", bob.addr, "-p", carol.addr)
	formRoom(t, "ops", []*roomMember{alice, bob, carol})

	bob.say(t, "/topic mine now")
	bob.stdout.waitLine(t, `"type":"error".*only the founder of #ops sets its topic`)
	alice.say(t, "/topic deploy friday")
	for _, m := range []*roomMember{bob, carol} {
		m.stdout.waitLine(t, `"type":"topic","room":"ops","name":"alice","topic":"deploy friday"`)
	}

	// Members show bob by name once they have met him, by his key's
	// fingerprint before (carol meets him through the room, which can
	// take a while under load): either is bob.
	var bobFP string
	hasEvent(t, alice.stdout, "joined", func(ev map[string]any) bool {
		if ev["name"] == "bob" {
			bobFP, _ = ev["fingerprint"].(string)
		}
		return bobFP != ""
	})
	if bobFP == "" {
		t.Fatal("alice's joined event for bob has no fingerprint")
	}
	bob.say(t, "/leave")
	bob.stdout.waitLine(t, `"type":"members","room":"ops","members":null,"left":true`)
	for _, m := range []*roomMember{alice, carol} {
		m.stdout.waitFor(t, m.name+" is told bob is out", func() bool {
			return hasEvent(t, m.stdout, "members", func(ev map[string]any) bool {
				return (listed(ev, "gone", "bob") || listed(ev, "gone", bobFP)) && !listed(ev, "members", "bob") && !listed(ev, "members", bobFP)
			})
		})
	}
	// /room ops (which founds a room of a name one does not have) says how
	// to get back in.
	bob.say(t, "/room ops")
	bob.stdout.waitLine(t, `"type":"error".*you left #ops: only a new invitation from its founder brings you back`)
	carol.say(t, "/remove alice")
	carol.stdout.waitLine(t, `"type":"error".*only the founder of #ops removes members`)
	alice.say(t, "/remove carol")
	carol.stdout.waitFor(t, "carol is told she was removed", func() bool {
		return hasEvent(t, carol.stdout, "members", func(ev map[string]any) bool { return ev["removed"] == true })
	})
	carol.say(t, "/room create ops")
	carol.stdout.waitLine(t, `"type":"error".*you were removed from #ops: only a new invitation from its founder brings you back`)
	alice.say(t, "while they are out")
	alice.say(t, "/invite bob")
	bob.stdout.waitFor(t, "bob's second invitation", func() bool { return len(jsonEvents(t, bob.stdout, "invite")) == 2 })
	bob.say(t, "/join ops")
	alice.stdout.waitFor(t, "alice sees bob back", func() bool {
		return hasEvent(t, alice.stdout, "members", func(ev map[string]any) bool { return listed(ev, "added", "bob") })
	})
	alice.say(t, "welcome back")
	bob.stdout.waitFor(t, "bob gets the welcome", func() bool {
		return slices.Contains(roomMessages(t, bob.stdout, "ops"), "welcome back")
	})
	bob.say(t, "glad to be back")
	alice.stdout.waitFor(t, "alice gets bob's line", func() bool {
		return slices.Contains(roomMessages(t, alice.stdout, "ops"), "glad to be back")
	})
	for _, m := range []*roomMember{bob, carol} {
		if got := roomMessages(t, m.stdout, "ops"); slices.Contains(got, "while they are out") {
			t.Errorf("%s, out of the room, was shown %q", m.name, "while they are out")
		}
	}
	if got := roomMessages(t, carol.stdout, "ops"); slices.Contains(got, "welcome back") || slices.Contains(got, "glad to be back") {
		t.Errorf("carol, removed, was shown %q", got)
	}
}

// An invitation outlives the invitee's restart: bob, invited to #ops and
// killed, is offered it again when he starts with alice gone (so she cannot
// send it again), and /join joins.
func TestRoomInvitationOutlivesRestart(t *testing.T) {
	alice := &roomMember{name: "alice", addr: loopback(t), dir: t.TempDir()}
	bob := &roomMember{name: "bob", addr: loopback(t), dir: t.TempDir()}
	startRoomMember(t, bob)
	startRoomMember(t, alice, "--room", "ops", "-p", bob.addr)
	alice.stdout.waitLine(t, `"type":"joined".*"name":"bob"`)
	alice.say(t, "/invite bob")
	bob.stdout.waitLine(t, `"type":"invite","room":"ops","name":"alice"`)
	alice.kill9(t)
	bob.kill9(t)
	startRoomMember(t, bob)
	bob.stdout.waitLine(t, `"type":"invite","room":"ops","name":"[^"]*","members":\["[^"]*","you"\]`)
	bob.say(t, "/join ops")
	bob.stdout.waitFor(t, "bob joins #ops", func() bool {
		return hasEvent(t, bob.stdout, "members", func(ev map[string]any) bool { return ev["room"] == "ops" && listed(ev, "members", "you") })
	})
	if errs := jsonEvents(t, bob.stdout, "error"); len(errs) != 0 {
		t.Fatalf("bob's /join after the restart: %v", errs)
	}
}
