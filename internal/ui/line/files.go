package line

import (
	"fmt"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// fileText shows a file event in text mode, on stderr: what a person
// reads about files is news, not messages. It reports whether ev was one.
func (o *output) fileText(ev chat.Event) bool {
	switch ev := ev.(type) {
	case chat.FileOffer:
		fmt.Fprintf(o.stderr, "* %s\n", termsafe.Line(command.FileOfferText(ev)))
	case chat.FileProgress:
		fmt.Fprintf(o.stderr, "* %s\n", termsafe.Line(command.FileProgressText(ev)))
	case chat.FileDone:
		fmt.Fprintf(o.stderr, "* %s\n", termsafe.Line(command.FileDoneText(ev)))
	case chat.FileFailed:
		fmt.Fprintf(o.stderr, "* %s\n", termsafe.Line(command.FileFailedText(ev)))
	default:
		return false
	}
	return true
}

// fileJSON is a file event as the object --json prints for it, or nil.
func fileJSON(ev chat.Event) any {
	type transfer struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		Peer     string `json:"peer"`
		PeerName string `json:"peer_name"`
		Incoming bool   `json:"incoming"`
		Name     string `json:"name"`
		Size     uint64 `json:"size"`
	}
	about := func(typ string, t chat.FileTransfer) transfer {
		return transfer{typ, t.ID.String(), t.Peer.String(), t.PeerName, t.Incoming, t.Name, t.Size}
	}
	switch ev := ev.(type) {
	case chat.FileOffer:
		return struct {
			transfer
			Resumed bool `json:"resumed,omitempty"`
		}{about("file_offer", ev.FileTransfer), ev.Resumed}
	case chat.FileProgress:
		return struct {
			transfer
			Bytes   uint64  `json:"bytes"`
			Rate    float64 `json:"rate"`
			LeftSec float64 `json:"left_seconds"`
		}{about("file_progress", ev.FileTransfer), ev.Bytes, ev.Rate, ev.Left.Seconds()}
	case chat.FileDone:
		return struct {
			transfer
			Path       string `json:"path,omitempty"`
			Blocks     uint64 `json:"blocks"`
			Resumed    uint64 `json:"resumed_blocks"`
			Duplicates uint64 `json:"duplicate_blocks"`
		}{about("file_done", ev.FileTransfer), ev.Path, ev.Blocks, ev.Resumed, ev.DuplicateBlocks}
	case chat.FileFailed:
		return struct {
			transfer
			Declined bool   `json:"declined,omitempty"`
			Error    string `json:"error"`
		}{about("file_failed", ev.FileTransfer), ev.Declined, ev.Err.Error()}
	}
	return nil
}
