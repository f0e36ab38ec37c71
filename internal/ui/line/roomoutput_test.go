package line

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
)

// Someone's room message prints as "#ROOM NAME: TEXT" on stdout; our own
// is silent in text mode; in JSON every room event names its room.
func TestRoomOutput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	o := newOutput(&stdout, &stderr, false)
	o.event(chat.RoomMessage{RoomName: "ops", From: "bob", Text: "hi\x1b[2J"})
	o.event(chat.RoomMessage{RoomName: "ops", From: "you", Text: "mine", Own: true})
	o.event(chat.RoomTopic{RoomName: "ops", From: "alice", Topic: "deploy friday"})
	o.event(chat.RoomInvite{RoomName: "ops", From: "alice", Members: []string{"alice", "you"}})
	o.event(chat.RoomInvite{RoomName: "ops", From: "alice", Members: []string{"alice", "carol", "you"}, Changed: true})
	o.event(chat.MembersChanged{RoomName: "ops", Members: []string{"alice", "you"}, Added: []string{"dan"}, Gone: []string{"carol"}})
	o.event(chat.MembersChanged{RoomName: "dev", Removed: true})
	o.event(chat.MembersChanged{RoomName: "ops", Left: true})
	if got, want := stdout.String(), "#ops bob: hi\\x1b[2J\n#ops alice: * topic: deploy friday\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got, want := stderr.String(), "* alice invites you to room #ops (members: alice, you); /join ops to join\n"+
		"* alice's invitation to room #ops now lists: alice, carol, you; /join ops to join\n"+
		"* #ops members: alice, you (dan added; carol no longer a member)\n"+
		"* you were removed from #dev\n"+
		"* you left #ops; only a new invitation brings you back\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}

	stdout.Reset()
	o = newOutput(&stdout, &stderr, true)
	for _, ev := range []chat.Event{
		chat.RoomMessage{RoomName: "ops", From: "bob", Text: "hi"},
		chat.RoomInvite{RoomName: "ops", From: "alice"},
		chat.RoomDelivery{RoomName: "ops", K: 1, N: 2},
		chat.MembersChanged{RoomName: "ops", Members: []string{"you"}},
		chat.RoomTopic{RoomName: "ops", From: "alice", Topic: "deploy friday"},
	} {
		o.event(ev)
	}
	dec := json.NewDecoder(&stdout)
	for _, typ := range []string{"message", "invite", "delivered", "members", "topic"} {
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		if ev["type"] != typ || ev["room"] != "ops" {
			t.Errorf("JSON event %v, want type %s in room ops", ev, typ)
		}
	}
}
