package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// fileEvents passes what send --file waits for from the loop that reads
// the node's events: the peer joining, and the transfer's news. Once the
// waiter is gone (stop), the rest is dropped.
type fileEvents struct {
	c    chan chat.Event
	stop chan struct{}
}

func newFileEvents() *fileEvents {
	return &fileEvents{c: make(chan chat.Event, 64), stop: make(chan struct{})}
}

// pass hands ev to the waiter if it is one it waits for; a progress event
// it has no room for is dropped, since a later one says more.
func (f *fileEvents) pass(ev chat.Event) {
	if f == nil {
		return
	}
	switch ev.(type) {
	case chat.FileProgress:
		select {
		case f.c <- ev:
		default:
		}
	case chat.Joined, chat.FileOffer, chat.FileDone, chat.FileFailed:
		select {
		case f.c <- ev:
		case <-f.stop:
		}
	}
}

// sendFile waits (up to timeout) for the peer to join, offers it the file
// at path, and waits until the peer has verified the whole of it. After the
// peer accepted, a transfer that makes no progress for timeout fails.
func sendFile(ctx context.Context, node *chat.Node, path string, timeout time.Duration, evs *fileEvents) error {
	defer close(evs.stop)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var peer chat.Joined
	for peer.Peer == (chat.Joined{}).Peer {
		select {
		case <-ctx.Done():
			return errors.New("interrupted before the peer answered")
		case <-timer.C:
			return fmt.Errorf("file not sent: the peer did not answer within %s; is udpchat running there, without --plain, and does the network let UDP through?", timeout)
		case ev := <-evs.c:
			if j, ok := ev.(chat.Joined); ok {
				peer = j
			}
		}
	}
	ft, err := node.SendFile(peer.Peer, path)
	if err != nil {
		return fmt.Errorf("file not sent: %w", err)
	}
	accepted := false
	timer.Stop()
	for {
		var stalled <-chan time.Time
		if accepted {
			stalled = timer.C
		}
		select {
		case <-ctx.Done():
			node.CancelFile(ft.ID)
			return errors.New("interrupted before the file was delivered")
		case <-stalled:
			return fmt.Errorf("%s: no progress for %s: the peer stopped answering", ft.Name, timeout)
		case ev := <-evs.c:
			switch ev := ev.(type) {
			case chat.FileProgress:
				if ev.ID != ft.ID {
					continue
				}
				accepted = true
				timer.Reset(timeout)
			case chat.FileDone:
				if ev.ID == ft.ID {
					return nil
				}
			case chat.FileFailed:
				if ev.ID != ft.ID {
					continue
				}
				if ev.Declined {
					return fmt.Errorf("%s declined %s: %s", termsafe.Line(ft.PeerName), termsafe.Line(ft.Name), termsafe.Line(ev.Err.Error()))
				}
				return fmt.Errorf("%s not delivered: %s", termsafe.Line(ft.Name), termsafe.Line(ev.Err.Error()))
			}
		}
	}
}
