package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// History lists the files sent and received beside the messages, each
// where it began: the store's transfers, selected by the same filters
// (--search matches the file's name).

// transfersBeside returns the transfers that match q and belong in a
// listing of ms: when the limit cut the messages, only those since the
// oldest message shown, so that the listing has no hole.
func transfersBeside(ctx context.Context, st *store.MessageDB, q store.Query, ms []store.Message) ([]store.Transfer, error) {
	if len(ms) > 0 && len(ms) == q.Limit && ms[0].At.After(q.Since) {
		q.Since = ms[0].At
	}
	q.Limit = allMessages // all of them, in that span
	return st.Transfers(ctx, q)
}

// historyEntry is one line of the listing: a message or a transfer.
type historyEntry struct {
	at       time.Time
	message  *store.Message
	transfer *store.Transfer
}

// mergeHistory puts messages and transfers in one listing by time, a
// message before a transfer of the same instant.
func mergeHistory(ms []store.Message, ts []store.Transfer) []historyEntry {
	es := make([]historyEntry, 0, len(ms)+len(ts))
	for i := range ms {
		es = append(es, historyEntry{at: ms[i].At, message: &ms[i]})
	}
	for i := range ts {
		es = append(es, historyEntry{at: ts[i].At, transfer: &ts[i]})
	}
	slices.SortStableFunc(es, func(a, b historyEntry) int { return a.at.Compare(b.at) })
	return es
}

// transferLine is a transfer as one line of history:
//
//	2026-11-25 09:14:03  -> 127.0.0.1:9002  [file done]  photo.jpg (3.1 MiB) to bob
//	2026-11-25 09:20:41  <- 127.0.0.1:9002  [file failed]  notes.txt (12 B) from bob: a block did not match the offer
//
// Everything from the peer (the names, the error) is escaped as messages are.
func transferLine(t store.Transfer) string {
	var b strings.Builder
	b.WriteString(t.At.Local().Format(historyTime))
	dir, to := "  <- ", "from"
	if t.Outgoing {
		dir, to = "  -> ", "to"
	}
	b.WriteString(dir)
	b.WriteString(termsafe.Line(t.Peer))
	fmt.Fprintf(&b, "  [file %s %s]  %s (%s)", t.State, hex.EncodeToString(t.ID[:4]), termsafe.Line(t.Name), humanize.IBytes(t.Size))
	if t.PeerName != "" {
		fmt.Fprintf(&b, " %s %s", to, termsafe.Line(t.PeerName))
	}
	switch {
	case t.Path != "":
		fmt.Fprintf(&b, ": %s", termsafe.Line(t.Path))
	case t.Error != "":
		fmt.Fprintf(&b, ": %s", termsafe.Line(t.Error))
	}
	return b.String()
}

// transferJSON is one transfer as history --json prints it: "type" says it
// is a file, not a message (which has no "type").
type transferJSON struct {
	Type      string `json:"type"` // "file"
	Time      string `json:"time"`
	Direction string `json:"direction"` // "out" or "in"
	Peer      string `json:"peer"`
	PeerName  string `json:"peer_name,omitempty"`
	ID        string `json:"id"`
	File      string `json:"file"`
	Size      uint64 `json:"size"`
	State     string `json:"state"` // offered, accepted, done, declined, failed
	Path      string `json:"path,omitempty"`
	Error     string `json:"error,omitempty"`
	UpdatedAt string `json:"updated_at"`
}

func jsonTransfer(t store.Transfer) transferJSON {
	j := transferJSON{
		Type: "file", Time: t.At.Format(time.RFC3339Nano), Direction: "in", Peer: t.Peer, PeerName: t.PeerName,
		ID: hex.EncodeToString(t.ID[:]), File: t.Name, Size: t.Size, State: string(t.State), Path: t.Path,
		Error: t.Error, UpdatedAt: t.UpdatedAt.Format(time.RFC3339Nano),
	}
	if t.Outgoing {
		j.Direction = "out"
	}
	return j
}
