package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// sendRoom is send --room NAME -p PEER TEXT: it posts TEXT to the room
// through PEER, a member, and exits 0 once PEER has it on disk (the room
// then spreads it: its members' status exchanges carry it to the others).
// It is a member itself, so it opens the data dir's store, and needs the
// data dir to itself.
func sendRoom(ctx context.Context, o *options, room, text string, io stdio) int {
	if len(o.peers) != 1 {
		return fail(io, "send", usagef("--room posts through one member: give exactly one -p"))
	}
	o.noStore, o.sendOnly = false, false
	node, _, closeLog, err := startNode(ctx, o, io.err)
	if err != nil {
		return fail(io, "send", err)
	}
	defer closeLog()
	joined := make(chan struct{}, 1)
	stored := make(chan chat.RoomDelivery, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for ev := range node.Events() {
			switch ev := ev.(type) {
			case chat.Joined:
				select {
				case joined <- struct{}{}:
				default:
				}
			case chat.RoomDelivery:
				if ev.K > 0 {
					select {
					case stored <- ev:
					default:
					}
				}
			case chat.Error:
				fmt.Fprintf(io.err, "udpchat: %s\n", termsafe.Line(ev.Err.Error()))
			}
		}
	}()
	err = postThrough(ctx, node, room, text, o.timeout, joined, stored)
	node.Leave(ctx)
	<-drained
	if err != nil {
		return fail(io, "send", err)
	}
	return exitOK
}

// postThrough waits for the member to join, says text in room and waits
// until a member has it.
func postThrough(ctx context.Context, node *chat.Node, room, text string, timeout time.Duration, joined <-chan struct{}, stored <-chan chat.RoomDelivery) error {
	rs := node.Rooms()
	if rs == nil {
		return errors.New("--room needs encryption (not --plain)")
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case <-joined:
	case <-wctx.Done():
		return fmt.Errorf("the member did not answer within %s", timeout)
	}
	if _, err := rs.Say(room, text); err != nil {
		return fmt.Errorf("message not sent: %w", err)
	}
	select {
	case <-stored:
		return nil
	case <-wctx.Done():
		return fmt.Errorf("no member of #%s had the message within %s; it stays in the room, and goes when you are next in it", room, timeout)
	}
}
