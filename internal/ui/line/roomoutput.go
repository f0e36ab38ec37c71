package line

import (
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// roomEvent shows a room's news: someone's message on stdout as
// "#ROOM NAME: TEXT", the rest on stderr. Our own messages and deliveries
// are silent, as to peers (/info asks).
func roomEvent(stdout, stderr io.Writer, ev chat.Event) error {
	switch ev := ev.(type) {
	case chat.RoomMessage:
		if ev.Own {
			return nil
		}
		_, err := fmt.Fprintf(stdout, "#%s %s: %s\n", termsafe.Line(ev.RoomName), termsafe.Line(ev.From), termsafe.Line(ev.Text))
		return err
	case chat.RoomTopic:
		_, err := fmt.Fprintf(stdout, "#%s %s: * topic: %s\n", termsafe.Line(ev.RoomName), termsafe.Line(ev.From), termsafe.Line(ev.Topic))
		return err
	case chat.RoomInvite:
		fmt.Fprintf(stderr, "* %s\n", command.InviteText(ev))
	case chat.MembersChanged:
		fmt.Fprintf(stderr, "* %s\n", command.MembersText(ev))
	}
	return nil
}

// roomMsgID is how a room message's ID prints: its sender's key, a dash,
// its seq.
func roomMsgID(id chat.RoomMsgID) string {
	return fmt.Sprintf("%s-%d", hex.EncodeToString(id.Sender[:]), id.Seq)
}

// roomJSON is a room event as --json prints it: each carries "room".
func roomJSON(ev chat.Event) any {
	switch ev := ev.(type) {
	case chat.RoomMessage:
		typ := "message"
		if ev.Own {
			typ = "sent"
		}
		return struct {
			Type    string `json:"type"`
			Room    string `json:"room"`
			ID      string `json:"id"`
			Name    string `json:"name"`
			Text    string `json:"text"`
			History bool   `json:"history,omitempty"`
			Time    string `json:"time"`
		}{typ, ev.RoomName, roomMsgID(ev.ID), ev.From, ev.Text, ev.History, ev.At.Format(time.RFC3339Nano)}
	case chat.RoomTopic:
		return struct {
			Type  string `json:"type"`
			Room  string `json:"room"`
			Name  string `json:"name"`
			Topic string `json:"topic"`
		}{"topic", ev.RoomName, ev.From, ev.Topic}
	case chat.RoomInvite:
		return struct {
			Type    string   `json:"type"`
			Room    string   `json:"room"`
			Name    string   `json:"name"`
			Members []string `json:"members"`
			Changed bool     `json:"changed,omitempty"`
		}{"invite", ev.RoomName, ev.From, ev.Members, ev.Changed}
	case chat.RoomDelivery:
		return struct {
			Type string `json:"type"`
			Room string `json:"room"`
			ID   string `json:"id"`
			K    int    `json:"k"`
			N    int    `json:"n"`
		}{"delivered", ev.RoomName, roomMsgID(ev.ID), ev.K, ev.N}
	case chat.MembersChanged:
		return struct {
			Type    string   `json:"type"`
			Room    string   `json:"room"`
			Members []string `json:"members"`
			Added   []string `json:"added,omitempty"`
			Gone    []string `json:"gone,omitempty"`
			Removed bool     `json:"removed,omitempty"`
			Left    bool     `json:"left,omitempty"`
		}{"members", ev.RoomName, ev.Members, ev.Added, ev.Gone, ev.Removed, ev.Left}
	}
	return nil
}
