package command

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// ErrNoRooms is said when the node carries no rooms: plain mode, or a run
// without a store.
var ErrNoRooms = errors.New("rooms need encryption and the data dir's store (not --plain)")

// OpenRoom finds the room name for /room NAME and --room: one of ours, the
// one an invitation offers (joining it), or else a new one it founds
// (created says so). Both UIs open rooms by it, so that they agree.
func OpenRoom(rs chat.Rooms, name string) (created bool, err error) {
	if slices.ContainsFunc(rs.List(), func(i chat.RoomInfo) bool { return i.Name == name }) {
		return false, nil
	}
	if err := rs.Join(name); err == nil {
		return false, nil
	}
	if _, err := rs.Create(name); err != nil {
		return false, err
	}
	return true, nil
}

// CreatedText is the news that /room founded a room.
func CreatedText(name string) string {
	return fmt.Sprintf("created room #%s; /invite PEER asks someone in", termsafe.Line(name))
}

// InviteText is an invitation as both UIs show it: who, the room, its
// members, and how to join; one shown before, as its new members.
func InviteText(ev chat.RoomInvite) string {
	from, room, members := termsafe.Line(ev.From), termsafe.Line(ev.RoomName), termsafe.Line(strings.Join(ev.Members, ", "))
	if ev.Changed {
		return fmt.Sprintf("%s's invitation to room #%s now lists: %s; /join %s to join", from, room, members, room)
	}
	return fmt.Sprintf("%s invites you to room #%s (members: %s); /join %s to join", from, room, members, room)
}

// MissingText is /info's answer for our message text: who does not have it
// yet, and how the room's messages travel (docs/PROTOCOL.md RL9).
func MissingText(text string, missing []string, info chat.RoomInfo) string {
	mode := "mesh"
	if info.Fanout {
		mode = "via relay fan-out"
	}
	if len(missing) == 0 {
		return fmt.Sprintf("every member has %q (#%s: %s)", text, termsafe.Line(info.Name), mode)
	}
	return fmt.Sprintf("%q is not yet with: %s (#%s: %s)", text, strings.Join(missing, ", "), termsafe.Line(info.Name), mode)
}

// TopicText is a room's topic as both UIs show it when asked (/topic):
// what it is and who set it, or that there is none.
func TopicText(info chat.RoomInfo) string {
	room := termsafe.Line(info.Name)
	if info.Topic == "" {
		return fmt.Sprintf("#%s has no topic; its founder sets one with /topic TEXT", room)
	}
	founder := ""
	if len(info.Members) > 0 {
		founder = " (set by " + termsafe.Line(info.Members[0]) + ")"
	}
	return fmt.Sprintf("#%s topic: %s%s", room, termsafe.Line(info.Topic), founder)
}

// FindRoom returns the room called name among those rs lists.
func FindRoom(rs chat.Rooms, name string) (chat.RoomInfo, error) {
	for _, i := range rs.List() {
		if i.Name == name {
			return i, nil
		}
	}
	return chat.RoomInfo{}, fmt.Errorf("you are not in #%s", termsafe.Line(name))
}

// verb is the tail that reads right after names: "bob added", but "you
// were added" when the news is this user's own.
func verb(names []string, others, you string) string {
	if len(names) == 1 && names[0] == "you" {
		return you
	}
	return others
}

// MembersText is a room's news of its membership as both UIs show it: that
// this user was removed, or who is in now and who came and went.
func MembersText(ev chat.MembersChanged) string {
	room := termsafe.Line(ev.RoomName)
	switch {
	case ev.Removed:
		return fmt.Sprintf("you were removed from #%s", room)
	case ev.Left:
		return fmt.Sprintf("you left #%s; only a new invitation brings you back", room)
	}
	s := fmt.Sprintf("#%s members: %s", room, termsafe.Line(strings.Join(ev.Members, ", ")))
	var news []string
	if len(ev.Added) > 0 {
		news = append(news, termsafe.Line(strings.Join(ev.Added, ", "))+verb(ev.Added, " added", " were added"))
	}
	if len(ev.Gone) > 0 {
		news = append(news, termsafe.Line(strings.Join(ev.Gone, ", "))+verb(ev.Gone, " no longer a member", " are no longer a member"))
	}
	if len(news) > 0 {
		s += " (" + strings.Join(news, "; ") + ")"
	}
	return s
}
