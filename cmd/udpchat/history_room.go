package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/udpchat/udpchat/internal/chat/roomchat"
	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// roomHistoryCommand is history --room NAME: the room's messages in its
// one order (Lamport clock, then sender), the same at every member, one a
// line as "#ROOM NAME: TEXT" (NAME as the contacts know the sender), or
// JSON.
func roomHistoryCommand(ctx context.Context, dir, room string, asJSON bool, io stdio) int {
	labels, err := roomchat.LoadLabels(filepath.Join(dir, roomLabels))
	if err != nil {
		return fail(io, "history", err)
	}
	var id [16]byte
	found := false
	for rid, l := range labels {
		if l == room {
			id, found = rid, true
		}
	}
	if !found {
		return fail(io, "history", fmt.Errorf("no room called %q in %s", room, dir))
	}
	st, err := store.OpenReadOnly(ctx, dir)
	if err != nil {
		return fail(io, "history", err)
	}
	defer st.Close()
	ms, err := st.RoomMessages(ctx, id)
	if err != nil {
		return fail(io, "history", err)
	}
	slices.SortFunc(ms, func(a, b store.RoomMessage) int {
		return cmp.Or(cmp.Compare(a.Lamport, b.Lamport), bytes.Compare(a.Sender[:], b.Sender[:]), cmp.Compare(a.Seq, b.Seq))
	})
	// The identity made the room's messages of ours; it exists where a
	// room does, so this reads it and makes nothing.
	self, err := identity.Load(dir)
	if err != nil {
		return fail(io, "history", err)
	}
	names := map[[32]byte]string{self.Public(): "you"}
	name := func(k [32]byte) string {
		if n, ok := names[k]; ok {
			return n
		}
		n := keys.PublicKey(k).Fingerprint()
		if c, err := st.Contact(ctx, k); err == nil {
			n = cmp.Or(c.GivenName, c.AnnouncedName, n)
		}
		names[k] = n
		return n
	}
	enc := json.NewEncoder(io.out)
	enc.SetEscapeHTML(false)
	for _, m := range ms {
		if asJSON {
			err = enc.Encode(struct {
				Room    string `json:"room"`
				Sender  string `json:"sender"`
				Seq     uint64 `json:"seq"`
				Name    string `json:"name"`
				Text    string `json:"text"`
				History bool   `json:"history,omitempty"`
			}{room, keys.PublicKey(m.Sender).String(), m.Seq, name(m.Sender), roomchat.MessageText(m.Text), m.History})
		} else {
			_, err = fmt.Fprintf(io.out, "#%s %s: %s\n", termsafe.Line(room), termsafe.Line(name(m.Sender)), termsafe.Line(roomchat.MessageText(m.Text)))
		}
		if err != nil {
			return fail(io, "history", err)
		}
	}
	return exitOK
}
