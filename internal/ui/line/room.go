package line

import (
	"errors"
	"fmt"
	"strings"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
)

// Rooms in line mode: --room NAME (Options.Room) or /room makes a room the
// conversation, and each line goes to it; /part goes back to the peers.

// openRoom makes the room name the conversation: one of ours, the one an
// invitation offers (joining it), or else a new one we found.
func (r *runner) openRoom(name string) error {
	rs := r.node.Rooms()
	if rs == nil {
		return command.ErrNoRooms
	}
	created, err := command.OpenRoom(rs, name)
	if err != nil {
		return err
	}
	r.room = name
	if created {
		r.out.info("%s", command.CreatedText(name))
	}
	return nil
}

// roomCommand carries out a room command.
func (r *runner) roomCommand(cmd command.Command) error {
	rs := r.node.Rooms()
	if rs == nil {
		return command.ErrNoRooms
	}
	switch cmd.Kind {
	case command.Room:
		if name, ok := strings.CutPrefix(cmd.Arg, "create "); ok {
			info, err := rs.Create(strings.TrimSpace(name))
			if err == nil {
				r.room = info.Name
			}
			return err
		}
		if cmd.Arg == "" {
			for _, i := range rs.List() {
				r.out.info("#%s: %s", i.Name, strings.Join(i.Members, ", "))
			}
			return nil
		}
		return r.openRoom(cmd.Arg)
	case command.Join:
		if err := rs.Join(cmd.Arg); err != nil {
			return err
		}
		r.room = cmd.Arg
		return nil
	case command.Part:
		r.room = ""
		return nil
	}
	if r.room == "" {
		return errors.New("no room is the conversation: /room NAME or /join NAME first")
	}
	switch cmd.Kind {
	case command.Leave:
		if err := rs.Leave(r.room); err != nil {
			return err
		}
		r.out.event(chat.MembersChanged{RoomName: r.room, Left: true})
		r.room = ""
	case command.Remove:
		if cmd.Arg == "" {
			return errors.New("/remove needs a member, e.g. /remove bob")
		}
		return rs.Remove(r.room, cmd.Arg)
	case command.Invite:
		if cmd.Arg == "" {
			return errors.New("/invite needs a peer, e.g. /invite bob or /invite 192.0.2.7:7475")
		}
		if err := rs.Invite(r.room, cmd.Arg); errors.Is(err, chat.ErrInviteWaits) {
			r.out.info("%s: %s", cmd.Arg, err)
		} else if err != nil {
			return err
		}
	case command.Topic:
		if cmd.Arg != "" {
			return rs.SetTopic(r.room, cmd.Arg)
		}
		info, err := command.FindRoom(rs, r.room)
		if err != nil {
			return err
		}
		r.out.info("%s", command.TopicText(info))
	case command.Members:
		info, err := command.FindRoom(rs, r.room)
		if err != nil {
			return err
		}
		r.out.info("#%s members: %s", info.Name, strings.Join(info.Members, ", "))
	case command.Info:
		if r.lastRoomMsg == nil || r.lastRoomMsg.RoomName != r.room {
			return fmt.Errorf("you have said nothing in #%s in this run", r.room)
		}
		info, err := command.FindRoom(rs, r.room)
		if err != nil {
			return err
		}
		missing, err := rs.Missing(r.room, r.lastRoomMsg.ID)
		if err != nil {
			return err
		}
		r.out.info("%s", command.MissingText(r.lastRoomMsg.Text, missing, info))
	}
	return nil
}

// sayRoom sends text to the current room.
func (r *runner) sayRoom(text string) {
	m, err := r.node.Rooms().Say(r.room, text)
	if err != nil {
		r.notSent++
		r.out.error(fmt.Errorf("line not sent to #%s: %w", r.room, err))
		return
	}
	r.lastRoomMsg = &m
	r.out.event(m)
}
