package command

import (
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
)

// The membership news reads as a sentence whoever it is about.
func TestMembersText(t *testing.T) {
	for _, c := range []struct {
		ev   chat.MembersChanged
		want string
	}{
		{chat.MembersChanged{RoomName: "ops", Members: []string{"you", "bob"}, Added: []string{"bob"}},
			"#ops members: you, bob (bob added)"},
		{chat.MembersChanged{RoomName: "ops", Members: []string{"alice", "you"}, Added: []string{"you"}},
			"#ops members: alice, you (you were added)"},
		{chat.MembersChanged{RoomName: "ops", Members: []string{"alice"}, Gone: []string{"you"}},
			"#ops members: alice (you are no longer a member)"},
		{chat.MembersChanged{RoomName: "ops", Members: []string{"you"}, Gone: []string{"bob", "carol"}},
			"#ops members: you (bob, carol no longer a member)"},
		{chat.MembersChanged{RoomName: "ops", Removed: true}, "you were removed from #ops"},
	} {
		if got := MembersText(c.ev); got != c.want {
			t.Errorf("MembersText(%+v) = %q, want %q", c.ev, got, c.want)
		}
	}
}
