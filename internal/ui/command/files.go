package command

import (
	"fmt"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/udpchat/udpchat/internal/chat"
)

// What the UIs say about files; the UI escapes what it prints.

func who(t chat.FileTransfer) string {
	if t.PeerName != "" {
		return t.PeerName
	}
	return t.Peer.String()
}

// FileOfferText says a peer offers a file, and how to take it.
func FileOfferText(ev chat.FileOffer) string {
	if ev.Resumed {
		return fmt.Sprintf("%s's %s (%s) goes on where it stopped [%s]", who(ev.FileTransfer), ev.Name, humanize.IBytes(ev.Size), short(ev.ID))
	}
	return fmt.Sprintf("%s offers %s (%s): /accept %s or /decline %s", who(ev.FileTransfer), ev.Name, humanize.IBytes(ev.Size), short(ev.ID), short(ev.ID))
}

// FileProgressText is a transfer's progress in words.
func FileProgressText(ev chat.FileProgress) string {
	s := fmt.Sprintf("%s %s: %s of %s", direction(ev.FileTransfer), ev.Name, humanize.IBytes(ev.Bytes), humanize.IBytes(ev.Size))
	if ev.Rate > 0 {
		s += fmt.Sprintf(", %s/s", humanize.IBytes(uint64(ev.Rate)))
	}
	if ev.Left > 0 {
		s += fmt.Sprintf(", %s left", ev.Left.Round(time.Second))
	}
	return s
}

// FileDoneText says a transfer is complete.
func FileDoneText(ev chat.FileDone) string {
	if ev.Incoming {
		return fmt.Sprintf("received %s from %s, verified: %s", ev.Name, who(ev.FileTransfer), ev.Path)
	}
	return fmt.Sprintf("%s has %s (%s), verified", who(ev.FileTransfer), ev.Name, humanize.IBytes(ev.Size))
}

// FileFailedText says why a transfer ended without the file.
func FileFailedText(ev chat.FileFailed) string {
	return fmt.Sprintf("%s %s: %v", direction(ev.FileTransfer), ev.Name, ev.Err)
}

func direction(t chat.FileTransfer) string {
	if t.Incoming {
		return "from " + who(t) + ":"
	}
	return "to " + who(t) + ":"
}

// short is the part of a transfer ID a person types: enough to tell it
// from the few under way.
func short(id chat.FileID) string { return id.String()[:8] }
